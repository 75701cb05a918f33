/**
 * Global gradient norm against the CPU reference (float64 sum). The f32 partial sums of positive terms are accurate
 * to about log2(count)·2⁻²⁴ relative, so the norm gets rel 1e-5.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../util/rng';
import * as ref from '../../model/reference/ops';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { gradNorm } from './grad-norm';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

const NORM = { abs: 0, rel: 1e-5 };

/**
 * [‖g‖₂, non-finite flag] as computed on the GPU. `placeTensor` surrounds grads with NaNs, so a read past `count`
 * would set the flag.
 */
async function gpuNorm(device: GPUDevice, ctx: GpuContext, grads: Float32Array): Promise<Float32Array> {
  const out = placeTensor(ctx, 'norm', new Float32Array(2), 3);
  submitDispatches(device, gradNorm(ctx, { grads: placeTensor(ctx, 'grads', grads, 13), count: grads.length, out }));
  await expectPaddingIntact(device, out, 2, 'norm');
  return readTensor(device, out, 2);
}

describe('gradNorm kernel', () => {
  // 300_001 needs more than the 1024 first-pass workgroups (grid-stride loop) and more than 256 partials.
  it.each([1, 37, 300_001])('matches the reference for %i gradients', async (count) => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const grads = randomFloats(new Rng(count), count, 0.01);
    const [norm, flag] = await gpuNorm(device, ctx, grads);
    assertClose([norm], [ref.gradNorm(grads)], NORM, 'norm');
    expect(flag).toBe(0);
    ctx.destroy();
  });

  it('flags NaN and ±Inf gradients', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    for (const [index, value] of [
      [517, NaN],
      [999, Infinity],
      [0, -Infinity],
    ]) {
      const grads = randomFloats(new Rng(31), 1000);
      grads[index] = value;
      const [, flag] = await gpuNorm(device, ctx, grads);
      expect(flag, `${value} at ${index}`).toBe(1);
    }
    ctx.destroy();
  });
});
