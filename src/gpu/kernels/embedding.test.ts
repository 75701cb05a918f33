/**
 * Embedding kernels against the CPU reference (src/model/reference/ops.ts).
 * Forward is a gather plus at most one f32 add, so it must match exactly. Backward sums up to `rows` values of N(0,1)
 * in a different order than the reference: abs 1e-5 + rel 1e-5.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../util/rng';
import * as ref from '../../model/reference/ops';
import { GpuContext, submitDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { buildIndex, embeddingBackward, embeddingForward } from './embedding';
import { assertClose, expectPaddingIntact, placeTensor, randomFloats, readTensor } from './testing';

const EXACT = { abs: 0, rel: 0 };
const SUMMED = { abs: 1e-5, rel: 1e-5 };

/** Token ids where a few ids repeat many times (like PAD and [SUM]) and some ids never occur. */
function skewedTokens(rng: Rng, rows: number, vocab: number): Int32Array {
  return Int32Array.from({ length: rows }, () => (rng.next() < 0.5 ? rng.int(3) : rng.int(vocab - 2)));
}

describe('buildIndex', () => {
  it('sorts rows by id stably and gives each id its slice', () => {
    const ids = Int32Array.from([2, 0, 2, 4, 0, 2]);
    const { offsets, rows } = buildIndex(ids, 6);
    expect(Array.from(offsets)).toEqual([0, 2, 2, 5, 5, 6, 6]);
    expect(Array.from(rows)).toEqual([1, 4, 0, 2, 5, 3]);
  });

  it('rejects ids outside the table', () => {
    expect(() => buildIndex(Int32Array.from([0, 3]), 3)).toThrow(/outside/);
    expect(() => buildIndex(Int32Array.from([-1]), 3)).toThrow(/outside/);
  });
});

describe('embedding kernels', () => {
  const rows = 157; // not a multiple of the 256-thread workgroup once multiplied by d
  const d = 37;
  const vocab = 29;
  const maxSeqLen = 23;

  it('forward gathers wte rows, with and without learned positions', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(11);
    const tokens = skewedTokens(rng, rows, vocab);
    const positions = Int32Array.from({ length: rows }, (_, r) => r % maxSeqLen);
    const wte = randomFloats(rng, vocab * d);
    const wpe = randomFloats(rng, maxSeqLen * d);
    const tokensRef = placeTensor(ctx, 'tokens', tokens, 3);
    const positionsRef = placeTensor(ctx, 'positions', positions, 7);
    const wteRef = placeTensor(ctx, 'wte', wte, 13);
    const wpeRef = placeTensor(ctx, 'wpe', wpe, 2);

    for (const learned of [false, true]) {
      const out = placeTensor(ctx, 'out', new Float32Array(rows * d), 5);
      submitDispatches(
        device,
        embeddingForward(ctx, {
          tokens: tokensRef,
          positions: learned ? positionsRef : null,
          wte: wteRef,
          wpe: learned ? wpeRef : null,
          out,
          rows,
          d,
        }),
      );
      const expected = new Float32Array(rows * d);
      ref.embeddingForward(expected, tokens, learned ? positions : null, wte, learned ? wpe : null, rows, d);
      assertClose(await readTensor(device, out, rows * d), expected, EXACT, `forward (learned=${learned})`);
      await expectPaddingIntact(device, out, rows * d, 'forward out');
    }
    ctx.destroy();
  });

  it('backward accumulates Σ dout per id into pre-filled wte and wpe gradients, deterministically', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const rng = new Rng(12);
    const tokens = skewedTokens(rng, rows, vocab);
    const positions = Int32Array.from({ length: rows }, (_, r) => r % maxSeqLen);
    const dout = randomFloats(rng, rows * d);
    const dwteStart = randomFloats(rng, vocab * d);
    const dwpeStart = randomFloats(rng, maxSeqLen * d);
    const tokenIndex = buildIndex(tokens, vocab);
    const positionIndex = buildIndex(positions, maxSeqLen);
    const doutRef = placeTensor(ctx, 'dout', dout, 9);

    const runOnce = async () => {
      const dwte = placeTensor(ctx, 'dwte', dwteStart, 4);
      const dwpe = placeTensor(ctx, 'dwpe', dwpeStart, 1);
      submitDispatches(device, [
        ...embeddingBackward(ctx, {
          dout: doutRef,
          offsets: placeTensor(ctx, 'tokenOffsets', tokenIndex.offsets, 6),
          rows: placeTensor(ctx, 'tokenRows', tokenIndex.rows, 2),
          dtable: dwte,
          tableRows: vocab,
          d,
        }),
        ...embeddingBackward(ctx, {
          dout: doutRef,
          offsets: placeTensor(ctx, 'positionOffsets', positionIndex.offsets, 3),
          rows: placeTensor(ctx, 'positionRows', positionIndex.rows, 8),
          dtable: dwpe,
          tableRows: maxSeqLen,
          d,
        }),
      ]);
      await expectPaddingIntact(device, dwte, vocab * d, 'dwte');
      await expectPaddingIntact(device, dwpe, maxSeqLen * d, 'dwpe');
      return { dwte: await readTensor(device, dwte, vocab * d), dwpe: await readTensor(device, dwpe, maxSeqLen * d) };
    };

    const first = await runOnce();
    const expectedDwte = dwteStart.slice();
    const expectedDwpe = dwpeStart.slice();
    ref.embeddingBackward(expectedDwte, expectedDwpe, dout, tokens, positions, rows, d);
    assertClose(first.dwte, expectedDwte, SUMMED, 'dwte');
    assertClose(first.dwpe, expectedDwpe, SUMMED, 'dwpe');
    // Ids absent from the batch keep their pre-filled gradient bit for bit.
    const rowOf = (table: Float32Array, v: number) => table.subarray(v * d, (v + 1) * d);
    const ids = Array.from({ length: vocab }, (_, v) => v);
    const absent = ids.filter((v) => tokenIndex.offsets[v] === tokenIndex.offsets[v + 1]);
    expect(absent.length).toBeGreaterThan(0);
    for (const v of absent) expect(rowOf(first.dwte, v)).toEqual(rowOf(dwteStart, v));

    const second = await runOnce();
    expect(second.dwte).toEqual(first.dwte);
    expect(second.dwpe).toEqual(first.dwpe);
    ctx.destroy();
  });
});
