import { describe, it } from 'vitest';
import * as ref from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { geluBackward, geluForward } from './gelu';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

// Elementwise f32 math (tanh included) against float64.
const TOL = { rel: 1e-4, abs: 1e-5 };

// 1M + 77 elements: more than the dispatch covers in one pass on a software device (32 workgroups), so the grid-stride loop runs.
const COUNTS = [1, 1000, 4096 * 256 + 77];

describe('gelu kernels', () => {
  it.each(COUNTS)('forward and backward match the reference for %i elements', async (count) => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(count);
    const x = randomFloats(rng, count, 3);
    // Large arguments must saturate cleanly (no NaN from tanh's exp).
    x.set([20, -20, 100, -100].slice(0, count));
    const dout = randomFloats(rng, count);
    const dx0 = randomFloats(rng, count);
    const xRef = placeTensor(ctx, 'x', x, 3);
    const out = placeTensor(ctx, 'out', randomFloats(rng, count), 5);
    const dx = placeTensor(ctx, 'dx', dx0, 2);
    submitDispatches(device, [
      ...geluForward(ctx, { x: xRef, out, count }),
      ...geluBackward(ctx, { x: xRef, dout: placeTensor(ctx, 'dout', dout, 1), dx, count }),
    ]);

    const expectedOut = new Float32Array(count);
    ref.geluForward(expectedOut, x, count);
    const expectedDx = dx0.slice();
    ref.geluBackward(expectedDx, x, dout, count);
    assertClose(await readTensor(device, out, count), expectedOut, TOL, 'out');
    assertClose(await readTensor(device, dx, count), expectedDx, TOL, 'dx (accumulated)');
    await expectPaddingIntact(device, out, count, 'out');
    await expectPaddingIntact(device, dx, count, 'dx');
    ctx.destroy();
  });
});
