import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as reference from '../../model/reference/ops';
import { isAllowed } from '../../prompt/mask';
import { attentionPlan, attentionPlanLayout, attentionWork, maskRanges, tileStats } from '../../prompt/ranges';
import {
  ISOLATION_LEVELS,
  type IsolationLevel,
  ROLE_ITEM,
  ROLE_LABEL,
  ROLE_PAD,
  ROLE_SUM,
  type Role,
  packMeta,
} from '../../prompt/types';
import { Rng } from '../../util/rng';
import { GpuContext, type Dispatch, submitDispatches } from '../context';
import { markSoftwareDevice } from '../device';
import { nodeDevice } from '../node-device';
import { ATTENTION_TILE, attentionBackward, attentionFlops, attentionForward } from './attention';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor, type Tolerance } from './testing';

// GPU f32 against the reference (float64 sums), inputs N(0, 1): the largest errors seen on SwiftShader are 6e-7 (out,
// lse) and 2e-6 (dqkv); the tolerances leave 20x room for other GPUs' exp and summation order.
const FORWARD_TOL: Tolerance = { abs: 2e-5, rel: 2e-5 };
const BACKWARD_TOL: Tolerance = { abs: 5e-5, rel: 5e-5 };

interface MaskBatch {
  B: number;
  L: number;
  n: number;
  level: IsolationLevel;
  meta: Uint32Array;
  positions: Int32Array;
  keyStart: Int32Array;
  queryEnd: Int32Array;
  /** The kernels' work plan (attentionPlan). */
  plan: Int32Array;
}

/**
 * A DTI-like batch: each sequence is interactions `1–maxItems item tokens, [SUM], label`; sequence 0 fills L, the
 * others are shorter and padded (their last interaction may be cut, as a real packer never does, to stress the rule);
 * with `emptyLast` the last sequence is all padding.
 */
function dtiBatch(rng: Rng, B: number, L: number, n: number, level: IsolationLevel, maxItems = 4, emptyLast = false): MaskBatch {
  const meta = new Uint32Array(B * L);
  const positions = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const length = b === 0 ? L : emptyLast && b === B - 1 ? 0 : L - 1 - rng.int(Math.floor(L / 2));
    let t = 0;
    for (let interaction = 0; t < length; interaction++) {
      const roles: Role[] = [...Array<Role>(1 + rng.int(maxItems)).fill(ROLE_ITEM), ROLE_SUM, ROLE_LABEL];
      for (const role of roles) {
        if (t >= length) break;
        meta[b * L + t] = packMeta(interaction, role);
        positions[b * L + t] = t;
        t++;
      }
    }
    for (; t < L; t++) meta[b * L + t] = packMeta(0, ROLE_PAD);
  }
  const { keyStart, queryEnd } = maskRanges(meta, B, L, n, level);
  return { B, L, n, level, meta, positions, keyStart, queryEnd, plan: attentionPlan(meta, keyStart, queryEnd, B, L, level) };
}

/** The same plan (same query order, so the same summation order) with no skipping: every range covers everything. */
function withoutSkipping(batch: MaskBatch): MaskBatch {
  const { B, L } = batch;
  const layout = attentionPlanLayout(B, L, batch.level);
  const plan = batch.plan.slice();
  const empty = [0x7fffffff, -1];
  for (let g = 0; g < B * layout.queryGroupCount; g++) plan.set([0, layout.keySlots - 1, ...empty], layout.queryGroups + 4 * g);
  for (let g = 0; g < B * layout.keyGroupCount; g++) plan.set([0, layout.slots - 1, ...empty], layout.keyGroups + 4 * g);
  return { ...batch, plan };
}

function allowedCells(batch: MaskBatch): number {
  let cells = 0;
  for (let b = 0; b < batch.B; b++) {
    for (let q = 0; q < batch.L; q++) {
      for (let p = 0; p <= q; p++) {
        if (isAllowed(q, p, batch.meta[b * batch.L + q], batch.meta[b * batch.L + p], batch.n, batch.level)) cells++;
      }
    }
  }
  return cells;
}

interface Inputs {
  qkv: Float32Array;
  dout: Float32Array;
  dqkvStart: Float32Array;
}

