import { describe, it } from 'vitest';
import * as ref from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { matmulBackward, matmulForward } from './matmul';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

// f32 sums of up to a few thousand N(0,1) products against the float64-accumulated reference.
const TOL = { rel: 1e-4, abs: 1e-4 };

interface Shape {
  M: number;
  K: number;
  N: number;
}

const SHAPES: Shape[] = [
  { M: 1, K: 1, N: 1 },
  { M: 37, K: 29, N: 51 },
  { M: 64, K: 64, N: 64 },
  { M: 130, K: 7, N: 3 },
  // Several 64×64 tiles in both directions, with partial tiles at the edges.
  { M: 150, K: 33, N: 130 },
  // Many rows and a small K×N: dW's reduction is split into row chunks and dbias sums in two passes.
  { M: 2000, K: 5, N: 9 },
];
// Random shapes on top, from a fixed seed (every run tests the same ones; the test name gives each shape).
const shapeRng = new Rng(20261129);
for (let i = 0; i < 3; i++) SHAPES.push({ M: 1 + shapeRng.int(300), K: 1 + shapeRng.int(100), N: 1 + shapeRng.int(200) });

async function setup() {
  const { device } = await nodeDevice();
  return { device, ctx: new GpuContext(device) };
}

describe('matmul kernels', () => {
  it.each(SHAPES)('forward matches the reference for M=$M K=$K N=$N', async ({ M, K, N }) => {
    const { device, ctx } = await setup();
    const rng = new Rng(M * 7919 + K * 31 + N);
    const x = randomFloats(rng, M * K);
    const w = randomFloats(rng, K * N);
    const bias = randomFloats(rng, N);
    for (const withBias of [true, false]) {
      const out = placeTensor(ctx, 'out', randomFloats(rng, M * N), 3);
      submitDispatches(
        device,
        matmulForward(ctx, {
          x: placeTensor(ctx, 'x', x, 5),
          w: placeTensor(ctx, 'w', w, 1),
          bias: withBias ? placeTensor(ctx, 'bias', bias, 7) : null,
          out,
          M,
          K,
          N,
        }),
      );
      const expected = new Float32Array(M * N);
      ref.matmulForward(expected, x, w, withBias ? bias : null, M, K, N);
      assertClose(await readTensor(device, out, M * N), expected, TOL, `out (bias: ${withBias})`);
      await expectPaddingIntact(device, out, M * N, 'out');
    }
    ctx.destroy();
  });

  it.each(SHAPES)('backward accumulates like the reference for M=$M K=$K N=$N', async ({ M, K, N }) => {
    const { device, ctx } = await setup();
    const rng = new Rng(M * 104729 + K * 131 + N);
    const x = randomFloats(rng, M * K);
    const w = randomFloats(rng, K * N);
    const dout = randomFloats(rng, M * N);
    for (const allGrads of [true, false]) {
      // Pre-filled gradients: the kernels must add to them.
      const dx0 = randomFloats(rng, M * K);
      const dw0 = randomFloats(rng, K * N);
      const dbias0 = randomFloats(rng, N);
      const dx = placeTensor(ctx, 'dx', dx0, 2);
      const dw = placeTensor(ctx, 'dw', dw0, 9);
      const dbias = placeTensor(ctx, 'dbias', dbias0, 4);
      submitDispatches(
        device,
        matmulBackward(ctx, {
          dout: placeTensor(ctx, 'dout', dout, 6),
          x: placeTensor(ctx, 'x', x, 3),
          w: placeTensor(ctx, 'w', w, 11),
          dx: allGrads ? dx : null,
          dw,
          dbias: allGrads ? dbias : null,
          M,
          K,
          N,
        }),
      );
      const [expectedDx, expectedDw, expectedDbias] = [dx0.slice(), dw0.slice(), dbias0.slice()];
      ref.matmulBackward(allGrads ? expectedDx : null, expectedDw, allGrads ? expectedDbias : null, dout, x, w, M, K, N);
      assertClose(await readTensor(device, dx, M * K), allGrads ? expectedDx : dx0, TOL, 'dx');
      assertClose(await readTensor(device, dw, K * N), expectedDw, TOL, 'dw');
      assertClose(await readTensor(device, dbias, N), allGrads ? expectedDbias : dbias0, TOL, 'dbias');
      await expectPaddingIntact(device, dx, M * K, 'dx');
      await expectPaddingIntact(device, dw, K * N, 'dw');
      await expectPaddingIntact(device, dbias, N, 'dbias');
    }
    ctx.destroy();
  });
});
