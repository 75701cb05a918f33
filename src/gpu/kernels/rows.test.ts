/**
 * Row gather and scatter-add (shaders/rows.wgsl) against the CPU reference. Both only copy or add one value per
 * element: exact.
 */
import { describe, it } from 'vitest';
import * as ref from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { gatherRows, scatterAddRows } from './rows';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

const EXACT = { abs: 0, rel: 0 };

/** `count` distinct rows out of `rows`, in random order (like a batch's targets). */
function distinctRows(rng: Rng, rows: number, count: number): Int32Array {
  const all = Array.from({ length: rows }, (_, r) => r);
  for (let i = rows - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return Int32Array.from(all.slice(0, count));
}

describe('rows kernels', () => {
  // d not a multiple of anything; fewer rows this step than the buffers hold; every row; no row; and enough elements
  // for the grid-stride loop of a software device (32 workgroups of 256 threads).
  const cases = [
    { rows: 57, d: 13, maxRows: 20, count: 11 },
    { rows: 57, d: 13, maxRows: 20, count: 20 },
    { rows: 9, d: 5, maxRows: 4, count: 0 },
    { rows: 700, d: 64, maxRows: 300, count: 287 },
  ];
  it.each(cases)('gather and scatter-add match the reference: %o', async ({ rows, d, maxRows, count }) => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(rows + count);
    const x = randomFloats(rng, rows * d);
    const index = new Int32Array(maxRows).fill(-1); // rows past the count are never read
    index.set(distinctRows(rng, rows, count));
    const indexRef = placeTensor(ctx, 'index', index, 3);
    const countRef = placeTensor(ctx, 'count', Uint32Array.of(count, 99), 2);

    // Gather into a buffer full of garbage: the unused rows must come out 0.
    const gathered = placeTensor(ctx, 'gathered', randomFloats(rng, maxRows * d), 5);
    submitDispatches(device, gatherRows(ctx, { x: placeTensor(ctx, 'x', x, 7), out: gathered, index: indexRef, count: countRef, maxRows, d }));
    const expectedGather = new Float32Array(maxRows * d);
    ref.gatherRows(expectedGather, x, index, count, maxRows, d);
    assertClose(await readTensor(device, gathered, maxRows * d), expectedGather, EXACT, 'gathered');
    await expectPaddingIntact(device, gathered, maxRows * d, 'gathered');

    // Scatter-add compact rows onto a full buffer: target rows gain them, every other row stays as it was.
    const compact = randomFloats(rng, maxRows * d);
    const start = randomFloats(rng, rows * d);
    const full = placeTensor(ctx, 'full', start, 1);
    submitDispatches(device, scatterAddRows(ctx, { x: placeTensor(ctx, 'compact', compact, 4), out: full, index: indexRef, count: countRef, maxRows, d }));
    const expectedScatter = Float32Array.from(start);
    ref.scatterAddRows(expectedScatter, compact, index, count, d);
    assertClose(await readTensor(device, full, rows * d), expectedScatter, EXACT, 'scattered');
    await expectPaddingIntact(device, full, rows * d, 'full');
    ctx.destroy();
  });
});
