/**
 * Dense L×L views of one prompt's mask, for tests and the mask picture only: kernels never materialize the mask,
 * they evaluate isAllowed per cell inside the keyStart/queryEnd ranges.
 */
import { type CellReason, cellReason, isAllowed } from './mask';
import { promptMeta } from './pack';
import type { IsolationLevel, PackedPrompt } from './types';

/** Codes of denseMaskReasons: cell value c means CELL_REASONS[c]. */
export const CELL_REASONS: readonly CellReason[] = [
  'allowed',
  'future',
  'padding',
  'outside-window',
  'other-sum',
  'isolated',
];

/** Row-major L×L (row = query, column = key): 1 where the query may attend the key. */
export function denseMask(prompt: PackedPrompt, n: number, level: IsolationLevel): Uint8Array {
  const meta = promptMeta(prompt);
  const L = meta.length;
  const mask = new Uint8Array(L * L);
  for (let q = 0; q < L; q++) {
    for (let p = 0; p <= q; p++) if (isAllowed(q, p, meta[q], meta[p], n, level)) mask[q * L + p] = 1;
  }
  return mask;
}

/** Row-major L×L of indices into CELL_REASONS: why each cell is allowed or blocked. */
export function denseMaskReasons(prompt: PackedPrompt, n: number, level: IsolationLevel): Uint8Array {
  const meta = promptMeta(prompt);
  const L = meta.length;
  const reasons = new Uint8Array(L * L);
  for (let q = 0; q < L; q++) {
    for (let p = 0; p < L; p++) {
      reasons[q * L + p] = CELL_REASONS.indexOf(cellReason(q, p, meta[q], meta[p], n, level));
    }
  }
  return reasons;
}

export function allowedCellCount(prompt: PackedPrompt, n: number, level: IsolationLevel): number {
  const meta = promptMeta(prompt);
  let count = 0;
  for (let q = 0; q < meta.length; q++) {
    for (let p = 0; p <= q; p++) if (isAllowed(q, p, meta[q], meta[p], n, level)) count++;
  }
  return count;
}

/**
 * Per token: 1 if information at that token can reach the hidden state of token targetSumPos after `layers` attention
 * layers. The residual stream keeps what a token already holds, so the field only grows: one layer adds every key that
 * a token already in the field may attend. With layers = 0 only the target itself counts.
 */
export function receptiveField(
  prompt: PackedPrompt,
  n: number,
  level: IsolationLevel,
  layers: number,
  targetSumPos: number,
): Uint8Array {
  const meta = promptMeta(prompt);
  const L = meta.length;
  if (!Number.isInteger(targetSumPos) || targetSumPos < 0 || targetSumPos >= L) {
    throw new RangeError(`targetSumPos ${targetSumPos} is outside the prompt's ${L} tokens`);
  }
  if (!Number.isInteger(layers) || layers < 0) throw new RangeError(`layers must be an integer >= 0 (got ${layers})`);
  let field = new Uint8Array(L);
  field[targetSumPos] = 1;
  for (let layer = 0; layer < layers; layer++) {
    const next = field.slice();
    for (let q = 0; q < L; q++) {
      if (!field[q]) continue;
      for (let p = 0; p <= q; p++) if (isAllowed(q, p, meta[q], meta[p], n, level)) next[p] = 1;
    }
    field = next;
  }
  return field;
}