function randomInputs(rng: Rng, batch: MaskBatch, nHeads: number, headDim: number): Inputs {
  const rows = batch.B * batch.L;
  const d = nHeads * headDim;
  return {
    qkv: randomFloats(rng, rows * 3 * d),
    dout: randomFloats(rng, rows * d),
    dqkvStart: randomFloats(rng, rows * 3 * d, 0.5),
  };
}

interface Results {
  out: Float32Array;
  lse: Float32Array;
  dqkv: Float32Array;
}

/** The attention bias: ALiBi over token positions, distance-based forgetting over interaction indices, or both. */
interface Bias {
  alibi: boolean;
  forgetting: boolean;
}
const ALIBI_ONLY: Bias = { alibi: true, forgetting: false };
const ALIBI_AND_FORGETTING: Bias = { alibi: true, forgetting: true };
const biasName = (bias: Bias) => `alibi ${bias.alibi ? 'on' : 'off'}, forgetting ${bias.forgetting ? 'on' : 'off'}`;

function referenceResults(batch: MaskBatch, nHeads: number, headDim: number, bias: Bias, inputs: Inputs): Results {
  const shape: reference.AttentionShape = { B: batch.B, L: batch.L, nHeads, headDim, n: batch.n, level: batch.level, ...bias };
  const rows = batch.B * batch.L;
  const d = nHeads * headDim;
  const qkv = Float64Array.from(inputs.qkv);
  const out = new Float64Array(rows * d);
  const lse = new Float64Array(batch.B * nHeads * batch.L);
  const dqkv = Float64Array.from(inputs.dqkvStart);
  reference.attentionForward(out, lse, qkv, batch.meta, batch.positions, shape);
  reference.attentionBackward(dqkv, Float64Array.from(inputs.dout), out, lse, qkv, batch.meta, batch.positions, shape);
  return { out: Float32Array.from(out), lse: Float32Array.from(lse), dqkv: Float32Array.from(dqkv) };
}

// One context for the file, so each pipeline compiles once (SwiftShader takes about a second per attention pipeline).
let device: GPUDevice;
let ctx: GpuContext;
beforeAll(async () => {
  device = (await nodeDevice()).device;
  ctx = new GpuContext(device);
});
afterAll(async () => {
  markSoftwareDevice(device, (await nodeDevice()).software);
  ctx.destroy();
});

// Both kernel layouts, whatever the adapter: staged (GPUs: streamed rows through workgroup memory) and direct
// (software devices: each thread reads its rows from storage).
const LAYOUTS = [
  { name: 'staged layout', software: false },
  { name: 'direct layout', software: true },
];

/**
 * Runs forward then `backwardRuns` backwards on the GPU, every tensor placed at its own odd offset inside a
 * NaN-padded buffer (testing.ts), and checks nothing outside the outputs was written.
 */
async function gpuResults(
  batch: MaskBatch,
  nHeads: number,
  headDim: number,
  bias: Bias,
  inputs: Inputs,
  backwardRuns = 1,
  chunk?: number,
): Promise<Results> {
  const rows = batch.B * batch.L;
  const d = nHeads * headDim;
  const lseCount = batch.B * nHeads * batch.L;
  const qkv = placeTensor(ctx, 'qkv', inputs.qkv, 3);
  const meta = placeTensor(ctx, 'meta', batch.meta, 5);
  const positions = placeTensor(ctx, 'positions', batch.positions, 7);
  const plan = placeTensor(ctx, 'plan', batch.plan, 9);
  const out = placeTensor(ctx, 'out', new Float32Array(rows * d).fill(Number.NaN), 13);
  const lse = placeTensor(ctx, 'lse', new Float32Array(lseCount).fill(Number.NaN), 17);
  const dout = placeTensor(ctx, 'dout', inputs.dout, 19);
  const dqkv = placeTensor(ctx, 'dqkv', inputs.dqkvStart, 23);
  const common = { qkv, meta, positions, plan, out, lse, B: batch.B, L: batch.L, nHeads, headDim, n: batch.n, level: batch.level, ...bias, chunk };
  const dispatches: Dispatch[] = [...attentionForward(ctx, common)];
  const rowDot = ctx.storage('attention.rowDot', batch.B * batch.L * nHeads * 4);
  const backward = attentionBackward(ctx, { ...common, dout, dqkv, rowDot });
  for (let i = 0; i < backwardRuns; i++) dispatches.push(...backward);
  submitDispatches(device, dispatches);
  const results = {
    out: await readTensor(device, out, rows * d),
    lse: await readTensor(device, lse, lseCount),
    dqkv: await readTensor(device, dqkv, rows * 3 * d),
  };
  await expectPaddingIntact(device, out, rows * d, 'out');
  await expectPaddingIntact(device, lse, lseCount, 'lse');
  await expectPaddingIntact(device, dqkv, rows * 3 * d, 'dqkv');
  for (const ref of [qkv, meta, positions, plan, out, lse, dout, dqkv]) ref.buffer.destroy();
  return results;
}

