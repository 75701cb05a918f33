import { memo, useDeferredValue, useState } from 'react';
import { ROLE_LABEL, ROLE_SUM, TOKEN_LIKE } from '../prompt/types';
import { useLab } from '../store';
import type { PromptView as PromptViewData } from '../store/prompt-view';
import { Section } from './controls';
import { fmtInt } from './format';

/** Beyond this many tokens the prompt is summarised instead of drawn token by token (the mask view still draws it). */
const MAX_DRAWN_TOKENS = 3000;

export function PromptView() {
  // A new prompt (other n, k, user or data) is drawn in a deferred render, so the control that asked for it answers
  // at once; PromptDrawing is memoised to skip the urgent render while the old prompt is still shown.
  const view = useDeferredValue(useLab((s) => s.promptView));
  const problem = useLab((s) => s.promptViewProblem);
  if (!view) {
    return (
      <Section id="prompt-view" title="Prompt">
        <p className="help">{problem ?? 'Waiting for data…'}</p>
      </Section>
    );
  }
  return <PromptDrawing view={view} />;
}

const PromptDrawing = memo(function PromptDrawing({ view }: { view: PromptViewData }) {
  const paradigm = useLab((s) => s.config.paradigm);
  const showOtherPrompt = useLab((s) => s.showOtherPrompt);
  const showPositions = useLab((s) => s.showPositions);
  const setShowPositions = useLab((s) => s.setShowPositions);
  const inspection = useLab((s) => (s.inspection?.view === view ? s.inspection : null));
  const inspectedRun = useLab((s) => s.runs.find((r) => r.id === s.inspection?.runId)?.name ?? null);
  const running = useLab((s) => s.session.state !== 'idle');
  const [hovered, setHovered] = useState<number | null>(null);

  const { prompt, field, dataset: data } = view;
  const { n, k } = view.request;
  const vocab = data.vocab.tokens;
  const interactions = prompt.interactionStart.length - 1;
  const fieldTarget = field ? prompt.targets[field.target] : null;
  const windowStart = fieldTarget ? fieldTarget.interaction - n : 0;
  const user = data.users[view.userIndex];
  // P(click) of each target under the run's weights, by prompt-local interaction.
  const predicted = new Map<number, { p: number; label: number }>();
  if (inspection) prompt.targets.forEach((target, j) => predicted.set(target.interaction, { p: inspection.probs[j], label: target.label }));
  const describe = (i: number) =>
    `${i < n ? `Context ${i + 1}` : `Target ${i - n + 1}`}: ${data.itemTitles[user.items[prompt.firstHistoryIndex + i]]} — ${view.interactionText[i]}`;

  return (
    <Section
      id="prompt-view"
      title="Prompt"
      intro={
        <>
          One real {paradigm === 'sw' ? 'sliding-window' : 'DTI'} training prompt of user {user.userId}: {n} context interactions, then {prompt.targets.length}{' '}
          target{prompt.targets.length === 1 ? '' : 's'}
          {prompt.targets.length < k ? ` (this user has only ${prompt.targets.length} training targets in a row)` : ''}; {fmtInt(prompt.tokens.length)} tokens. P(click) of each
          target is read at its [SUM]; its own label comes after, so it is hidden from its own prediction.
        </>
      }
      actions={
        <div className="button-row">
          <label className="checkbox">
            <input type="checkbox" checked={showPositions} onChange={(e) => setShowPositions(e.target.checked)} /> Show each token’s position index
          </label>
          <button type="button" onClick={() => showOtherPrompt(-1)} aria-label="Previous user’s prompt">
            ← Previous user
          </button>
          <button type="button" onClick={() => showOtherPrompt(1)} aria-label="Next user’s prompt">
            Next user →
          </button>
        </div>
      }
    >
      <ul className="legend" aria-label="Token colours">
        <li><span className="swatch tok-context" /> context item word</li>
        <li><span className="swatch tok-target" /> target item word</li>
        <li><span className="swatch tok-sum" /> [SUM] (prediction read here)</li>
        <li><span className="swatch tok-like" /> [LIKE] label</li>
        <li><span className="swatch tok-dislike" /> [DISLIKE] label</li>
        <li><span className="prediction right">P 0.73 ✓</span> the model’s P(click), while a run trains</li>
        {field && <li><span className="swatch reach" /> reaches the chosen target</li>}
        {field && <li><span className="swatch leak" /> reaches it from outside its window (leakage)</li>}
      </ul>
      {(inspection || running) && (
        <p className="help" data-testid="prompt-predictions">
          {inspection
            ? `${inspection.final ? `P(click) of each target by ${inspectedRun ?? 'the run'}'s kept weights` : `P(click) of each target by ${inspectedRun ?? 'the run'} at step ${inspection.step}, read again every few seconds while it trains`}: ✓ on the right side of 0.5 for its label, ✗ not.`
            : 'The run in progress scores this prompt every few seconds: its P(click) of each target appears here.'}
        </p>
      )}
      {prompt.tokens.length > MAX_DRAWN_TOKENS ? (
        <p className="help">This prompt has {fmtInt(prompt.tokens.length)} tokens: too many to draw one by one. Lower n or k to see its tokens.</p>
      ) : (
        <div className={`prompt-tokens${showPositions ? ' with-positions' : ''}`} data-testid="prompt-tokens" onMouseLeave={() => setHovered(null)}>
          {Array.from({ length: interactions }, (_, i) => {
            const start = prompt.interactionStart[i];
            const end = prompt.interactionStart[i + 1];
            const isTarget = i >= n;
            return (
              <span
                key={i}
                className={`interaction ${isTarget ? 'target' : 'context'}${hovered === i ? ' hovered' : ''}${field && i < windowStart ? ' outside-window' : ''}`}
                title={describe(i)}
                onMouseEnter={() => setHovered(i)}
              >
                {Array.from({ length: end - start }, (_, j) => {
                  const t = start + j;
                  const role = prompt.role[t];
                  const kind = role === ROLE_SUM ? 'tok-sum' : role === ROLE_LABEL ? (prompt.tokens[t] === TOKEN_LIKE ? 'tok-like' : 'tok-dislike') : isTarget ? 'tok-target' : 'tok-context';
                  const reach = field?.field[t] ? (i < windowStart ? ' leak' : ' reach') : '';
                  return (
                    <span key={t} className={`token ${kind}${reach}`}>
                      {vocab[prompt.tokens[t]]}
                      {showPositions && <sub>{prompt.position[t]}</sub>}
                    </span>
                  );
                })}
                {predicted.has(i) && <Prediction {...predicted.get(i)!} />}
              </span>
            );
          })}
        </div>
      )}
      <p className="hover-line" aria-live="polite">
        {hovered !== null ? describe(hovered) : 'Hover an interaction to read it as text.'}
      </p>
      {showPositions && (
        <div className="table-scroll">
          <table className="positions-table">
            <caption>Position of each target’s [SUM]: in this prompt, and in the target’s own sliding-window prompt</caption>
            <thead>
              <tr>
                <th scope="col">Target</th>
                <th scope="col">Absolute position here</th>
                <th scope="col">Position in its SW prompt</th>
                <th scope="col">Shift</th>
              </tr>
            </thead>
            <tbody>
              {view.targetPositions.map((p, j) => (
                <tr key={j}>
                  <td>{j + 1}</td>
                  <td>{p.dti}</td>
                  <td>{p.sw}</td>
                  <td>{p.dti - p.sw}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <details>
        <summary>All interactions of this prompt as text</summary>
        <ol className="interaction-list">
          {Array.from({ length: interactions }, (_, i) => (
            <li key={i}>{describe(i)}</li>
          ))}
        </ol>
      </details>
    </Section>
  );
});

/** A target's P(click), and whether it falls on its label's side of 0.5 (a mark, not only a colour). */
function Prediction({ p, label }: { p: number; label: number }) {
  const right = p >= 0.5 === label > 0.5;
  return (
    <span className={`prediction ${right ? 'right' : 'wrong'}`} data-testid="target-prediction" title={`P(click) ${p.toFixed(3)}; the label is ${label ? 'a click' : 'no click'}`}>
      P {p.toFixed(2)} {right ? '✓' : '✗'}
    </span>
  );
}
