import { type KeyboardEvent, type MouseEvent, memo, useDeferredValue, useEffect, useRef, useState } from 'react';
import { CELL_REASONS } from '../prompt/dense-mask';
import { ROLE_LABEL, ROLE_SUM, TOKEN_LIKE, type PackedPrompt } from '../prompt/types';
import { useLab } from '../store';
import type { PromptView } from '../store/prompt-view';
import type { Inspection } from '../store/types';
import { Section } from './controls';
import { fmtCompact, fmtInt, fmtPercent } from './format';
import { LEGEND_REASONS, REASON_STYLE, describeToken, explainCell, forgettingNote, paintAttention, paintMask, reasonHex } from './mask-picture';

/** Width in CSS pixels of the token strips drawn above and left of the mask. */
const STRIP = 16;
const MAX_SIZE = 560;
/** The picture's most height, as a share of the window's. */
const MAX_HEIGHT_SHARE = 0.38;

const TOKEN_COLORS = {
  context: '#9ecae1',
  target: '#fdae6b',
  sum: '#6a51a3',
  like: '#31a354',
  dislike: '#de2d26',
  reach: '#111111',
  leak: '#d62728',
} as const;

function tokenColor(prompt: PackedPrompt, n: number, t: number): string {
  const role = prompt.role[t];
  if (role === ROLE_SUM) return TOKEN_COLORS.sum;
  if (role === ROLE_LABEL) return prompt.tokens[t] === TOKEN_LIKE ? TOKEN_COLORS.like : TOKEN_COLORS.dislike;
  return prompt.interaction[t] < n ? TOKEN_COLORS.context : TOKEN_COLORS.target;
}

export function MaskView() {
  // Drawn in a deferred render like the prompt view (see PromptView), from the view's own request and data.
  const view = useDeferredValue(useLab((s) => s.promptView));
  if (!view) {
    return (
      <Section id="mask-view" title="Attention mask">
        <p className="help">The mask appears once a prompt can be packed.</p>
      </Section>
    );
  }
  return <MaskDrawing view={view} />;
}

