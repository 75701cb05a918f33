/**
 * Explain mode: the guided walk. The store applies each step to the real configuration; this panel says what to look
 * at, with numbers counted on the loaded data and measured by the runs.
 */
import { type ReactNode, useEffect } from 'react';
import { ISOLATION_LEVELS, POSITION_ENCODINGS } from '../prompt/types';
import { useLab } from '../store';
import { compareRuns } from '../store/compare';
import { EXPLAIN_STEPS, type ExplainFacts } from '../store/explain';
import type { PromptView } from '../store/prompt-view';
import type { RunRecord } from '../store/run-types';
import type { TrainConfig } from '../train/protocol';
import { fmt, fmtCompact, fmtDuration, fmtInt, fmtPercent } from './format';

export function ExplainPanel() {
  const explain = useLab((s) => s.explain);
  const facts = useLab((s) => s.explainFacts);
  const view = useLab((s) => s.promptView);
  const config = useLab((s) => s.config);
  const runs = useLab((s) => s.runs);
  const goTo = useLab((s) => s.goToExplainStep);
  const close = useLab((s) => s.closeExplain);
  const step = EXPLAIN_STEPS[explain.step];

  useEffect(() => {
    if (explain.open) document.getElementById(step.focus)?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }, [explain.open, step.focus]);

  if (!explain.open) return null;
  const last = explain.step === EXPLAIN_STEPS.length - 1;
  return (
    <aside className="explain" aria-labelledby="explain-title" data-testid="explain">
      <header className="panel-header">
        <h2 id="explain-title">
          Explain DTI — step {explain.step + 1} of {EXPLAIN_STEPS.length}: {step.title}
        </h2>
        <button type="button" onClick={() => close(true)} aria-label="Leave the walk and restore my configuration">
          Leave
        </button>
      </header>
      <div className="explain-body" aria-live="polite">
        {facts && view ? <StepText id={step.id} facts={facts} view={view} config={config} runs={runs} /> : <p>Waiting for data…</p>}
      </div>
      <nav className="button-row" aria-label="Walk steps">
        <button type="button" onClick={() => goTo(explain.step - 1)} disabled={explain.step === 0}>
          ← Back
        </button>
        <ol className="step-dots">
          {EXPLAIN_STEPS.map((s, i) => (
            <li key={s.id}>
              <button type="button" aria-current={i === explain.step ? 'step' : undefined} aria-label={`Step ${i + 1}: ${s.title}`} onClick={() => goTo(i)}>
                {i + 1}
              </button>
            </li>
          ))}
        </ol>
        {last ? (
          <button type="button" onClick={() => close(false)}>
            Finish (keep this configuration)
          </button>
        ) : (
          <button type="button" className="primary" onClick={() => goTo(explain.step + 1)}>
            Next →
          </button>
        )}
      </nav>
    </aside>
  );
}

/** Buttons that change one setting in place, so a step can be explored without leaving it. */
function Choice<T extends string>({ label, options, value, onPick }: { label: string; options: readonly T[]; value: T; onPick: (v: T) => void }) {
  return (
    <div className="button-row choice" role="group" aria-label={label}>
      <span>{label}:</span>
      {options.map((o) => (
        <button key={o} type="button" aria-pressed={o === value} onClick={() => onPick(o)}>
          {o}
        </button>
      ))}
    </div>
  );
}

