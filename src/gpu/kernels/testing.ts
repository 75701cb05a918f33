/**
 * Shared helpers for kernel tests: seeded random inputs, tensors placed at an offset inside a larger buffer (so the
 * kernel's offset handling and bounds checks are exercised), read-back, and tolerance checks that name the worst element.
 */
import type { Rng } from '../../util/rng';
import { GpuContext, readBuffer, type TensorRef } from '../context';

/** Standard-normal values times `scale`. */
export function randomFloats(rng: Rng, count: number, scale = 1): Float32Array {
  return Float32Array.from({ length: count }, () => rng.normal() * scale);
}

/**
 * Bit pattern of every element around a placed tensor: a NaN for f32 (and a huge number for u32/i32), so a kernel that
 * reads outside its tensor poisons its result and one that writes outside it is caught by `expectPaddingIntact`.
 */
export const PAD_BITS = 0x7fc0dead;
/** Elements of padding after each placed tensor. */
export const PAD_AFTER = 5;

/**
 * A storage buffer holding `data` at element `offset`, padding before and after. One tensor per buffer, so the
 * padding can be checked afterwards.
 */
export function placeTensor(
  ctx: GpuContext,
  label: string,
  data: Float32Array | Int32Array | Uint32Array,
  offset = 0,
): TensorRef {
  const whole = new Uint32Array(offset + data.length + PAD_AFTER).fill(PAD_BITS);
  // Copy bits, not values, so f32, i32 and u32 data all go through unchanged.
  whole.set(new Uint32Array(data.buffer, data.byteOffset, data.length), offset);
  return { buffer: ctx.storage(label, whole.byteLength, whole), offset };
}

/** The `count` f32 elements of a tensor. */
export async function readTensor(device: GPUDevice, ref: TensorRef, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, ref.buffer, (ref.offset + count) * 4), ref.offset * 4, count);
}

/** Throws when anything outside `[offset, offset + count)` of a buffer made by `placeTensor` was written. */
export async function expectPaddingIntact(device: GPUDevice, ref: TensorRef, count: number, what: string): Promise<void> {
  const whole = new Uint32Array(await readBuffer(device, ref.buffer, (ref.offset + count + PAD_AFTER) * 4));
  whole.forEach((bits, i) => {
    const inside = i >= ref.offset && i < ref.offset + count;
    if (!inside && bits !== PAD_BITS) {
      throw new Error(`${what}: padding element ${i} (tensor spans [${ref.offset}, ${ref.offset + count})) was overwritten`);
    }
  });
}

export interface Tolerance {
  abs: number;
  rel: number;
}

export interface ErrorSummary {
  maxAbs: number;
  maxRel: number;
  /** Index with the largest excess over the tolerance (or the largest absolute error when none is given). */
  worst: number;
  /** Number of elements outside the tolerance (0 when none is given). */
  failures: number;
}

/** Element i passes when |actual - expected| <= abs + rel·|expected|; NaN never passes. */
export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, tol?: Tolerance): ErrorSummary {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: got ${actual.length} elements, expected ${expected.length}`);
  }
  let maxAbs = 0;
  let maxRel = 0;
  let worst = 0;
  let worstExcess = -Infinity;
  let failures = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    const err = Number.isNaN(diff) ? Infinity : diff;
    maxAbs = Math.max(maxAbs, err);
    maxRel = Math.max(maxRel, err / Math.max(Math.abs(expected[i]), 1e-30));
    const excess = tol ? err - (tol.abs + tol.rel * Math.abs(expected[i])) : err;
    if (tol && excess > 0) failures++;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  return { maxAbs, maxRel, worst, failures };
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  const s = compareArrays(actual, expected, tol);
  if (s.failures > 0) {
    throw new Error(
      `${what}: ${s.failures} of ${expected.length} elements outside abs ${tol.abs} + rel ${tol.rel}; ` +
        `worst at index ${s.worst}: got ${actual[s.worst]}, expected ${expected[s.worst]} ` +
        `(max abs error ${s.maxAbs.toExponential(2)}, max rel error ${s.maxRel.toExponential(2)})`,
    );
  }
}
