import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { makeBatch } from './batch';
import { isAllowed } from './mask';
import { type SplitName, maxPromptLength, packPrompts } from './pack';
import { randomDataset } from './test-fixtures';
import { ATTENTION_GROUP, attentionPlanLayout, attentionWork } from './ranges';
import { ISOLATION_LEVELS, ROLE_PAD, ROLE_SUM, SPLIT_TRAIN, SPLIT_VALID, metaRole } from './types';

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

describe('attentionPlan covers every allowed cell', () => {
  const rng = new Rng(33);
  const batches = Array.from({ length: 10 }, () => {
    const dataset = randomDataset(rng, { items: 12, users: 5, maxHistory: 16, maxItemTokens: 4 });
    const n = rng.int(4);
    const k = 1 + rng.int(6);
    const prompts = packPrompts(dataset, { n, k, split: 'train' }).slice(0, 5);
    // L not a multiple of the group size; one all-pad row.
    const L = maxPromptLength(dataset, n, k) + rng.int(6);
    return { prompts, n, L, B: prompts.length + 1 };
  }).filter(({ prompts }) => prompts.length > 0);

  for (const level of ISOLATION_LEVELS) {
    it(`${level}: order is a permutation; query and key groups hold every allowed (q, p)`, () => {
      let allowed = 0;
      for (const { prompts, n, L, B } of batches) {
        const batch = makeBatch(prompts, { L, B, n, isolation: level });
        const plan = batch.attentionPlan!;
        const layout = attentionPlanLayout(B, L);
        expect(plan.length).toBe(layout.length);
        for (let b = 0; b < B; b++) {
          const row = b * L;
          const order = Array.from(plan.subarray(layout.order + row, layout.order + row + L));
          expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: L }, (_, t) => t));
          const slot = new Int32Array(L);
          order.forEach((t, u) => (slot[t] = u));
          if (level !== 'strict') expect(order).toEqual(Array.from({ length: L }, (_, t) => t));
          for (let q = 0; q < L; q++) {
            const qg = layout.queryGroups + (b * layout.groups + Math.floor(slot[q] / ATTENTION_GROUP)) * 2;
            for (let p = 0; p <= q; p++) {
              if (!isAllowed(q, p, batch.meta[row + q], batch.meta[row + p], n, level)) continue;
              allowed++;
              const kg = layout.keyGroups + (b * layout.groups + Math.floor(p / ATTENTION_GROUP)) * 4;
              const u = slot[q];
              const inKeys = plan[qg] <= p && p <= plan[qg + 1];
              const inQueries = (plan[kg] <= u && u <= plan[kg + 1]) || (plan[kg + 2] <= u && u <= plan[kg + 3]);
              if (!inKeys || !inQueries) throw new Error(`row ${b}: allowed (${q}, ${p}) outside the plan`);
            }
          }
        }
      }
      expect(allowed).toBeGreaterThan(1000);
    });
  }

  it('strict: item/label rows come first, then [SUM] rows, then padding; far less work than full-causal', () => {
    const { prompts, n, L, B } = batches[0];
    const strict = makeBatch(prompts, { L, B, n, isolation: 'strict' });
    const causal = makeBatch(prompts, { L, B, n, isolation: 'full-causal' });
    const section = (m: number) => (metaRole(m) === ROLE_PAD ? 2 : metaRole(m) === ROLE_SUM ? 1 : 0);
    const order = strict.attentionPlan!.subarray(0, L);
    for (let u = 1; u < L; u++) {
      const [a, z] = [section(strict.meta[order[u - 1]]), section(strict.meta[order[u]])];
      expect(a < z || (a === z && order[u - 1] < order[u])).toBe(true);
    }
    const work = attentionWork(strict.attentionPlan!, B, L, 32);
    const dense = attentionWork(causal.attentionPlan!, B, L, 32);
    expect(work.forwardBlocks).toBeLessThan(dense.forwardBlocks / 2);
    expect(work.backwardBlocks).toBeLessThan(dense.backwardBlocks / 2);
  });
});
