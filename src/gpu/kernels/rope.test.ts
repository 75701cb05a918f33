import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as reference from '../../model/reference/ops';
import { Rng } from '../../util/rng';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { ropeBackward, ropeForward } from './rope';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

// The angle position · frequency is rounded to f32 on the GPU (about 6e-8 relative, so 3e-5 rad at position 500);
// the reference rotates in float64. Values are N(0, 1).
const TOL = { abs: 1e-4, rel: 1e-4 };

let device: GPUDevice;
let ctx: GpuContext;
beforeAll(async () => {
  device = (await nodeDevice()).device;
  ctx = new GpuContext(device);
});
afterAll(() => ctx.destroy());

interface Case {
  rows: number;
  nHeads: number;
  headDim: number;
  maxPosition: number;
}

const CASES: Case[] = [
  { rows: 74, nHeads: 2, headDim: 16, maxPosition: 70 },
  { rows: 111, nHeads: 3, headDim: 12, maxPosition: 500 },
  { rows: 5, nHeads: 1, headDim: 2, maxPosition: 3000 },
];

async function runRope(which: 'forward' | 'backward', c: Case, data: Float32Array, positions: Int32Array): Promise<Float32Array> {
  const count = c.rows * 3 * c.nHeads * c.headDim;
  const tensor = placeTensor(ctx, 'qkv', data, 7);
  const pos = placeTensor(ctx, 'positions', positions, 3);
  const common = { positions: pos, rows: c.rows, nHeads: c.nHeads, headDim: c.headDim };
  submitDispatches(device, which === 'forward' ? ropeForward(ctx, { ...common, qkv: tensor }) : ropeBackward(ctx, { ...common, dqkv: tensor }));
  const result = await readTensor(device, tensor, count);
  await expectPaddingIntact(device, tensor, count, 'qkv');
  tensor.buffer.destroy();
  pos.buffer.destroy();
  return result;
}

describe('RoPE kernels against the CPU reference', () => {
  for (const c of CASES) {
    const name = `rows=${c.rows} H=${c.nHeads} hd=${c.headDim} positions < ${c.maxPosition}`;
    it(`forward and backward rotate q and k in place, leave v alone: ${name}`, async () => {
      const rng = new Rng(c.rows * 31 + c.headDim);
      const count = c.rows * 3 * c.nHeads * c.headDim;
      const positions = Int32Array.from({ length: c.rows }, () => rng.int(c.maxPosition));
      const input = randomFloats(rng, count);
      for (const which of ['forward', 'backward'] as const) {
        const expected = Float64Array.from(input);
        (which === 'forward' ? reference.ropeForward : reference.ropeBackward)(expected, positions, c.rows, c.nHeads, c.headDim);
        const actual = await runRope(which, c, input, positions);
        assertClose(actual, expected, TOL, `rope ${which}`);
        // v (columns [2d, 3d) of each row) is untouched, bit for bit.
        const d = c.nHeads * c.headDim;
        for (let r = 0; r < c.rows; r++) {
          for (let e = 2 * d; e < 3 * d; e++) expect(actual[r * 3 * d + e]).toBe(input[r * 3 * d + e]);
        }
      }
    });
  }

  it('backward undoes forward', async () => {
    const c = CASES[1];
    const rng = new Rng(3);
    const positions = Int32Array.from({ length: c.rows }, () => rng.int(c.maxPosition));
    const input = randomFloats(rng, c.rows * 3 * c.nHeads * c.headDim);
    const rotated = await runRope('forward', c, input, positions);
    const back = await runRope('backward', c, rotated, positions);
    assertClose(back, input, { abs: 1e-5, rel: 1e-5 }, 'backward(forward(x))');
  });

  it('rejects an odd head dimension', () => {
    const buffer = ctx.storage('x', 64);
    const ref = { buffer, offset: 0 };
    expect(() => ropeForward(ctx, { qkv: ref, positions: ref, rows: 1, nHeads: 1, headDim: 5 })).toThrow(/even/);
  });
});
