/**
 * The mask picture's pixels and words: one pixel per (query, key) cell, coloured by why the cell is allowed or
 * blocked; the key tiles the attention kernel skips are striped. Pure functions, so they are tested without a canvas.
 */
import { attentionBiasSlope } from '../model/config';
import type { CellReason } from '../prompt/mask';
import { CELL_REASONS } from '../prompt/dense-mask';
import { type IsolationLevel, type PackedPrompt, ROLE_ITEM, ROLE_LABEL, ROLE_SUM, TOKEN_LIKE } from '../prompt/types';

/** Colour-blind-safe (Okabe–Ito) hues per reason, with the legend's words; blocked cells are light so allowed ones stand out. */
export const REASON_STYLE: Record<CellReason, { rgb: [number, number, number]; label: string }> = {
  allowed: { rgb: [0, 114, 178], label: 'allowed' },
  future: { rgb: [236, 236, 236], label: 'blocked: causal (key after query)' },
  'outside-window': { rgb: [240, 190, 80], label: 'blocked: outside the n-interaction window' },
  'other-sum': { rgb: [222, 160, 200], label: "blocked: another interaction's [SUM]" },
  isolated: { rgb: [245, 170, 130], label: 'blocked: isolation (strict)' },
  padding: { rgb: [255, 255, 255], label: 'padding' },
};

/** Reasons shown in the legend, in reading order. */
export const LEGEND_REASONS: readonly CellReason[] = ['allowed', 'future', 'outside-window', 'other-sum', 'isolated'];

