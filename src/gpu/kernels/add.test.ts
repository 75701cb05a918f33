import { describe, expect, it } from 'vitest';
import * as ref from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, gridStrideWorkgroups, submitDispatches } from '../context';
import { isSoftwareDevice, markSoftwareDevice } from '../device';
import { nodeDevice } from '../node-device';
import { addForward } from './add';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

// One f32 addition per element: exact up to rounding of the result.
const TOL = { rel: 1e-6, abs: 1e-7 };

// 1M + 77 elements: on a software device (32 workgroups of 256 threads) each thread loops over about 128 of them;
// with the GPU sizing (one thread per element) too, so both grids are checked.
const COUNTS = [1, 1000, 4096 * 256 + 77];

describe('add kernel', () => {
  it.each(COUNTS.flatMap((count) => [true, false].map((software) => [count, software] as const)))(
    'matches the reference for %i elements (software-device grid: %s)',
    async (count, software) => {
      const { device } = await nodeDevice();
      const wasSoftware = isSoftwareDevice(device);
      markSoftwareDevice(device, software);
      try {
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
      } finally {
        markSoftwareDevice(device, wasSoftware);
      }
    },
  );

  it('sizes grid-stride dispatches: one thread per element on GPUs (up to the limit), 32 workgroups on software devices', async () => {
    const { device } = await nodeDevice();
    const wasSoftware = isSoftwareDevice(device);
    try {
      markSoftwareDevice(device, true);
      expect([1, 256, 257, 1e6].map((count) => gridStrideWorkgroups(device, count, 256))).toEqual([1, 1, 2, 32]);
      markSoftwareDevice(device, false);
      expect([1, 256, 257, 1e6, 1e9].map((count) => gridStrideWorkgroups(device, count, 256))).toEqual([1, 1, 2, 3907, 65535]);
    } finally {
      markSoftwareDevice(device, wasSoftware);
    }
  });
});
