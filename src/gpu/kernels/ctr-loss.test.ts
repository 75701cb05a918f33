/**
 * CTR loss kernels against the CPU reference (src/model/reference/ops.ts, float64 sums).
 * z is an f32 dot product of length d ≤ 130 with |z| up to ~15: losses and the mean get abs 1e-4 + rel 1e-4,
 * probabilities abs 1e-5. Backward terms are products of O(1) values summed over ≤ 12 targets: abs 1e-5 + rel 1e-5.
 */
import { describe, expect, it } from 'vitest';
import { TOKEN_NO, TOKEN_YES } from '../../prompt/types';
import { Rng } from '../../util/rng';
import * as ref from '../../model/reference/ops';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { ctrLossBackward, ctrLossForward } from './ctr-loss';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

const LOSS = { abs: 1e-4, rel: 1e-4 };
const PROB = { abs: 1e-5, rel: 0 };
const GRAD = { abs: 1e-5, rel: 1e-5 };
/** Value left in losses/probs past T: the kernels must not write there. */
const UNTOUCHED = 777;

const rows = 61;
const vocab = 9;
const maxTargets = 12;

interface Problem {
  d: number;
  T: number;
  xf: Float32Array;
  wte: Float32Array;
  /** maxTargets entries; those past T repeat earlier rows, so a kernel that handled them would double-count. */
  targetIndex: Int32Array;
  targetLabel: Float32Array;
  /** targetCount[1]: the loss denominator N (0: the mean, N = T). */
  denominator: number;
}

/** The denominator the reference takes for a problem. */
const denominatorOf = (p: Problem) => p.denominator || p.T;

function makeProblem(rng: Rng, d: number, T: number, denominator = 0): Problem {
  const distinct = rng.shuffle(Array.from({ length: rows }, (_, r) => r)).slice(0, T);
  return {
    d,
    T,
    xf: randomFloats(rng, rows * d),
    wte: randomFloats(rng, vocab * d, 0.3),
    targetIndex: Int32Array.from({ length: maxTargets }, (_, t) => distinct[t % Math.max(T, 1)] ?? 0),
    targetLabel: Float32Array.from({ length: maxTargets }, () => (rng.next() < 0.4 ? 1 : 0)),
    denominator,
  };
}

function placeTargets(ctx: GpuContext, p: Problem) {
  return {
    targetIndex: placeTensor(ctx, 'targetIndex', p.targetIndex, 3),
    targetLabel: placeTensor(ctx, 'targetLabel', p.targetLabel, 5),
    targetCount: placeTensor(ctx, 'targetCount', Uint32Array.of(p.T, p.denominator), 2),
  };
}

/** Runs the forward kernels; returns losses, probs (maxTargets each) and stats. */
async function runForward(device: GPUDevice, ctx: GpuContext, p: Problem) {
  const losses = placeTensor(ctx, 'losses', new Float32Array(maxTargets).fill(UNTOUCHED), 4);
  const probs = placeTensor(ctx, 'probs', new Float32Array(maxTargets).fill(UNTOUCHED), 1);
  const stats = placeTensor(ctx, 'stats', new Float32Array(2), 6);
  submitDispatches(
    device,
    ctrLossForward(ctx, {
      xf: placeTensor(ctx, 'xf', p.xf, 7),
      wte: placeTensor(ctx, 'wte', p.wte, 11),
      ...placeTargets(ctx, p),
      losses,
      probs,
      stats,
      maxTargets,
      d: p.d,
    }),
  );
  await expectPaddingIntact(device, stats, 2, 'stats');
  return {
    losses: await readTensor(device, losses, maxTargets),
    probs: await readTensor(device, probs, maxTargets),
    stats: await readTensor(device, stats, 2),
  };
}