interface Case extends Bias {
  level: IsolationLevel;
  B: number;
  L: number;
  nHeads: number;
  headDim: number;
  n: number;
  /** The last sequence is all padding. */
  emptyLast?: boolean;
}

// Every level × ALiBi × forgetting, lengths that are not multiples of the tile, head dims 8, 12, 16, 1–3 heads.
const CASES: Case[] = [
  { level: 'full-causal', alibi: false, forgetting: false, B: 2, L: 37, nHeads: 2, headDim: 16, n: 2 },
  { level: 'full-causal', alibi: true, forgetting: false, B: 3, L: 70, nHeads: 1, headDim: 8, n: 3 },
  { level: 'full-causal', alibi: false, forgetting: true, B: 2, L: 70, nHeads: 3, headDim: 8, n: 2 },
  { level: 'window', alibi: false, forgetting: false, B: 3, L: 70, nHeads: 3, headDim: 12, n: 2 },
  { level: 'window', alibi: true, forgetting: false, B: 2, L: 37, nHeads: 2, headDim: 16, n: 1 },
  { level: 'window', alibi: false, forgetting: true, B: 3, L: 70, nHeads: 2, headDim: 12, n: 3 },
  { level: 'window', alibi: true, forgetting: true, B: 2, L: 45, nHeads: 3, headDim: 8, n: 2 },
  { level: 'sum-isolated', alibi: false, forgetting: false, B: 2, L: 70, nHeads: 2, headDim: 8, n: 3 },
  { level: 'sum-isolated', alibi: true, forgetting: false, B: 3, L: 37, nHeads: 3, headDim: 12, n: 2 },
  { level: 'sum-isolated', alibi: false, forgetting: true, B: 2, L: 37, nHeads: 2, headDim: 16, n: 2 },
  { level: 'strict', alibi: false, forgetting: false, B: 3, L: 70, nHeads: 2, headDim: 16, n: 2 },
  { level: 'strict', alibi: true, forgetting: false, B: 2, L: 70, nHeads: 3, headDim: 8, n: 4 },
  { level: 'strict', alibi: false, forgetting: true, B: 2, L: 70, nHeads: 2, headDim: 12, n: 3 },
  { level: 'strict', alibi: true, forgetting: false, B: 3, L: 37, nHeads: 2, headDim: 12, n: 2, emptyLast: true },
  { level: 'window', alibi: false, forgetting: false, B: 2, L: 29, nHeads: 1, headDim: 16, n: 1, emptyLast: true },
];

// Random shapes on top of the chosen ones, drawn from a fixed seed (every run tests the same ones; the test name
// gives each one's shape): any level, ALiBi or not, forgetting or not, 1–3 rows, 5–100 tokens, 1–4 heads of 4–32 dims, n = 1–5.
const shapeRng = new Rng(20261129);
const LEVELS: IsolationLevel[] = ['full-causal', 'window', 'sum-isolated', 'strict'];
for (let i = 0; i < 4; i++) {
  CASES.push({
    level: LEVELS[shapeRng.int(LEVELS.length)],
    alibi: shapeRng.next() < 0.5,
    B: 1 + shapeRng.int(3),
    L: 5 + shapeRng.int(96),
    nHeads: 1 + shapeRng.int(4),
    headDim: 4 * (1 + shapeRng.int(8)),
    n: 1 + shapeRng.int(5),
    forgetting: shapeRng.next() < 0.5,
  });
}

