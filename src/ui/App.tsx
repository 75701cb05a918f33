import { useEffect } from 'react';
import { bindPageVisibility, useLab, useLabStore } from '../store';
import { ConfigPanel } from './ConfigPanel';
import { DatasetPanel } from './DatasetPanel';
import { ExplainPanel } from './ExplainPanel';
import { MaskView } from './MaskView';
import { PromptView } from './PromptView';
import { RunsPanel } from './RunsPanel';
import { SweepPanel } from './SweepPanel';
import { TrainingPanel } from './TrainingPanel';
import { WebGpuNotice } from './WebGpuNotice';

export function App() {
  const linkProblems = useLab((s) => s.linkProblems);
  const dismissLinkProblems = useLab((s) => s.dismissLinkProblems);
  const explainOpen = useLab((s) => s.explain.open);
  const explainStep = useLab((s) => s.explain.step);
  const openExplain = useLab((s) => s.openExplain);
  const store = useLabStore();
  useEffect(() => bindPageVisibility(store, document), [store]);

  return (
    <div className={`app${explainOpen ? ' explaining' : ''}`}>
      <header className="app-header">
        <div>
          <h1>DTI Lab</h1>
          <p className="tagline">Train a small transformer for click-through-rate prediction on your GPU, and see how Dynamic Target Isolation makes it cheaper.</p>
        </div>
        <div className="header-actions">
          <GpuChip />
          <button type="button" className="primary" onClick={openExplain} disabled={explainOpen}>
            {explainStep > 0 ? `Resume the DTI walk (step ${explainStep + 1})` : 'Explain DTI (guided walk)'}
          </button>
        </div>
      </header>
      <WebGpuNotice />
      {linkProblems.length > 0 && (
        <div className="message note banner" role="status">
          <strong>Some values of this link could not be used:</strong>
          <ul>
            {linkProblems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
          <button type="button" onClick={dismissLinkProblems}>
            Dismiss
          </button>
        </div>
      )}
      {/* One screen on a wide display: data and configuration in a side column that scrolls on its own, the prompt and
          its mask in the middle, training and its live curves on the right, the runs below. A narrow screen reads it
          in the order the lab is explained: the prompt, its mask, training, then the data and configuration. */}
      <div className="layout">
        <div className="work">
          {/* Its own box, so that the training column stays in view beside the views only, never over the runs. */}
          <div className="bench">
            <main className="views">
              <PromptView />
              <MaskView />
            </main>
            <div className="training-column">
              <TrainingPanel />
            </div>
          </div>
          <div className="results">
            <RunsPanel />
            <SweepPanel />
          </div>
        </div>
        <div className="sidebar">
          <DatasetPanel />
          <ConfigPanel />
        </div>
      </div>
      <ExplainPanel />
    </div>
  );
}

/** Its own component: the adapter is reported again at each run's start, and only this chip shows it. */
function GpuChip() {
  const webgpu = useLab((s) => s.webgpu);
  return (
    <span className={`gpu-chip ${webgpu.state}`} role="status" title={webgpu.message}>
      {webgpu.state === 'checking' ? 'Checking WebGPU…' : webgpu.state === 'available' ? `WebGPU: ${webgpu.message}` : 'No WebGPU'}
    </span>
  );
}