export function reasonHex(reason: CellReason): string {
  return `#${REASON_STYLE[reason].rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

const STRIPE_PERIOD = 4;
const STRIPE_DARKEN = 0.55;

/**
 * RGBA pixels (L×L, row = query) of a reasons array (codes of CELL_REASONS). Cells in key tiles before a query
 * tile's firstVisitedTile are striped: the kernel never loads those tiles.
 */
export function paintMask(
  reasons: Uint8Array,
  L: number,
  skipped: { tile: number; firstVisitedTile: Int32Array } | null,
): Uint8ClampedArray<ArrayBuffer> {
  const pixels = new Uint8ClampedArray(L * L * 4);
  const palette = CELL_REASONS.map((reason) => REASON_STYLE[reason].rgb);
  for (let q = 0; q < L; q++) {
    const skipBefore = skipped ? skipped.firstVisitedTile[Math.floor(q / skipped.tile)] * skipped.tile : 0;
    for (let p = 0; p < L; p++) {
      const [r, g, b] = palette[reasons[q * L + p]];
      const o = (q * L + p) * 4;
      const stripe = p < skipBefore && (q + p) % STRIPE_PERIOD === 0;
      const f = stripe ? STRIPE_DARKEN : 1;
      pixels[o] = r * f;
      pixels[o + 1] = g * f;
      pixels[o + 2] = b * f;
      pixels[o + 3] = 255;
    }
  }
  return pixels;
}

const ATTENTION_LOW: [number, number, number] = [222, 235, 247];
const ATTENTION_HIGH: [number, number, number] = [8, 48, 107];
/** How far a blocked cell's colour is faded towards white when the model's attention is drawn over the mask. */
const BLOCKED_FADE = 0.7;

/**
 * RGBA pixels of the model's attention over the mask: each allowed cell from light to dark blue by its weight over its
 * row's largest (where the query looks most), blocked cells in their reason's colour faded, so the rule stays readable.
 */
export function paintAttention(reasons: Uint8Array, attention: Float32Array, L: number): Uint8ClampedArray<ArrayBuffer> {
  const pixels = new Uint8ClampedArray(L * L * 4);
  const palette = CELL_REASONS.map((reason) => REASON_STYLE[reason].rgb);
  const allowed = CELL_REASONS.indexOf('allowed');
  for (let q = 0; q < L; q++) {
    let rowMax = 0;
    for (let p = 0; p < L; p++) rowMax = Math.max(rowMax, attention[q * L + p]);
    for (let p = 0; p < L; p++) {
      const o = (q * L + p) * 4;
      const code = reasons[q * L + p];
      // Square root: small weights stay visible next to a dominant one.
      const t = code === allowed && rowMax > 0 ? Math.sqrt(attention[q * L + p] / rowMax) : -1;
      for (let c = 0; c < 3; c++) {
        pixels[o + c] = t >= 0 ? ATTENTION_LOW[c] + (ATTENTION_HIGH[c] - ATTENTION_LOW[c]) * t : palette[code][c] + (255 - palette[code][c]) * BLOCKED_FADE;
      }
      pixels[o + 3] = 255;
    }
  }
  return pixels;
}

/** Interaction i of a prompt with n context interactions, numbered as the prompt view numbers them: "context 2", "target 3". */
const interactionName = (i: number, n: number) => (i < n ? `context ${i + 1}` : `target ${i - n + 1}`);
const nInteractions = (n: number) => `n = ${n} interaction${n === 1 ? '' : 's'}`;

/** "token 12 (target 2, [SUM])" */
export function describeToken(prompt: PackedPrompt, n: number, vocab: readonly string[], t: number): string {
  const owner = interactionName(prompt.interaction[t], n);
  const role = prompt.role[t];
  const word = vocab[prompt.tokens[t]] ?? '?';
  const what =
    role === ROLE_SUM
      ? '[SUM]'
      : role === ROLE_LABEL
        ? `label ${prompt.tokens[t] === TOKEN_LIKE ? '[LIKE]' : '[DISLIKE]'}`
        : role === ROLE_ITEM
          ? `item word "${word}"`
          : 'padding';
  return `token ${t} (${owner}, ${what})`;
}

/**
 * What distance-based forgetting does to an allowed cell d interactions apart: the attention weight it multiplies by
 * in the fastest- and the slowest-forgetting head (null within one interaction, where it changes nothing).
 */
export function forgettingNote(distance: number, nHeads: number): string | null {
  if (distance <= 0) return null;
  const factor = (h: number) => Math.exp(-attentionBiasSlope(h, nHeads) * distance).toFixed(3);
  const heads = nHeads > 1 ? ` in head 1, ×${factor(nHeads - 1)} in head ${nHeads}` : '';
  return `forgetting weighs it ×${factor(0)}${heads} (${distance} interaction${distance === 1 ? '' : 's'} back)`;
}

/** Why query q may or may not attend key p, in one sentence. */
export function explainCell(reason: CellReason, prompt: PackedPrompt, n: number, level: IsolationLevel, q: number, p: number): string {
  const iq = prompt.interaction[q];
  const ip = prompt.interaction[p];
  switch (reason) {
    case 'allowed':
      if (iq === ip) return 'allowed: same interaction';
      return level === 'full-causal'
        ? 'allowed: naive packing lets every earlier token through'
        : `allowed: ${interactionName(ip, n)} is one of the ${nInteractions(n)} before ${interactionName(iq, n)}`;
    case 'future':
      return 'blocked by causality: the key comes after the query';
    case 'outside-window':
      return `blocked: ${interactionName(ip, n)} is more than ${nInteractions(n)} before ${interactionName(iq, n)}`;
    case 'other-sum':
      return `blocked: the key is the [SUM] of ${interactionName(ip, n)}, which summarises a window the query must not see`;
    case 'isolated':
      // Strict blocks a non-[SUM] query for two reasons: another interaction, or a [SUM] (even its own interaction's).
      return iq === ip
        ? "blocked by strict isolation: item and label tokens never read a [SUM], not even their own interaction's (a [SUM] holds its window, which a later [SUM] reading this token would inherit)"
        : 'blocked by strict isolation: item and label tokens only read their own interaction; only [SUM] reads across';
    case 'padding':
      return 'padding';
  }
}