describe('CTR loss kernels', () => {
  it('forward matches the reference (mean, and Σ / N with a target capacity) and leaves targets past T untouched', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(21);
    for (const [d, denominator] of [[45, 0], [130, 0], [45, 11]]) {
      const p = makeProblem(rng, d, 7, denominator);
      const got = await runForward(device, ctx, p);
      const losses = new Float32Array(p.T);
      const probs = new Float32Array(p.T);
      const [index, label] = [p.targetIndex.subarray(0, p.T), p.targetLabel.subarray(0, p.T)];
      const mean = ref.ctrLossForward(losses, probs, p.xf, p.wte, index, label, d, denominatorOf(p));
      assertClose(got.losses.subarray(0, p.T), losses, LOSS, `losses (d=${d})`);
      assertClose(got.probs.subarray(0, p.T), probs, PROB, `probs (d=${d})`);
      assertClose([got.stats[0]], [mean], LOSS, `mean loss (d=${d})`);
      expect(got.stats[1]).toBe(0);
      expect(Array.from(got.losses.subarray(p.T))).toEqual(new Array(maxTargets - p.T).fill(UNTOUCHED));
      expect(Array.from(got.probs.subarray(p.T))).toEqual(new Array(maxTargets - p.T).fill(UNTOUCHED));
    }
    ctx.destroy();
  });

  it('forward flags a non-finite loss, and reports 0 for a batch without targets', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(22);
    const d = 45;
    const p = makeProblem(rng, d, 5);
    p.xf[p.targetIndex[2] * d + 7] = NaN;
    const poisoned = await runForward(device, ctx, p);
    expect(poisoned.stats[1]).toBe(1);

    const empty = await runForward(device, ctx, makeProblem(rng, d, 0));
    expect(Array.from(empty.stats)).toEqual([0, 0]);
    expect(Array.from(empty.losses)).toEqual(new Array(maxTargets).fill(UNTOUCHED));
    ctx.destroy();
  });

  it('backward accumulates into pre-filled dxf and dwte like the reference', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(23);
    for (const [d, denominator] of [[45, 0], [130, 0], [45, 12]]) {
      const p = makeProblem(rng, d, 9, denominator);
      const probs = Float32Array.from({ length: maxTargets }, () => rng.next());
      const dxfStart = randomFloats(rng, rows * d);
      const dwteStart = randomFloats(rng, vocab * d);
      const dxf = placeTensor(ctx, 'dxf', dxfStart, 9);
      const dwte = placeTensor(ctx, 'dwte', dwteStart, 2);
      submitDispatches(
        device,
        ctrLossBackward(ctx, {
          xf: placeTensor(ctx, 'xf', p.xf, 1),
          wte: placeTensor(ctx, 'wte', p.wte, 3),
          probs: placeTensor(ctx, 'probs', probs, 4),
          ...placeTargets(ctx, p),
          dxf,
          dwte,
          maxTargets,
          d,
        }),
      );
      const expectedDxf = dxfStart.slice();
      const expectedDwte = dwteStart.slice();
      const [index, label] = [p.targetIndex.subarray(0, p.T), p.targetLabel.subarray(0, p.T)];
      ref.ctrLossBackward(expectedDxf, expectedDwte, p.xf, p.wte, probs, index, label, d, denominatorOf(p));
      assertClose(await readTensor(device, dxf, rows * d), expectedDxf, GRAD, `dxf (d=${d})`);
      const gotDwte = await readTensor(device, dwte, vocab * d);
      assertClose(gotDwte, expectedDwte, GRAD, `dwte (d=${d})`);
      // Only the YES and NO rows of dwte change.
      for (let v = 0; v < vocab; v++) {
        if (v === TOKEN_YES || v === TOKEN_NO) continue;
        expect(gotDwte.subarray(v * d, (v + 1) * d)).toEqual(dwteStart.subarray(v * d, (v + 1) * d));
      }
      await expectPaddingIntact(device, dxf, rows * d, 'dxf');
      await expectPaddingIntact(device, dwte, vocab * d, 'dwte');
    }
    ctx.destroy();
  });
});
