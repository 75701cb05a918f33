import { afterAll, describe, it } from 'vitest';
import * as ref from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, submitDispatches } from '../context';
import { markSoftwareDevice } from '../device';
import { nodeDevice } from '../node-device';
import { rmsnormBackward, rmsnormForward } from './rmsnorm';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

// f32 row sums of up to a few hundred terms (dw: a few thousand) against the float64-accumulated reference.
const TOL = { rel: 1e-4, abs: 1e-5 };
const DW_TOL = { rel: 1e-4, abs: 1e-4 };

const SHAPES = [
  { rows: 1, d: 1 },
  { rows: 7, d: 37 },
  { rows: 33, d: 64 },
  // More rows than one reduction pass takes: dw goes through row-chunk partials and a column sum.
  { rows: 1500, d: 24 },
];
// Random shapes on top, from a fixed seed (every run tests the same ones; the test name gives each shape).
const shapeRng = new Rng(20261129);
for (let i = 0; i < 2; i++) SHAPES.push({ rows: 1 + shapeRng.int(600), d: 1 + shapeRng.int(160) });

// Both workgroup layouts: the GPU one (4 rows × 16 threads) and the CPU-adapter one (64 rows × 1 thread).
const CASES = [false, true].flatMap((software) => SHAPES.map((shape) => ({ ...shape, software })));

describe('rmsnorm kernels', () => {
  afterAll(async () => markSoftwareDevice((await nodeDevice()).device, (await nodeDevice()).software));

  it.each(CASES)('forward and backward match the reference for rows=$rows d=$d (software layout: $software)', async ({ rows, d, software }) => {
    const { device } = await nodeDevice();
    markSoftwareDevice(device, software);
    const ctx = new GpuContext(device);
    const rng = new Rng(rows * 1009 + d);
    const x = randomFloats(rng, rows * d, 2);
    const w = randomFloats(rng, d);
    const dout = randomFloats(rng, rows * d);
    const xRef = placeTensor(ctx, 'x', x, 3);
    const wRef = placeTensor(ctx, 'w', w, 5);
    const out = placeTensor(ctx, 'out', randomFloats(rng, rows * d), 2);
    const rstd = placeTensor(ctx, 'rstd', randomFloats(rng, rows), 7);
    // Pre-filled gradients: the backward pass must add to them.
    const dx0 = randomFloats(rng, rows * d);
    const dw0 = randomFloats(rng, d);
    const dx = placeTensor(ctx, 'dx', dx0, 1);
    const dw = placeTensor(ctx, 'dw', dw0, 4);
    submitDispatches(device, [
      ...rmsnormForward(ctx, { x: xRef, w: wRef, out, rstd, rows, d }),
      ...rmsnormBackward(ctx, { dout: placeTensor(ctx, 'dout', dout, 6), x: xRef, w: wRef, rstd, dx, dw, rows, d }),
    ]);

    const expectedOut = new Float32Array(rows * d);
    const expectedRstd = new Float32Array(rows);
    ref.rmsnormForward(expectedOut, expectedRstd, x, w, rows, d);
    const [expectedDx, expectedDw] = [dx0.slice(), dw0.slice()];
    ref.rmsnormBackward(expectedDx, expectedDw, dout, x, w, expectedRstd, rows, d);

    assertClose(await readTensor(device, out, rows * d), expectedOut, TOL, 'out');
    assertClose(await readTensor(device, rstd, rows), expectedRstd, TOL, 'rstd');
    assertClose(await readTensor(device, dx, rows * d), expectedDx, TOL, 'dx');
    assertClose(await readTensor(device, dw, d), expectedDw, DW_TOL, 'dw');
    await expectPaddingIntact(device, out, rows * d, 'out');
    await expectPaddingIntact(device, rstd, rows, 'rstd');
    await expectPaddingIntact(device, dx, rows * d, 'dx');
    await expectPaddingIntact(device, dw, d, 'dw');
    ctx.destroy();
  });
});
