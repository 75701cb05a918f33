import { useLab } from '../store';
import { duringTraining } from '../store/run-types';
import { runStatusLabel } from '../store/run-view';
import { baselineLine } from '../train/experiments';
import type { SkewDiagnostics } from '../train/diagnostics';
import { predictedOverObserved } from '../train/metrics';
import { RunCharts } from './charts';
import { ProgressLine, Section } from './controls';
import { CALIBRATION_HELP, fmt, fmtCompact, fmtDuration, fmtInt } from './format';

const PHASE_NAMES = {
  device: 'Opening the GPU',
  compile: 'Compiling shaders',
  prepare: 'Preparing data',
  train: 'Training',
  evaluate: 'Evaluating',
} as const;

export function TrainingPanel() {
  const session = useLab((s) => s.session);
  const startProblem = useLab((s) => s.startProblem);
  const webgpu = useLab((s) => s.webgpu);
  const config = useLab((s) => s.config);
  const canTrain = useLab((s) => s.dataset !== null && s.check.errors.length === 0 && s.webgpu.state !== 'unavailable' && s.evaluation === null);
  // The live run, else the most recent one.
  const run = useLab((s) => s.runs.find((r) => r.id === s.session.runId) ?? s.runs.at(-1) ?? null);
  const startTraining = useLab((s) => s.startTraining);
  const startComparison = useLab((s) => s.startComparison);
  const pauseTraining = useLab((s) => s.pauseTraining);
  const resumeTraining = useLab((s) => s.resumeTraining);
  const stopTraining = useLab((s) => s.stopTraining);
  const restartRun = useLab((s) => s.restartRun);
  const simulateDeviceLoss = useLab((s) => s.simulateDeviceLoss);
  const pauseWhenHidden = useLab((s) => s.pauseWhenHidden);
  const pausedWhileHidden = useLab((s) => s.pausedWhileHidden);
  const setPauseWhenHidden = useLab((s) => s.setPauseWhenHidden);

  const idle = session.state === 'idle';
  const paused = session.state === 'paused' || session.state === 'pausing';
  const last = run?.steps[run.steps.length - 1];
  const lastValid = run?.evals.filter(duringTraining).at(-1);
  const status = session.status;

  return (
    <Section
      id="training"
      title="Training"
      intro="Training runs on your GPU in a background worker, so this page stays responsive. Each run is saved with its configuration."
    >
      <div className="button-row" role="toolbar" aria-label="Training controls">
        <button type="button" className="primary" onClick={startTraining} disabled={!idle || !canTrain}>
          Start training
        </button>
        {paused ? (
          <button type="button" onClick={resumeTraining} disabled={session.state === 'pausing'}>
            Resume
          </button>
        ) : (
          <button type="button" onClick={pauseTraining} disabled={session.state !== 'running'}>
            Pause
          </button>
        )}
        <button type="button" onClick={stopTraining} disabled={idle || session.state === 'stopping'}>
          Stop
        </button>
        <button type="button" onClick={startComparison} disabled={!idle || !canTrain}>
          Train SW, then DTI (compare)
        </button>
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={pauseWhenHidden} onChange={(e) => setPauseWhenHidden(e.target.checked)} /> Pause training while this page is
        hidden (another tab or a minimized window); it resumes when you come back
      </label>
      {pausedWhileHidden && <p className="help">Paused because the page was hidden; it resumes when the page is shown.</p>}
      <p className="help">
        The comparison trains this configuration twice, as SW and as DTI, with the same {config.batchTargets} targets per optimizer step, for up to{' '}
        {config.epochs} epoch{config.epochs > 1 ? 's' : ''} each with the same early stopping (max steps is not used), and scores both on the same test
        targets.
      </p>
      {webgpu.state === 'unavailable' && <p className="help">Training needs WebGPU, which this browser does not offer (see the note at the top).</p>}
      {session.queue.length > 0 && <p className="help">Then: {session.queue.length} more run(s) of the comparison.</p>}
      {!idle && status && (
        <div data-testid="training-status">
          <ProgressLine
            label={`${PHASE_NAMES[status.phase]}: ${status.message}${session.state === 'paused' ? ' (paused)' : ''}`}
            fraction={status.fraction ?? null}
          />
        </div>
      )}
      {startProblem && (
        <div className="message error" role="alert">
          {startProblem}
        </div>
      )}
      {run ? (
        <>
          <p className="run-heading" data-testid="run-heading">
            <strong>{run.name}</strong> — {runStatusLabel(run, session.runId)}
            {run.adapter ? ` on ${run.adapter}` : ''}, data: {run.dataset.name}
          </p>
          {run.status === 'interrupted' && (
            <p className="help">
              This run was cut short (the page was reloaded or closed while it trained); its curves are kept up to its last save. It is not restarted on its
              own: use its configuration to train it again.
            </p>
          )}
          {run.error && run.status === 'failed' && (
            <div className="message error" role="alert" data-testid="run-error">
              <strong>The run failed ({run.error.kind}).</strong> {run.error.message}
              {(run.error.kind === 'device-lost' || run.error.kind === 'gpu-error') && (
                <p>
                  Its curves and every other run are kept. The GPU device is opened afresh for the next run.{' '}
                  <button type="button" className="primary" onClick={() => restartRun(run.id)} disabled={!idle || !canTrain}>
                    Restart on a new device
                  </button>
                </p>
              )}
            </div>
          )}
          <dl className="stats live-stats" data-testid="live-stats">
            <dt>Step</dt>
            <dd data-testid="live-step">
              {fmtInt(last?.step)} (epoch {fmtInt(last?.epoch)})
            </dd>
            <dt>Elapsed</dt>
            <dd>{fmtDuration(last?.elapsedMs)} of training</dd>
            <dt>Loss</dt>
            <dd>{fmt(last?.loss, 4)}</dd>
            <dt>Validation AUC</dt>
            <dd data-testid="valid-auc">{fmt(lastValid?.auc, 4)}</dd>
            <dt>Validation LogLoss</dt>
            <dd>{fmt(lastValid?.logLoss, 4)}</dd>
            <dt>Throughput</dt>
            <dd>
              {fmtCompact(last?.targetsPerSec)} targets/s, {fmtCompact(last?.tokensPerSec)} tokens/s
            </dd>
            {run.result && (
              <>
                {run.result.stopMessage && (
                  <>
                    <dt>Ended</dt>
                    <dd data-testid="stop-message">{run.result.stopMessage}</dd>
                  </>
                )}
                <dt>Test AUC / LogLoss</dt>
                <dd data-testid="test-metrics">
                  {fmt(run.result.test.auc, 4)}
                  {run.result.testAucInterval && Number.isFinite(run.result.testAucInterval.low)
                    ? ` (95 % CI ${fmt(run.result.testAucInterval.low, 4)}–${fmt(run.result.testAucInterval.high, 4)})`
                    : ''}{' '}
                  / {fmt(run.result.test.logLoss, 4)} on {fmtInt(run.result.test.count)} targets
                  {run.result.evalTargetsPerPrompt && run.result.evalTargetsPerPrompt > 1
                    ? `, scored ${run.result.evalTargetsPerPrompt} per prompt (exactly as SW prompts would: strict isolation, ${run.config.model.positionEncoding === 'none' ? 'no positions' : 'relative positions'})`
                    : ', each in its own SW prompt'}
                </dd>
                {run.result.baselines && (
                  <>
                    <dt>Baselines</dt>
                    <dd data-testid="baselines">{baselineLine(run.result.baselines)}</dd>
                  </>
                )}
                {run.result.diagnostics && (
                  <>
                    <dt>Train–serve skew</dt>
                    <dd data-testid="skew-diagnostics">
                      <SkewTable diagnostics={run.result.diagnostics} />
                    </dd>
                  </>
                )}
                <dt>Test calibration</dt>
                <dd data-testid="test-calibration" title={CALIBRATION_HELP}>
                  predicted CTR {fmt(run.result.test.meanPrediction, 3)} vs observed {fmt(run.result.test.clickRate, 3)} (
                  {fmt(predictedOverObserved(run.result.test), 2)}×), slope {fmt(run.result.test.calibrationSlope, 2)} (1 is calibrated, above 1
                  too timid, below 1 overconfident)
                </dd>
              </>
            )}
          </dl>
          {run.result?.warnings && run.result.warnings.length > 0 && (
            <div className="message warning" role="status" data-testid="run-warnings">
              <strong>Read these figures with care:</strong>
              <ul>
                {run.result.warnings.map((warning) => (
                  <li key={warning}>{warning}</li>
                ))}
              </ul>
            </div>
          )}
        </>
      ) : (
        <p className="help">No run yet. A tiny model on the small dataset trains in seconds on a laptop GPU.</p>
      )}
      <RunCharts run={run} />
      <details className="fault-injection">
        <summary>Robustness check</summary>
        <p className="help">
          Destroys the training worker’s GPU device mid-run, as a driver reset or a GPU crash would: the run is marked failed with the reason, and can be
          restarted on a new device.
        </p>
        <button type="button" onClick={simulateDeviceLoss} disabled={idle}>
          Simulate a GPU device loss
        </button>
      </details>
    </Section>
  );
}