it('uses the tile size the shader declares', () => {
  expect([16, 32, 64]).toContain(ATTENTION_TILE);
  expect(attentionFlops(10, 16, 4)).toBe(4 * 10 * 16 * 4);
});

describe.each(LAYOUTS)('attention kernels against the CPU reference ($name)', ({ software }) => {
  beforeAll(() => markSoftwareDevice(device, software));

  for (const c of CASES) {
    const name = `${c.level}, ${biasName(c)}: B=${c.B} L=${c.L} H=${c.nHeads} hd=${c.headDim} n=${c.n}${c.emptyLast ? ', last row all padding' : ''}`;
    it(`forward out + lse and backward dqkv (accumulated): ${name}`, async () => {
      const rng = new Rng(1000 + CASES.indexOf(c));
      const batch = dtiBatch(rng, c.B, c.L, c.n, c.level, 4, c.emptyLast);
      const inputs = randomInputs(rng, batch, c.nHeads, c.headDim);
      const expected = referenceResults(batch, c.nHeads, c.headDim, c, inputs);
      const actual = await gpuResults(batch, c.nHeads, c.headDim, c, inputs);
      assertClose(actual.out, expected.out, FORWARD_TOL, 'out');
      assertClose(actual.lse, expected.lse, FORWARD_TOL, 'lse');
      assertClose(actual.dqkv, expected.dqkv, BACKWARD_TOL, 'dqkv');
    });
  }

  it('accumulates: two backward runs add the gradient twice to the pre-filled dqkv', async () => {
    const rng = new Rng(77);
    const batch = dtiBatch(rng, 2, 45, 2, 'sum-isolated');
    const inputs = randomInputs(rng, batch, 2, 8);
    const once = referenceResults(batch, 2, 8, ALIBI_AND_FORGETTING, inputs);
    const twice = once.dqkv.map((value, i) => 2 * value - inputs.dqkvStart[i]);
    const actual = await gpuResults(batch, 2, 8, ALIBI_AND_FORGETTING, inputs, 2);
    assertClose(actual.dqkv, twice, BACKWARD_TOL, 'dqkv after two backward runs');
  });

  it('strict with targets: unused [SUM] rows get 0; every other output and every gradient as the full computation', async () => {
    const rng = new Rng(55);
    const nHeads = 2;
    const headDim = 8;
    const full = dtiBatch(rng, 3, 70, 2, 'strict', 4, true);
    const { B, L } = full;
    // Every other [SUM] token is a target.
    const targets: number[] = [];
    const unused = new Uint8Array(B * L);
    let sums = 0;
    for (let i = 0; i < B * L; i++) {
      if ((full.meta[i] & 3) !== ROLE_SUM) continue;
      if (sums++ % 2 === 0) targets.push(i);
      else unused[i] = 1;
    }
    const batch = { ...full, plan: attentionPlan(full.meta, full.keyStart, full.queryEnd, B, L, 'strict', targets) };
    const inputs = randomInputs(rng, batch, nHeads, headDim);
    // A model's gradient reaches no unused row: dout is 0 there.
    const d = nHeads * headDim;
    for (let i = 0; i < B * L; i++) if (unused[i]) inputs.dout.fill(0, i * d, (i + 1) * d);
    const expected = referenceResults(full, nHeads, headDim, ALIBI_AND_FORGETTING, inputs);
    const actual = await gpuResults(batch, nHeads, headDim, ALIBI_AND_FORGETTING, inputs);
    for (let i = 0; i < B * L; i++) {
      if (!unused[i]) continue;
      expected.out.fill(0, i * d, (i + 1) * d);
      for (let h = 0; h < nHeads; h++) expected.lse[(Math.floor(i / L) * nHeads + h) * L + (i % L)] = 0;
    }
    expect(unused.some((u) => u === 1)).toBe(true);
    assertClose(actual.out, expected.out, FORWARD_TOL, 'out');
    assertClose(actual.lse, expected.lse, FORWARD_TOL, 'lse');
    assertClose(actual.dqkv, expected.dqkv, BACKWARD_TOL, 'dqkv');
  });

  it.runIf(!software)('gives the same result with chunks not aligned to the tile (chunk 12)', async () => {
    const rng = new Rng(12);
    const batch = dtiBatch(rng, 2, 70, 2, 'sum-isolated');
    const inputs = randomInputs(rng, batch, 2, 8);
    const expected = referenceResults(batch, 2, 8, ALIBI_AND_FORGETTING, inputs);
    const actual = await gpuResults(batch, 2, 8, ALIBI_AND_FORGETTING, inputs, 1, 12);
    assertClose(actual.out, expected.out, FORWARD_TOL, 'out');
    assertClose(actual.lse, expected.lse, FORWARD_TOL, 'lse');
    assertClose(actual.dqkv, expected.dqkv, BACKWARD_TOL, 'dqkv');
    // Keys are consumed in the same 4-aligned blocks whatever the chunk: bitwise equal to the default chunk.
    const byDefault = await gpuResults(batch, 2, 8, ALIBI_AND_FORGETTING, inputs);
    expect(Array.from(actual.out)).toEqual(Array.from(byDefault.out));
    expect(Array.from(actual.dqkv)).toEqual(Array.from(byDefault.dqkv));
  });

  // Compiling hd = 128 pipelines takes SwiftShader 5-30 s: ATTENTION_SLOW=1 to include it.
  it.runIf(process.env.ATTENTION_SLOW)('handles the largest head dimension (128, smaller chunk)', async () => {
    const rng = new Rng(5);
    const batch = dtiBatch(rng, 2, 40, 2, 'strict');
    const inputs = randomInputs(rng, batch, 1, 128);
    const expected = referenceResults(batch, 1, 128, ALIBI_AND_FORGETTING, inputs);
    const actual = await gpuResults(batch, 1, 128, ALIBI_AND_FORGETTING, inputs);
    assertClose(actual.out, expected.out, FORWARD_TOL, 'out');
    assertClose(actual.lse, expected.lse, FORWARD_TOL, 'lse');
    assertClose(actual.dqkv, expected.dqkv, BACKWARD_TOL, 'dqkv');
  });
});

