import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { makeBatch } from './batch';
import { isAllowed } from './mask';
import { type SplitName, maxPromptLength, packPrompts } from './pack';
import { randomDataset } from './test-fixtures';
import { ISOLATION_LEVELS, ROLE_PAD, SPLIT_TRAIN, SPLIT_VALID, metaRole } from './types';

describe('maskRanges bounds the element rule', () => {
  const rng = new Rng(21);
  const splitOf = (h: number, m: number) => (h >= m - 2 ? SPLIT_VALID : SPLIT_TRAIN);
  // Random datasets, n and k; eval prompts too; extra pad columns and all-pad rows.
  const batches = Array.from({ length: 12 }, (_, trial) => {
    const dataset = randomDataset(rng, { items: 15, users: 6, maxHistory: 14, maxItemTokens: 4, split: splitOf });
    const n = rng.int(4);
    const k = 1 + rng.int(6);
    const split: SplitName = trial % 3 === 0 ? 'valid' : 'train';
    const prompts = packPrompts(dataset, { n, k, split }).slice(0, 6);
    const L = maxPromptLength(dataset, n, k) + rng.int(5);
    return { prompts, n, L, B: prompts.length + 1 + rng.int(2) };
  }).filter(({ prompts }) => prompts.length > 0);

  it('has random batches to check', () => {
    expect(batches.length).toBeGreaterThan(6);
  });

  for (const level of ISOLATION_LEVELS) {
    it(`${level}: every allowed (q, p) has keyStart[q] <= p and q <= queryEnd[p]; keyStart is itself allowed`, () => {
      let allowed = 0;
      for (const { prompts, n, L, B } of batches) {
        const batch = makeBatch(prompts, { L, B, n, isolation: level });
        const { meta, keyStart, queryEnd } = batch;
        for (let b = 0; b < B; b++) {
          const row = b * L;
          for (let q = 0; q < L; q++) {
            if (metaRole(meta[row + q]) === ROLE_PAD) {
              expect([keyStart[row + q], queryEnd[row + q]]).toEqual([L, -1]);
              continue;
            }
            // Tight on the key side: the first key a query may read is one it does read.
            expect(isAllowed(q, keyStart[row + q], meta[row + q], meta[row + keyStart[row + q]], n, level)).toBe(true);
            for (let p = 0; p <= q; p++) {
              if (!isAllowed(q, p, meta[row + q], meta[row + p], n, level)) continue;
              allowed++;
              if (keyStart[row + q] > p || queryEnd[row + p] < q) {
                throw new Error(`row ${b}: allowed (${q}, ${p}) outside keyStart ${keyStart[row + q]} / queryEnd ${queryEnd[row + p]}`);
              }
            }
          }
        }
      }
      expect(allowed).toBeGreaterThan(1000);
    });
  }
});