/**
 * The kept weights' test targets scored at each slot of a DTI prompt (what training computed) against their served
 * SW prompt: the paper's two bottlenecks as numbers (src/train/diagnostics.ts).
 */
function SkewTable({ diagnostics: d }: { diagnostics: SkewDiagnostics }) {
  return (
    <>
      <p className="help">
        The same {fmtInt(d.targets)} test targets, each placed at slot s of a k = {d.k} prompt as training saw it, against its own
        sliding-window prompt as serving sees it. |Δlogit| splits into a positional part (where the target sits; 0 with relative
        positions) and a leakage part (what hidden states carry from outside its n = {d.n} window; 0 under strict).
      </p>
      <table>
        <thead>
          <tr>
            <th>slot</th>
            <th>mean |Δlogit|</th>
            <th>positional</th>
            <th>leakage</th>
            <th>test AUC</th>
            <th>interactions reaching [SUM]</th>
          </tr>
        </thead>
        <tbody>
          {d.slots.map((s) => (
            <tr key={s.slot}>
              <td>{s.slot === 1 ? '1 (served)' : s.slot}</td>
              <td>{fmt(s.skew, 4)}</td>
              <td>{fmt(s.positional, 4)}</td>
              <td>{fmt(s.leakage, 4)}</td>
              <td>{fmt(s.auc, 4)}</td>
              <td>{s.reach}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="help">
        Slot spread (one target’s logit across slots, mean sd) {fmt(d.slotSpread, 4)}; AUC at slot {d.slots.at(-1)!.slot} minus served{' '}
        {fmt(d.deepestAuc - d.servedAuc, 4)}
        {Number.isFinite(d.aucDifference.low) ? ` (paired 95 % CI ${fmt(d.aucDifference.low, 4)} to ${fmt(d.aucDifference.high, 4)})` : ''}, through{' '}
        {d.layers} layer{d.layers === 1 ? '' : 's'}.
      </p>
    </>
  );
}