const MaskDrawing = memo(function MaskDrawing({ view }: { view: PromptView }) {
  const fieldTarget = useLab((s) => s.fieldTarget);
  const setFieldTarget = useLab((s) => s.setFieldTarget);
  const forgetting = useLab((s) => s.config.model.forgetting);
  const [showSkipped, setShowSkipped] = useState(true);
  const inspectHead = useLab((s) => s.inspectHead);
  const setInspectHead = useLab((s) => s.setInspectHead);
  const inspection = useLab((s) => (s.inspection?.view === view ? s.inspection : null));
  // The layers and heads to choose from are the run's (the one training, else the one inspected last).
  const runModel = useLab((s) => s.runs.find((r) => r.id === (s.session.runId ?? s.inspection?.runId))?.config.model ?? null);

  const { tiles, field, prompt, request } = view;
  const vocab = view.dataset.vocab.tokens;
  const L = prompt.tokens.length;
  const causalCells = (L * (L + 1)) / 2;
  const layers = request.layers;
  const chosen = field ? field.target : null;
  // The run's attention is drawn over this picture only when both follow the same rule (n and level).
  const sameRule = inspection !== null && inspection.n === request.n && inspection.isolation === request.level;
  const attention = inspectHead.show && sameRule ? inspection : null;
  const attentionNote = !runModel
    ? 'Attention: train a run.'
    : !inspection
      ? 'The run reads this prompt every few seconds; its attention appears when it has.'
      : !sameRule
        ? `The run attends under n = ${inspection.n}, ${inspection.isolation}; this picture shows n = ${request.n}, ${request.level}: set them alike to draw its attention.`
        : `Layer ${inspection.layer + 1}, head ${inspection.head + 1} at step ${inspection.step}${inspection.final ? ' (the kept weights)' : ''}: darker = more of the query's attention (each row scaled to its largest weight).`;

  return (
    <Section
      id="mask-view"
      title="Attention mask"
      intro="Row = query, column = key token of the prompt above: may the query attend the key? Hover a cell for why."
    >
      <div className="mask-toolbar">
        <label className="checkbox">
          <input type="checkbox" checked={showSkipped} onChange={(e) => setShowSkipped(e.target.checked)} /> Stripe the tiles the kernel skips
        </label>
        <div className="field inline">
          <label htmlFor="field-target">Receptive field of</label>
          <select
            id="field-target"
            value={chosen === null ? '' : String(chosen)}
            onChange={(e) => setFieldTarget(e.target.value === '' ? null : Number(e.target.value))}
            aria-describedby="field-target-help"
          >
            <option value="">no target</option>
            {prompt.targets.map((_, j) => (
              <option key={j} value={j}>
                target {j + 1}
              </option>
            ))}
          </select>
        </div>
        <label className="checkbox">
          <input type="checkbox" checked={inspectHead.show} onChange={(e) => setInspectHead({ show: e.target.checked })} /> Draw the model’s attention:
        </label>
        <div className="field inline" data-testid="attention-controls">
          <IndexSelect id="inspect-layer" label="layer" count={runModel?.nLayers ?? 1} value={inspectHead.layer} disabled={!runModel} onChange={(layer) => setInspectHead({ layer })} />
          <IndexSelect id="inspect-head" label="head" count={runModel?.nHeads ?? 1} value={inspectHead.head} disabled={!runModel} onChange={(head) => setInspectHead({ head })} />
        </div>
      </div>
      <p className="help mask-notes">
        <span id="field-target-help">
          Receptive field: tokens reaching the target’s [SUM] in {layers} layer{layers > 1 ? 's' : ''}.
        </span>{' '}
        <span data-testid="attention-note">{attentionNote}</span>
      </p>
      {fieldTarget !== null && field === null && view.reasons !== null && <p className="help">This prompt has no target to follow.</p>}
      <div className="mask-body">
        {view.reasons ? (
          <MaskCanvas view={view} n={request.n} level={request.level} vocab={vocab} showSkipped={showSkipped} attention={attention} />
        ) : (
          <p className="message note">
            This prompt has {fmtInt(L)} tokens: too many to draw as an L×L picture or to trace its receptive field here. Lower n or k to see them.
          </p>
        )}
        <ul className="legend mask-legend" aria-label="Mask colours">
          {LEGEND_REASONS.map((reason) => (
            <li key={reason}>
              <span className="swatch" style={{ background: reasonHex(reason) }} /> {REASON_STYLE[reason].label}
            </li>
          ))}
          {showSkipped && (
            <li>
              <span className="swatch striped" /> key tile the kernel skips
            </li>
          )}
          {forgetting && <li data-testid="mask-forgetting">forgetting on: an allowed key d interactions back weighs e^(−slope·d) less (hover a cell)</li>}
          {field && (
            <>
              <li>
                <span className="swatch" style={{ background: TOKEN_COLORS.reach }} /> top bar: token reaches the target’s [SUM]
              </li>
              <li>
                <span className="swatch" style={{ background: TOKEN_COLORS.leak }} /> reaches it from before its window (leakage)
              </li>
            </>
          )}
        </ul>
      </div>
      <dl className="stats mask-stats" data-testid="mask-stats">
        <dt>Allowed cells</dt>
        <dd>
          {fmtInt(view.allowedCells)} of the {fmtInt(causalCells)} a dense causal mask allows ({fmtPercent(view.allowedCells / causalCells, 1)})
        </dd>
        <dt>Kernel tiles ({tiles.tile}×{tiles.tile})</dt>
        <dd>
          visits {fmtInt(tiles.visited)} of the {fmtInt(tiles.causal)} key tiles a dense causal kernel visits: <strong>{fmtPercent(tiles.skippedFraction, 1)} skipped</strong>
        </dd>
        <dt>Attention FLOPs (forward)</dt>
        <dd>
          {fmtCompact(tiles.kernelFlops * layers)} vs {fmtCompact(tiles.causalFlops * layers)} dense causal over {layers} layer{layers > 1 ? 's' : ''} (d_model{' '}
          {request.dModel}):{' '}
          {tiles.kernelFlops <= tiles.causalFlops
            ? `saves ${fmtCompact((tiles.causalFlops - tiles.kernelFlops) * layers)} (${fmtPercent(1 - tiles.kernelFlops / tiles.causalFlops, 1)})`
            : `costs ${fmtCompact((tiles.kernelFlops - tiles.causalFlops) * layers)} more (${fmtPercent(tiles.kernelFlops / tiles.causalFlops - 1, 1)}): it computes whole 4×4 blocks of scores, and in this prompt its blocks add up to more than a dense causal kernel's`}
        </dd>
        <dt>Why the two differ</dt>
        <dd data-testid="tiles-vs-flops">
          a {tiles.tile}×{tiles.tile} tile is skipped only when no query of its rows may read any of its keys; the FLOPs count the kernel’s own 4×4 blocks of
          scores, so they also drop the blocks outside each row’s key range inside the tiles it visits{request.level === 'strict' ? ', and the [SUM] rows no target reads' : ''}.
        </dd>
        {field && (
          <>
            <dt>Receptive field</dt>
            <dd data-testid="field-summary">
              target {field.target + 1}’s [SUM] is reached by {fmtInt(field.reached)} tokens through {layers} layer{layers > 1 ? 's' : ''};{' '}
              {field.leaked > 0 ? (
                <strong className="invalid">{fmtInt(field.leaked)} of them lie before its {request.n}-interaction window: hidden-state leakage</strong>
              ) : (
                <strong>none lies outside its window: no leakage</strong>
              )}
            </dd>
          </>
        )}
      </dl>
    </Section>
  );
});