function StepText({ id, facts, view, config, runs }: { id: (typeof EXPLAIN_STEPS)[number]['id']; facts: ExplainFacts; view: PromptView; config: TrainConfig; runs: RunRecord[] }) {
  const setConfig = useLab((s) => s.setConfig);
  const setModel = useLab((s) => s.setModel);
  const setFieldTarget = useLab((s) => s.setFieldTarget);
  const startComparison = useLab((s) => s.startComparison);
  const applyModelPreset = useLab((s) => s.applyModelPreset);
  const sessionIdle = useLab((s) => s.session.state === 'idle');
  const { sw, dti, n, k } = facts;
  const reuse = sw.tokens / Math.max(1, facts.distinctTokens);
  const levelChoice = <Choice label="Isolation level" options={ISOLATION_LEVELS} value={config.isolation} onPick={(isolation) => setConfig({ isolation })} />;
  let text: ReactNode;
  switch (id) {
    case 'sw-prompt':
      text = (
        <>
          <p>
            A CTR model reads a user’s recent history and a candidate item, and predicts “click or not” at the [SUM] token. The prompt view shows one real prompt:
            the user’s n = {n} previous interactions (blue), then one target (orange), then its label — which the model may not see while predicting.
          </p>
          <p>This is the <strong>sliding window (SW)</strong>: every target gets a prompt of its own. Hover an interaction to read it.</p>
        </>
      );
      break;
    case 'repeated-work':
      text = (
        <>
          <p>
            On this dataset SW builds <strong>{fmtInt(sw.prompts)} prompts</strong> per epoch, one per training target, of {fmt(sw.tokensPerTarget, 1)} tokens each on
            average: <strong>{fmtCompact(sw.tokens)} tokens</strong> an epoch.
          </p>
          <p>
            The interactions those prompts read hold only {fmtCompact(facts.distinctTokens)} tokens: each is encoded about <strong>{fmt(reuse, 1)} times</strong>, once
            in each of the next n prompts. That repeated work is what DTI removes.
          </p>
        </>
      );
      break;
    case 'packing':
      text = (
        <>
          <p>
            DTI keeps the context and appends k = {k} targets: {fmtInt(dti.prompts)} prompts, {fmt(dti.tokensPerTarget, 1)} tokens per target instead of{' '}
            {fmt(sw.tokensPerTarget, 1)} — <strong>{fmt(sw.tokensPerTarget / dti.tokensPerTarget, 1)}× less input per target</strong> ({fmtCompact(dti.tokens)} tokens an
            epoch).
          </p>
          <p>
            But with plain causal attention (“full-causal”, now in the mask) target {k} sees every earlier target and its label: it trains on a longer history than SW
            will serve it with. The mask view shows it: every cell below the diagonal is allowed.
          </p>
        </>
      );
      break;
    case 'window-mask':
      text = (
        <>
          <p>
            The <strong>window</strong> rule gives each token its own interaction and the n = {n} before it, whatever its place in the prompt: in the mask, the amber cells
            (“blocked: outside the n-interaction window” in the legend) are the history a target must not use. Hover a cell to see which tokens it joins and why.
          </p>
          <p>
            The kernel never needs the L×L matrix: it skips whole {view.tiles.tile}×{view.tiles.tile} tiles outside the window (striped):{' '}
            <strong>{fmtPercent(view.tiles.skippedFraction, 0)} of the tiles</strong> of a dense causal kernel are skipped on this prompt.
          </p>
          {levelChoice}
        </>
      );
      break;
    case 'leakage': {
      const field = view.field;
      text = (
        <>
          <p>
            The window limits what each token reads <em>directly</em>. But a context token at layer 1 already mixes its own window, so at layer 2 the target’s [SUM]
            reads information from up to 2n interactions back — and earlier [SUM]s carry summaries of their own windows. The overlay (black and red marks above the
            mask, outlined tokens in the prompt) follows every path to the last target through {config.model.nLayers} layers.
          </p>
          <p>
            {field ? (
              field.leaked > 0 ? (
                <strong className="invalid">
                  {fmtInt(field.leaked)} tokens from outside its window reach it under “{config.isolation}”.
                </strong>
              ) : (
                <strong>Under “{config.isolation}” nothing outside the window reaches it.</strong>
              )
            ) : (
              'Choose a target in the mask view.'
            )}{' '}
            Switch to <em>sum-isolated</em> (no [SUM] reads another [SUM]) and to <em>strict</em> (item and label tokens read only their own interaction): under strict
            the leakage disappears, and each target computes exactly what its own SW prompt would.
          </p>
          <p>
            A softer fix, <strong>distance-based forgetting</strong> (the lab’s reconstruction of the paper’s third fix): every head weighs a key d interactions back
            by e^(−slope·d), so what leaks from far back arrives faded rather than cut. The paths still exist (the overlay does not change); hover an allowed cell
            to see its weight. Forgetting is relative, so strict with forgetting still equals SW.
          </p>
          {levelChoice}
          <Choice label="Forgetting" options={['off', 'on'] as const} value={config.model.forgetting ? 'on' : 'off'} onPick={(choice) => setModel({ forgetting: choice === 'on' })} />
          <button type="button" onClick={() => setFieldTarget(Number.MAX_SAFE_INTEGER)}>
            Follow the last target
          </button>
        </>
      );
      break;
    }
    case 'positions': {
      const first = view.targetPositions[0];
      const lastTarget = view.targetPositions[view.targetPositions.length - 1];
      text = (
        <>
          <p>
            Where do targets sit? In its own SW prompt a target’s [SUM] is at about position {first?.sw}. Here target 1 is at {first?.dti} and target{' '}
            {view.targetPositions.length} at <strong>{lastTarget?.dti}</strong> (the table under the prompt lists them all).
          </p>
          <p>
            With <strong>learned absolute</strong> positions the model sees targets at positions it will never see when serving, and can learn position instead of
            content. <strong>RoPE</strong> and <strong>ALiBi</strong> only see distances between tokens, which under strict isolation are the same as in SW.
          </p>
          <Choice label="Position encoding" options={POSITION_ENCODINGS} value={config.model.positionEncoding} onPick={(positionEncoding) => setModel({ positionEncoding })} />
        </>
      );
      break;
    }
    case 'result': {
      const latest = (paradigm: 'sw' | 'dti') => [...runs].reverse().find((r) => r.config.paradigm === paradigm && r.result && !r.result.stopped);
      const pair = [latest('sw'), latest('dti')].filter((r): r is RunRecord => r !== undefined);
      const rows = pair.length === 2 ? compareRuns(pair, pair[0].id) : [];
      text = (
        <>
          <p>Now measure it on your GPU: train the same model as SW and as DTI (k = {k}, strict, RoPE) and compare wall-clock and test AUC.</p>
          {rows.length === 2 ? (
            <p data-testid="explain-result">
              Latest pair: SW took {fmtDuration(rows[0].trainMs)} for test AUC {fmt(rows[0].testAuc, 4)}; DTI took {fmtDuration(rows[1].trainMs)} for{' '}
              {fmt(rows[1].testAuc, 4)} — <strong>{rows[1].speedUp ? `${rows[1].speedUp.toFixed(1)}× faster` : 'speed-up unknown'}</strong>, ΔAUC{' '}
              {rows[1].aucDelta === null ? '–' : `${rows[1].aucDelta >= 0 ? '+' : ''}${rows[1].aucDelta.toFixed(4)}`}. The runs panel has the details.
            </p>
          ) : (
            <p>No finished SW and DTI runs yet.</p>
          )}
          <div className="button-row">
            <button type="button" onClick={() => applyModelPreset('tiny')}>
              Use the tiny model (fast)
            </button>
            <button type="button" className="primary" onClick={() => startComparison()} disabled={!sessionIdle}>
              Train SW, then DTI
            </button>
          </div>
          <p className="help">
            On one small dataset and seed, differences in AUC of a few thousandths are noise: repeat with other seeds before concluding. If DTI’s LogLoss is
            worse at a similar AUC, look at the calibration slope in the comparison: DTI takes about k times fewer optimizer steps, and its predictions can
            stay bunched near one value (a slope far above 1) while still ranking well; more epochs help.
          </p>
        </>
      );
      break;
    }
  }
  return <>{text}</>;
}
