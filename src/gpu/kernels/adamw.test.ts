/**
 * AdamW (with the GPU gradient norm feeding the clip) against the CPU reference, over consecutive steps.
 * Each element is a handful of f32 operations. m = β1·m + (1-β1)·g can cancel down from terms of ~0.5, so it gets
 * abs 2e-7 (a few f32 ulps of 0.5) + rel 1e-5; v sums positive terms: rel 1e-5. Params: abs 1e-6 + rel 1e-5; an
 * update is ~lr = 1e-2 and the decay term lr·wd·p ~1e-3, so a wrong clip, bias correction or decay region shows.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../util/rng';
import * as ref from '../../model/reference/ops';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { adamwStep, createAdamHyper, writeAdamHyper } from './adamw';
import { gradNorm } from './grad-norm';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

const MOMENT = { abs: 2e-7, rel: 1e-5 };
const PARAM = { abs: 1e-6, rel: 1e-5 };

const count = 3001;
const decayedCount = 1700;
const base = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

describe('adamwStep kernel', () => {
  it('follows the reference over steps with clipping active, off and inactive, then skips a NaN step', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(41);
    const cpu = { params: randomFloats(rng, count), m: new Float32Array(count), v: new Float32Array(count) };
    const params = placeTensor(ctx, 'params', cpu.params, 7);
    const m = placeTensor(ctx, 'm', cpu.m, 2);
    const v = placeTensor(ctx, 'v', cpu.v, 5);
    const grads = placeTensor(ctx, 'grads', new Float32Array(count), 3);
    const norm = placeTensor(ctx, 'norm', new Float32Array(2), 9);
    const hyper = createAdamHyper(ctx);
    // Built once, recorded every step, as the engine does.
    const dispatches = [
      ...gradNorm(ctx, { grads, count, out: norm }),
      ...adamwStep(ctx, { params, grads, m, v, count, decayedCount, hyper, norm }),
    ];
    const runStep = async (g: Float32Array, step: number, maxGradNorm: number) => {
      device.queue.writeBuffer(grads.buffer, grads.offset * 4, g.buffer, g.byteOffset, g.byteLength);
      writeAdamHyper(device, hyper, { ...base, step, maxGradNorm });
      submitDispatches(device, dispatches);
      return {
        params: await readTensor(device, params, count),
        m: await readTensor(device, m, count),
        v: await readTensor(device, v, count),
        norm: await readTensor(device, norm, 2),
      };
    };

    // ‖g‖ ≈ 0.5·sqrt(3001) ≈ 27: a clip at 1 is active, at 1000 inactive.
    const steps = [
      { step: 1, maxGradNorm: 1 },
      { step: 2, maxGradNorm: 0 },
      { step: 3, maxGradNorm: 1000 },
    ];
    for (const { step, maxGradNorm } of steps) {
      const g = randomFloats(rng, count, 0.5);
      const got = await runStep(g, step, maxGradNorm);
      ref.adamwStep(cpu.params, g, cpu.m, cpu.v, { ...base, step, decayedCount, maxGradNorm });
      const what = `step ${step} (maxGradNorm ${maxGradNorm})`;
      assertClose(got.m, cpu.m, MOMENT, `m, ${what}`);
      assertClose(got.v, cpu.v, MOMENT, `v, ${what}`);
      assertClose(got.params, cpu.params, PARAM, `params, ${what}`);
      expect(got.norm[1]).toBe(0);
    }

    const before = {
      params: await readTensor(device, params, count),
      m: await readTensor(device, m, count),
      v: await readTensor(device, v, count),
    };
    const poisoned = randomFloats(rng, count, 0.5);
    poisoned[1234] = NaN;
    const after = await runStep(poisoned, 4, 1);
    expect(after.norm[1]).toBe(1);
    expect(after.params).toEqual(before.params);
    expect(after.m).toEqual(before.m);
    expect(after.v).toEqual(before.v);

    await expectPaddingIntact(device, params, count, 'params');
    await expectPaddingIntact(device, m, count, 'm');
    await expectPaddingIntact(device, v, count, 'v');
    ctx.destroy();
  });
});