describe('attention layouts', () => {
  for (const level of ISOLATION_LEVELS) {
    it(`${level}: staged and direct give bitwise equal results (the same blocks in the same order)`, async () => {
      const rng = new Rng(31);
      const batch = dtiBatch(rng, 3, 75, 2, level, 4, true);
      const inputs = randomInputs(rng, batch, 2, 12);
      const results: Results[] = [];
      for (const { software } of LAYOUTS) {
        markSoftwareDevice(device, software);
        results.push(await gpuResults(batch, 2, 12, ALIBI_AND_FORGETTING, inputs));
      }
      expect(Array.from(results[1].out)).toEqual(Array.from(results[0].out));
      expect(Array.from(results[1].lse)).toEqual(Array.from(results[0].lse));
      expect(Array.from(results[1].dqkv)).toEqual(Array.from(results[0].dqkv));
    });
  }
});

describe('attention tile skipping', () => {
  it('plans far less work than dense causal for a strict DTI batch', () => {
    const rng = new Rng(2024);
    const batch = dtiBatch(rng, 2, 160, 3, 'strict', 3);
    const stats = tileStats(batch.meta, batch.keyStart, batch.B, batch.L, ATTENTION_TILE, allowedCells(batch));
    expect(stats.allowedFraction).toBeLessThan(stats.causalFraction / 4);
    const causal = dtiBatch(new Rng(2024), 2, 160, 3, 'full-causal', 3);
    expect(Array.from(causal.meta)).toEqual(Array.from(batch.meta));
    const work = attentionWork(batch.plan, batch.B, batch.L, 'strict', ATTENTION_TILE);
    const dense = attentionWork(causal.plan, batch.B, batch.L, 'full-causal', ATTENTION_TILE);
    // Blocks of 4×4 cells the threads compute, and chunks the workgroups load.
    expect(work.forwardBlocks).toBeLessThan(0.4 * dense.forwardBlocks);
    expect(work.backwardBlocks).toBeLessThan(0.4 * dense.backwardBlocks);
    // Chunk loads: the [SUM] rows' tiles still span most of the sequence.
    expect(work.forwardChunks).toBeLessThanOrEqual(dense.forwardChunks);
    expect(work.backwardChunks).toBeLessThan(0.9 * dense.backwardChunks);
  });

  for (const { name: layout, software } of LAYOUTS) {
    for (const level of ISOLATION_LEVELS) {
      it(`${level}, ${layout}: skipping changes nothing but cost (bitwise equal to the same plan without skipping)`, async () => {
        markSoftwareDevice(device, software);
        const rng = new Rng(2024);
        const batch = dtiBatch(rng, 2, 160, 3, level, 3);
        const inputs = randomInputs(rng, batch, 2, 16);
        const bias: Bias = { alibi: level !== 'window', forgetting: level !== 'full-causal' };
        const skipping = await gpuResults(batch, 2, 16, bias, inputs);
        const notSkipping = await gpuResults(withoutSkipping(batch), 2, 16, bias, inputs);
        // Skipped blocks hold only masked cells, which never touch the running max or sums: bitwise equal.
        expect(Array.from(skipping.out)).toEqual(Array.from(notSkipping.out));
        expect(Array.from(skipping.lse)).toEqual(Array.from(notSkipping.lse));
        expect(Array.from(skipping.dqkv)).toEqual(Array.from(notSkipping.dqkv));
        const expected = referenceResults(batch, 2, 16, bias, inputs);
        assertClose(skipping.out, expected.out, FORWARD_TOL, 'out');
        assertClose(skipping.dqkv, expected.dqkv, BACKWARD_TOL, 'dqkv');
      });
    }
  }
});

