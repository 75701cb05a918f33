import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { LENGTH_POOL_BATCHES, LENGTH_STEP, batchLength, batchesOf, makeBatch } from './batch';
import { packPrompt, packPrompts } from './pack';
import { FIRST_WORD, makeDataset, randomDataset } from './test-fixtures';
import { ROLE_ITEM, ROLE_LABEL, ROLE_PAD, ROLE_SUM, TOKEN_PAD, metaInteraction, metaRole } from './types';

const W = FIRST_WORD;
const dataset = makeDataset(
  [[W], [W + 1, W + 2]],
  [
    { items: [0, 1, 0, 1], labels: [1, 0, 0, 1] },
    { items: [1, 1, 0], labels: [0, 1, 1] },
  ],
);
// 3 + 4 + 3 + 4 = 14 tokens, targets at history 2 and 3 with [SUM] at 8 and 12.
const long = packPrompt(dataset, 0, 0, 2, 2);
// 4 + 3 = 7 tokens, one target at history 2 with [SUM] at 5.
const short = packPrompt(dataset, 1, 1, 1, 1);

describe('makeBatch', () => {
  it('pads every row to L and the batch to B rows', () => {
    const L = 16;
    const batch = makeBatch([short, long], { L, B: 3, n: 2, isolation: 'strict' });
    expect([batch.B, batch.L, batch.tokens.length, batch.meta.length]).toEqual([3, L, 48, 48]);
    expect(Array.from(batch.tokens.subarray(0, 7))).toEqual(Array.from(short.tokens));
    expect(Array.from(batch.tokens.subarray(L, L + 14))).toEqual(Array.from(long.tokens));
    const roles = Array.from(batch.meta, metaRole);
    expect(roles.slice(0, 7)).toEqual([ROLE_ITEM, ROLE_ITEM, ROLE_SUM, ROLE_LABEL, ROLE_ITEM, ROLE_SUM, ROLE_LABEL]);
    expect(Array.from(batch.meta.subarray(L, L + 14), metaInteraction)).toEqual(Array.from(long.interaction));
    for (const [start, end] of [[7, L], [L + 14, 2 * L], [2 * L, 3 * L]]) {
      for (let t = start; t < end; t++) {
        expect([batch.tokens[t], roles[t], batch.positions[t]]).toEqual([TOKEN_PAD, ROLE_PAD, 0]);
        expect([batch.keyStart[t], batch.queryEnd[t]]).toEqual([L, -1]);
      }
    }
    expect(Array.from(batch.positions.subarray(L, L + 14))).toEqual(Array.from(long.position));
    expect(Array.from(batch.targetIndex)).toEqual([5, L + 8, L + 12]);
    expect(Array.from(batch.targetLabel)).toEqual([1, 0, 1]);
    expect(batch.prompts).toEqual([short, long]);
  });

  it('uses one row per prompt by default and computes ranges for the given level', () => {
    const batch = makeBatch([long], { L: 14, n: 1, isolation: 'window' });
    expect(batch.B).toBe(1);
    // Interaction 3 (tokens 10-13) may read back to interaction 2, which starts at token 7.
    expect(Array.from(batch.keyStart.subarray(10, 14))).toEqual([7, 7, 7, 7]);
    expect([batch.n, batch.isolation]).toEqual([1, 'window']);
  });

  it('throws when a prompt is longer than L or there are more prompts than rows', () => {
    expect(() => makeBatch([short, long], { L: 13, n: 2, isolation: 'strict' })).toThrow(/14 tokens, more than L = 13/);
    expect(() => makeBatch([short, long], { L: 16, B: 1, n: 2, isolation: 'strict' })).toThrow(/B = 1/);
  });
});

describe('batchesOf', () => {
  const prompts = Array.from({ length: 7 }, (_, i) => packPrompt(dataset, i % 2, 0, 1, 1 + (i % 2)));

  it('yields every prompt once in order, the last batch smaller', () => {
    const batches = [...batchesOf(prompts, 3)];
    expect(batches.map((batch) => batch.length)).toEqual([3, 3, 1]);
    expect(batches.flat()).toEqual(prompts);
    expect(batches.flat().every((prompt, i) => prompt === prompts[i])).toBe(true);
  });

  it('shuffles with a seeded rng, reproducibly, without reordering the input', () => {
    const before = [...prompts];
    const first = [...batchesOf(prompts, 2, new Rng(4), false)].flat();
    const again = [...batchesOf(prompts, 2, new Rng(4), false)].flat();
    expect(prompts.every((prompt, i) => prompt === before[i])).toBe(true);
    expect(first.every((prompt, i) => prompt === again[i])).toBe(true);
    expect(new Set(first)).toEqual(new Set(prompts));
    expect(first.some((prompt, i) => prompt !== prompts[i])).toBe(true);
  });

  it('rejects a batch size below 1 at the call', () => {
    expect(() => batchesOf(prompts, 0)).toThrow(/batchSize/);
  });

  describe('grouped by length', () => {
    // DTI prompts of k = 6 over random histories: full prompts and much shorter ones at the histories' ends.
    const varied = packPrompts(randomDataset(new Rng(7), { items: 30, users: 60, maxHistory: 40, maxItemTokens: 4 }), { n: 3, k: 6, split: 'train' });
    const B = 4;
    const maxL = Math.max(...varied.map((p) => p.tokens.length));
    const paddedTokens = (batches: readonly (readonly typeof varied[number][])[]) => batches.reduce((sum, g) => sum + B * batchLength(g, maxL), 0);

    it('yields every prompt once, reproducibly, with full batches but one', () => {
      expect(varied.length).toBeGreaterThan(2 * B * LENGTH_POOL_BATCHES); // more than one pool
      const batches = batchesOf(varied, B, new Rng(3));
      expect(new Set(batches.flat())).toEqual(new Set(varied));
      expect(batches.flat()).toHaveLength(varied.length);
      expect(batches.filter((g) => g.length < B).length).toBeLessThanOrEqual(1);
      expect(batchesOf(varied, B, new Rng(3))).toEqual(batches);
      expect(batchesOf(varied, B, new Rng(4))).not.toEqual(batches);
    });

    it('pads less than a plain shuffle, and mixes lengths across the epoch', () => {
      const grouped = batchesOf(varied, B, new Rng(3));
      const plain = batchesOf(varied, B, new Rng(3), false);
      expect(paddedTokens(grouped)).toBeLessThan(0.9 * paddedTokens(plain));
      // Not one sorted run: the batch order is shuffled after grouping.
      const lengths = grouped.map((g) => g[0].tokens.length);
      expect(lengths.some((length, i) => i > 0 && length < lengths[i - 1])).toBe(true);
    });
  });
});

describe('batchLength', () => {
  it('rounds the longest prompt up to LENGTH_STEP, capped at the model length', () => {
    expect(LENGTH_STEP).toBe(8);
    expect(batchLength([short, long], 64)).toBe(16); // 14 tokens
    expect(batchLength([short], 64)).toBe(8); // 7 tokens
    expect(batchLength([short, long], 15)).toBe(15);
    expect(() => batchLength([short, long], 13)).toThrow(/14 tokens, more than L = 13/);
  });
});
