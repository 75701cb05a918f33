import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { makeBatch } from './batch';
import { isAllowed } from './mask';
import { type SplitName, maxPromptLength, packPrompts } from './pack';
import { randomDataset } from './test-fixtures';
import { ATTENTION_GROUP, ATTENTION_SECTION_ALIGN, attentionPlan, attentionPlanLayout, attentionWork } from './ranges';
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

/**
 * Throws unless cell (q, p) of row b lies in one of the query group's two key ranges and in one of the key group's two
 * query ranges (slot/keySlot: each token's position in the plan's query and key orders).
 */
function expectCovered(
  plan: Int32Array,
  layout: ReturnType<typeof attentionPlanLayout>,
  cell: { b: number; q: number; p: number; slot: Int32Array; keySlot: Int32Array },
): void {
  const { b, q, p, slot, keySlot } = cell;
  const u = slot[q];
  const v = keySlot[p];
  const qg = layout.queryGroups + (b * layout.queryGroupCount + Math.floor(u / ATTENTION_GROUP)) * 4;
  const kg = layout.keyGroups + (b * layout.keyGroupCount + Math.floor(v / ATTENTION_GROUP)) * 4;
  const inKeys = (plan[qg] <= v && v <= plan[qg + 1]) || (plan[qg + 2] <= v && v <= plan[qg + 3]);
  const inQueries = (plan[kg] <= u && u <= plan[kg + 1]) || (plan[kg + 2] <= u && u <= plan[kg + 3]);
  if (!inKeys || !inQueries) throw new Error(`row ${b}: allowed (${q}, ${p}) outside the plan`);
}

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
    it(`${level}: both orders are permutations; query and key groups hold every allowed (q, p)`, () => {
      let allowed = 0;
      for (const { prompts, n, L, B } of batches) {
        const batch = makeBatch(prompts, { L, B, n, isolation: level });
        // The plan of every row (makeBatch's also skips strict's unused [SUM] rows: the next test).
        const plan = attentionPlan(batch.meta, batch.keyStart, batch.queryEnd, B, L, level);
        const layout = attentionPlanLayout(B, L, level);
        expect(plan.length).toBe(layout.length);
        for (let b = 0; b < B; b++) {
          const row = b * L;
          // The query order and the key order: every token once, the rest empty (-1); token order except under
          // strict. Returns each token's slot.
          const slotsOf = (start: number, count: number) => {
            const order = Array.from(plan.subarray(start + b * count, start + (b + 1) * count));
            expect(order.filter((t) => t >= 0).sort((x, y) => x - y)).toEqual(Array.from({ length: L }, (_, t) => t));
            expect(order.filter((t) => t < 0).every((t) => t === -1)).toBe(true);
            if (level !== 'strict') expect(order).toEqual(Array.from({ length: L }, (_, t) => t));
            const slotOf = new Int32Array(L);
            order.forEach((t, u) => t >= 0 && (slotOf[t] = u));
            return slotOf;
          };
          const slot = slotsOf(layout.order, layout.slots);
          const keySlot = slotsOf(layout.keyOrder, layout.keySlots);
          for (let q = 0; q < L; q++) {
            for (let p = 0; p <= q; p++) {
              if (!isAllowed(q, p, batch.meta[row + q], batch.meta[row + p], n, level)) continue;
              allowed++;
              expectCovered(plan, layout, { b, q, p, slot, keySlot });
            }
          }
        }
      }
      expect(allowed).toBeGreaterThan(1000);
    });
  }

  it('strict with targets: [SUM] rows that are no target become pad; every other allowed (q, p) stays covered', () => {
    let allowed = 0;
    let unused = 0;
    for (const { prompts, n, L, B } of batches) {
      const batch = makeBatch(prompts, { L, B, n, isolation: 'strict' });
      const plan = attentionPlan(batch.meta, batch.keyStart, batch.queryEnd, B, L, 'strict', batch.targetIndex);
      expect(batch.attentionPlan).toEqual(plan); // what training runs
      const layout = attentionPlanLayout(B, L, 'strict');
      const target = new Set(batch.targetIndex);
      for (let b = 0; b < B; b++) {
        const row = b * L;
        const slot = new Int32Array(L);
        const keySlot = new Int32Array(L);
        for (let u = 0; u < layout.slots; u++) {
          const t = plan[layout.order + b * layout.slots + u];
          if (t >= 0) slot[t] = u;
        }
        for (let u = 0; u < layout.keySlots; u++) {
          const t = plan[layout.keyOrder + b * layout.keySlots + u];
          if (t >= 0) keySlot[t] = u;
        }
        for (let q = 0; q < L; q++) {
          const m = batch.meta[row + q];
          const isUnused = metaRole(m) === ROLE_SUM && !target.has(row + q);
          expect(plan[layout.meta + row + q]).toBe(isUnused ? ROLE_PAD : m);
          if (isUnused) unused++;
          for (let p = 0; p <= q; p++) {
            if (isUnused || !isAllowed(q, p, m, batch.meta[row + p], n, 'strict')) continue;
            // Nothing but its own row may read an unused [SUM] token.
            expect(metaRole(batch.meta[row + p]) === ROLE_SUM && !target.has(row + p)).toBe(false);
            allowed++;
            expectCovered(plan, layout, { b, q, p, slot, keySlot });
          }
        }
      }
    }
    expect(allowed).toBeGreaterThan(1000);
    expect(unused).toBeGreaterThan(10);
  });

  it('strict: item/label rows (keys), empty slots to a tile (group) boundary, [SUM] rows (keys), then padding', () => {
    for (const { prompts, n, L, B } of batches) {
      const strict = makeBatch(prompts, { L, B, n, isolation: 'strict' });
      const causal = makeBatch(prompts, { L, B, n, isolation: 'full-causal' });
      const fullPlan = attentionPlan(strict.meta, strict.keyStart, strict.queryEnd, B, L, 'strict');
      const section = (t: number) => {
        const role = metaRole(strict.meta[t]);
        return role === ROLE_PAD ? 2 : role === ROLE_SUM ? 1 : 0;
      };
      const layout = attentionPlanLayout(B, L, 'strict');
      for (let b = 0; b < B; b++) {
        for (const [start, size, align] of [
          [layout.order, layout.slots, ATTENTION_SECTION_ALIGN],
          [layout.keyOrder, layout.keySlots, ATTENTION_GROUP],
        ]) {
          const order = Array.from(fullPlan.subarray(start + b * size, start + (b + 1) * size));
          const tokens = order.filter((t) => t >= 0);
          for (let i = 1; i < tokens.length; i++) {
            const [a, z] = [section(b * L + tokens[i - 1]), section(b * L + tokens[i])];
            expect(a < z || (a === z && tokens[i - 1] < tokens[i])).toBe(true);
          }
          const firstSum = order.findIndex((t) => t >= 0 && section(b * L + t) === 1);
          if (firstSum >= 0) expect(firstSum % align).toBe(0);
        }
      }
      // The work counter sees the same cells either way (every allowed cell is in some block); on these tiny prompts
      // with wide windows strict may cost about as much as causal (src/gpu/kernels/attention.test.ts checks a DTI batch).
      const work = attentionWork(fullPlan, B, L, 'strict', 32);
      const dense = attentionWork(causal.attentionPlan!, B, L, 'full-causal', 32);
      expect(work.forwardBlocks).toBeGreaterThan(0);
      expect(work.backwardBlocks).toBeLessThanOrEqual(2 * dense.backwardBlocks);
    }
  });
});