// Timing on the present adapter (SwiftShader here): ATTENTION_BENCH=1 npx vitest run src/gpu/kernels/attention
describe.runIf(process.env.ATTENTION_BENCH)('attention timing', () => {
  it('forward + backward, B=4 L=128 H=4 hd=16: strict DTI vs full-causal', async () => {
    const B = 4;
    const L = 128;
    const nHeads = 4;
    const headDim = 16;
    for (const level of ['strict', 'full-causal'] as const) {
      const rng = new Rng(9);
      const batch = dtiBatch(rng, B, L, 4, level, 4);
      const inputs = randomInputs(rng, batch, nHeads, headDim);
      const t = (data: Float32Array | Int32Array | Uint32Array) => ({ buffer: ctx.storage('t', data.byteLength, data), offset: 0 });
      const common = {
        qkv: t(inputs.qkv),
        meta: t(batch.meta),
        positions: t(batch.positions),
        plan: t(batch.plan),
        out: t(new Float32Array(B * L * nHeads * headDim)),
        lse: t(new Float32Array(B * nHeads * L)),
        B,
        L,
        nHeads,
        headDim,
        n: batch.n,
        level,
        ...ALIBI_ONLY,
      };
      const forward = attentionForward(ctx, common);
      const rowDot = ctx.storage('attention.rowDot', B * L * nHeads * 4);
      const backward = attentionBackward(ctx, { ...common, dout: t(inputs.dout), dqkv: t(inputs.dqkvStart), rowDot });
      // Best of 7 rounds of 3 (the machine may be shared): wall time, and this process's CPU time (SwiftShader's threads).
      const time = async (dispatches: Dispatch[]) => {
        submitDispatches(device, dispatches);
        await device.queue.onSubmittedWorkDone();
        let wall = Infinity;
        let cpu = Infinity;
        for (let round = 0; round < 7; round++) {
          const start = performance.now();
          const cpuStart = process.cpuUsage();
          for (let i = 0; i < 3; i++) submitDispatches(device, dispatches);
          await device.queue.onSubmittedWorkDone();
          const used = process.cpuUsage(cpuStart);
          wall = Math.min(wall, (performance.now() - start) / 3);
          cpu = Math.min(cpu, (used.user + used.system) / 3000);
        }
        return `${wall.toFixed(1)} ms (cpu ${cpu.toFixed(1)} ms)`;
      };
      const fwd = await time(forward);
      const bwd = await time(backward);
      const stats = tileStats(batch.meta, batch.keyStart, B, L, ATTENTION_TILE, allowedCells(batch));
      const work = attentionWork(batch.plan, B, L, level, ATTENTION_TILE);
      console.log(
        `${level}: forward ${fwd}, backward ${bwd}; 4×4 blocks forward ${work.forwardBlocks}, dK/dV ${work.backwardBlocks}, ` +
          `allowed ${(100 * stats.allowedFraction).toFixed(1)}% of L×L`,
      );
    }
  });
});
