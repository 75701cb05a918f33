/** Padding prompts into the flat [B, L] batch layout the GPU consumes (docs/ENGINE.md), and epoch batching. */
import type { Rng } from '../util/rng';
import { promptMeta } from './pack';
import { attentionPlan, maskRanges } from './ranges';
import {
  type Batch,
  type IsolationLevel,
  type PackedPrompt,
  ROLE_PAD,
  TOKEN_PAD,
  packMeta,
} from './types';

export interface BatchOptions {
  /** Tokens per row; every prompt must fit. */
  L: number;
  /** Rows; default prompts.length. Rows beyond the prompts are all padding (keeps buffer shapes fixed). */
  B?: number;
  n: number;
  isolation: IsolationLevel;
}

export function makeBatch(prompts: readonly PackedPrompt[], opts: BatchOptions): Batch {
  const { L, n, isolation } = opts;
  const B = opts.B ?? prompts.length;
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`L must be a positive integer (got ${L})`);
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`B must be a positive integer (got ${B})`);
  if (prompts.length > B) throw new RangeError(`${prompts.length} prompts do not fit in a batch of B = ${B} rows`);

  const tokens = new Int32Array(B * L).fill(TOKEN_PAD);
  const meta = new Uint32Array(B * L).fill(packMeta(0, ROLE_PAD));
  const positions = new Int32Array(B * L);
  const targetIndex: number[] = [];
  const targetLabel: number[] = [];
  prompts.forEach((prompt, b) => {
    const length = prompt.tokens.length;
    if (length > L) {
      throw new RangeError(
        `prompt ${b} (user ${prompt.userIndex}, history ${prompt.firstHistoryIndex}) has ${length} tokens, more than L = ${L}`,
      );
    }
    const row = b * L;
    tokens.set(prompt.tokens, row);
    positions.set(prompt.position, row);
    meta.set(promptMeta(prompt), row);
    for (const target of prompt.targets) {
      targetIndex.push(row + target.sumPos);
      targetLabel.push(target.label);
    }
  });
  const { keyStart, queryEnd } = maskRanges(meta, B, L, n, isolation);
  return {
    B,
    L,
    tokens,
    meta,
    positions,
    keyStart,
    queryEnd,
    attentionPlan: attentionPlan(meta, keyStart, queryEnd, B, L, isolation),
    targetIndex: Int32Array.from(targetIndex),
    targetLabel: Float32Array.from(targetLabel),
    prompts: [...prompts],
    n,
    isolation,
  };
}

/**
 * The prompt groups of one epoch, batchSize at a time (the last one may be smaller). With an rng the order is a seeded
 * shuffle; the input array is never reordered. Arguments are checked at the call, not at the first iteration.
 */
export function batchesOf(
  prompts: readonly PackedPrompt[],
  batchSize: number,
  rng?: Rng,
): Generator<PackedPrompt[], void, undefined> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer (got ${batchSize})`);
  }
  const order = [...prompts];
  if (rng) rng.shuffle(order);
  return (function* () {
    for (let start = 0; start < order.length; start += batchSize) yield order.slice(start, start + batchSize);
  })();
}
