import { describe, it } from 'vitest';
import * as ref from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { addForward } from './add';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

// One f32 addition per element: exact up to rounding of the result.
const TOL = { rel: 1e-6, abs: 1e-7 };

// 1M + 77 elements: more than the capped dispatch covers in one pass, so the grid-stride loop runs.
const COUNTS = [1, 1000, 4096 * 256 + 77];

describe('add kernel', () => {
  it.each(COUNTS)('matches the reference for %i elements', async (count) => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(count + 17);
    const a = randomFloats(rng, count);
    const b = randomFloats(rng, count);
    const out = placeTensor(ctx, 'out', randomFloats(rng, count), 6);
    submitDispatches(device, addForward(ctx, { a: placeTensor(ctx, 'a', a, 3), b: placeTensor(ctx, 'b', b, 1), out, count }));
    const expected = new Float32Array(count);
    ref.addForward(expected, a, b, count);
    assertClose(await readTensor(device, out, count), expected, TOL, 'out');
    await expectPaddingIntact(device, out, count, 'out');
    ctx.destroy();
  });
});
