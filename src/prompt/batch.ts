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
  /**
   * The loss is Σ loss / lossDenominator. Training passes the targets its steps hold on average (promptsPerStep of
   * src/train/config.ts), the same for every micro-batch of every step, so every target of an epoch weighs the same
   * whatever its batch holds (length-grouped batches of short DTI prompts hold few targets). Default: the batch's
   * target count (the mean).
   */
  lossDenominator?: number;
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
  const targets = Int32Array.from(targetIndex);
  const lossDenominator = opts.lossDenominator ?? Math.max(1, targets.length);
  if (!Number.isInteger(lossDenominator) || lossDenominator < 1) {
    throw new RangeError(`lossDenominator must be a positive integer (got ${lossDenominator})`);
  }
  return {
    B,
    L,
    tokens,
    meta,
    positions,
    keyStart,
    queryEnd,
    // With the targets, strict's plan skips the [SUM] rows no prediction reads (see attentionPlan).
    attentionPlan: attentionPlan(meta, keyStart, queryEnd, B, L, isolation, targets),
    targetIndex: targets,
    lossDenominator,
    targetLabel: Float32Array.from(targetLabel),
    prompts: [...prompts],
    n,
    isolation,
  };
}

/** Batch lengths are rounded up to a multiple of this, so batches of nearby lengths share prepared dispatches. */
export const LENGTH_STEP = 8;

/** Tokens of the longest prompt (0 for none). */
export function longestPrompt(prompts: readonly PackedPrompt[]): number {
  return prompts.reduce((m, p) => Math.max(m, p.tokens.length), 0);
}

/** Tokens per row for a batch of these prompts: the longest, rounded up to LENGTH_STEP, at most maxL. */
export function batchLength(prompts: readonly PackedPrompt[], maxL: number): number {
  const longest = Math.max(1, longestPrompt(prompts));
  if (longest > maxL) throw new RangeError(`a prompt has ${longest} tokens, more than L = ${maxL}`);
  return Math.min(maxL, Math.ceil(longest / LENGTH_STEP) * LENGTH_STEP);
}

/**
 * Shuffled batches of similar lengths (a batch runs at its longest prompt's length, see batchLength): prompts are
 * shuffled, cut into pools of this many batches, each pool sorted by length and cut into batches, and the batches
 * shuffled again. Pools keep the order random at the scale of an epoch while rows of one batch waste little padding
 * (DTI prompts at the end of a history hold fewer targets and are much shorter than full ones).
 */
export const LENGTH_POOL_BATCHES = 16;

/**
 * The prompt groups of one epoch, batchSize at a time (the last one may be smaller). Without an rng they come in
 * input order. With an rng the order is a seeded shuffle, grouped by length in pools of LENGTH_POOL_BATCHES batches
 * unless `groupByLength` is false. The input array is never reordered.
 */
export function batchesOf(
  prompts: readonly PackedPrompt[],
  batchSize: number,
  rng?: Rng,
  groupByLength = true,
): PackedPrompt[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer (got ${batchSize})`);
  }
  const order = [...prompts];
  const batches: PackedPrompt[][] = [];
  if (rng) rng.shuffle(order);
  const pool = rng && groupByLength ? batchSize * LENGTH_POOL_BATCHES : order.length;
  for (let poolStart = 0; poolStart < order.length; poolStart += pool) {
    const members = order.slice(poolStart, poolStart + pool);
    if (rng && groupByLength) members.sort((a, b) => a.tokens.length - b.tokens.length);
    for (let start = 0; start < members.length; start += batchSize) batches.push(members.slice(start, start + batchSize));
  }
  if (rng && groupByLength) rng.shuffle(batches);
  return batches;
}