function MaskCanvas({
  view,
  n,
  level,
  vocab,
  showSkipped,
  attention,
}: {
  view: PromptView;
  n: number;
  level: Parameters<typeof explainCell>[3];
  vocab: readonly string[];
  showSkipped: boolean;
  /** The run's attention to draw instead of the plain mask, when it follows the picture's rule. */
  attention: Inspection | null;
}) {
  const { prompt, reasons, field, tiles } = view;
  const model = useLab((s) => s.config.model);
  const L = prompt.tokens.length;
  const containerRef = useRef<HTMLDivElement>(null);
  const baseRef = useRef<HTMLCanvasElement>(null);
  const overlayRef = useRef<HTMLCanvasElement>(null);
  const [size, setSize] = useState(480);
  const [cursor, setCursor] = useState<{ q: number; p: number } | null>(null);

  useEffect(() => {
    const container = containerRef.current;
    if (!container) return;
    // As wide as the column allows, and short enough to leave the prompt above it on the screen.
    const measure = () => setSize(Math.max(120, Math.min(MAX_SIZE, container.clientWidth - STRIP * 2 - 4, Math.round(globalThis.innerHeight * MAX_HEIGHT_SHARE))));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(container);
    globalThis.addEventListener('resize', measure);
    return () => {
      observer.disconnect();
      globalThis.removeEventListener('resize', measure);
    };
  }, []);

  // The mask itself: one pixel per cell at native resolution, scaled by CSS (pixelated), never one DOM node per cell.
  useEffect(() => {
    const canvas = baseRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || !reasons) return;
    canvas.width = L;
    canvas.height = L;
    const pixels = attention ? paintAttention(reasons, attention.attention, L) : paintMask(reasons, L, showSkipped ? tiles : null);
    ctx.putImageData(new ImageData(pixels, L, L), 0, 0);
  }, [reasons, L, tiles, showSkipped, attention]);

  // Overlay at screen resolution: token strips, tile grid, receptive field, cursor.
  useEffect(() => {
    const canvas = overlayRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const dpr = globalThis.devicePixelRatio || 1;
    const total = size + STRIP * 2;
    canvas.width = Math.round(total * dpr);
    canvas.height = Math.round(total * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, total, total);
    const cell = size / L;
    const origin = STRIP * 2;
    // Role strips: keys along the top, queries along the left.
    for (let t = 0; t < L; t++) {
      ctx.fillStyle = tokenColor(prompt, n, t);
      ctx.fillRect(origin + t * cell, STRIP, Math.max(cell, 0.5), STRIP - 2);
      ctx.fillRect(STRIP, origin + t * cell, STRIP - 2, Math.max(cell, 0.5));
    }
    if (field) {
      const target = prompt.targets[field.target];
      const windowStart = target.interaction - n;
      for (let t = 0; t < L; t++) {
        if (!field.field[t]) continue;
        ctx.fillStyle = prompt.interaction[t] < windowStart ? TOKEN_COLORS.leak : TOKEN_COLORS.reach;
        ctx.fillRect(origin + t * cell, 0, Math.max(cell, 0.5), STRIP - 3);
      }
      // The target's [SUM] row.
      ctx.strokeStyle = TOKEN_COLORS.reach;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(origin, origin + target.sumPos * cell, size, Math.max(cell, 1));
    }
    // Tile grid of the attention kernel.
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.25)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let b = tiles.tile; b < L; b += tiles.tile) {
      ctx.moveTo(origin + b * cell, origin);
      ctx.lineTo(origin + b * cell, origin + size);
      ctx.moveTo(origin, origin + b * cell);
      ctx.lineTo(origin + size, origin + b * cell);
    }
    ctx.stroke();
    if (cursor) {
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 2;
      const box = Math.max(cell, 4);
      ctx.strokeRect(origin + cursor.p * cell - (box - cell) / 2, origin + cursor.q * cell - (box - cell) / 2, box, box);
    }
  }, [size, L, prompt, n, field, tiles, cursor]);

  const cellAt = (event: MouseEvent) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const x = event.clientX - rect.left - STRIP * 2;
    const y = event.clientY - rect.top - STRIP * 2;
    if (x < 0 || y < 0 || x >= size || y >= size) return null;
    return { q: Math.floor((y / size) * L), p: Math.floor((x / size) * L) };
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const from = cursor ?? { q: 0, p: 0 };
    const step = event.shiftKey ? 10 : 1;
    setCursor({ q: Math.min(L - 1, Math.max(0, from.q + move[0] * step)), p: Math.min(L - 1, Math.max(0, from.p + move[1] * step)) });
  };

  let description = 'Hover a cell (or focus the picture and use the arrow keys) to see which query and key it joins, and why.';
  if (cursor && reasons) {
    const reason = CELL_REASONS[reasons[cursor.q * L + cursor.p]];
    const forgetting = reason === 'allowed' && model.forgetting ? forgettingNote(prompt.interaction[cursor.q] - prompt.interaction[cursor.p], model.nHeads) : null;
    const weight = attention && reason === 'allowed' ? `; the model gives it ${attention.attention[cursor.q * L + cursor.p].toFixed(3)} of the query's attention` : '';
    description = `Query ${describeToken(prompt, n, vocab, cursor.q)} → key ${describeToken(prompt, n, vocab, cursor.p)}: ${explainCell(reason, prompt, n, level, cursor.q, cursor.p)}${forgetting ? `; ${forgetting}` : ''}${weight}.`;
  }

  const total = size + STRIP * 2;
  return (
    <div ref={containerRef} className="mask-container">
      <div
        className="mask-figure"
        style={{ width: total, height: total }}
        tabIndex={0}
        role="img"
        aria-label={`Attention mask of ${L} by ${L} tokens. Arrow keys move between cells; the description below says why each is allowed or blocked.`}
        aria-describedby="mask-hover"
        onMouseMove={(event) => setCursor(cellAt(event))}
        onMouseLeave={() => setCursor(null)}
        onKeyDown={onKeyDown}
        data-testid="mask-figure"
      >
        <canvas ref={baseRef} className="mask-base" style={{ left: STRIP * 2, top: STRIP * 2, width: size, height: size }} data-testid="mask-canvas" />
        <canvas ref={overlayRef} className="mask-overlay" style={{ width: total, height: total }} />
      </div>
      <p id="mask-hover" className="hover-line" aria-live="polite" data-testid="mask-hover">
        {description}
      </p>
    </div>
  );
}

/** A labelled choice of one of `count` things, shown 1-based (a layer, a head). */
function IndexSelect(props: { id: string; label: string; count: number; value: number; disabled: boolean; onChange: (index: number) => void }) {
  return (
    <>
      <label htmlFor={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} disabled={props.disabled} onChange={(e) => props.onChange(Number(e.target.value))}>
        {Array.from({ length: props.count }, (_, i) => (
          <option key={i} value={i}>
            {i + 1}
          </option>
        ))}
      </select>
    </>
  );
}
