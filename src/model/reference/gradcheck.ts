/**
 * Test helpers shared by the reference tests (and usable by kernel tests): central finite differences and a
 * tolerance check that reports the worst element.
 */
import { Rng } from '../../util/rng';

export function randomArray(rng: Rng, length: number, scale = 1): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = rng.normal() * scale;
  return a;
}

/**
 * Central finite-difference gradient of lossOf() with respect to input[indices] (all elements by default).
 * lossOf must recompute the loss from the current contents of input; input is restored afterwards.
 */
export function numericGradient(
  input: Float64Array | Float32Array,
  lossOf: () => number,
  step: number,
  indices?: ArrayLike<number>,
): Map<number, number> {
  const result = new Map<number, number>();
  const count = indices ? indices.length : input.length;
  for (let c = 0; c < count; c++) {
    const i = indices ? indices[c] : c;
    const original = input[i];
    input[i] = original + step;
    const plus = lossOf();
    input[i] = original - step;
    const minus = lossOf();
    input[i] = original;
    result.set(i, (plus - minus) / (2 * step));
  }
  return result;
}

export interface GradientMismatch {
  index: number;
  analytic: number;
  numeric: number;
  error: number;
}

/**
 * Worst violation of |analytic − numeric| <= absTol + relTol·max(|analytic|, |numeric|) over the checked elements,
 * or null when every element passes.
 */
export function worstMismatch(
  analytic: ArrayLike<number>,
  numeric: Map<number, number>,
  absTol: number,
  relTol: number,
): GradientMismatch | null {
  let worst: GradientMismatch | null = null;
  let worstExcess = 0;
  for (const [index, numericValue] of numeric) {
    const analyticValue = analytic[index];
    const error = Math.abs(analyticValue - numericValue);
    const allowed = absTol + relTol * Math.max(Math.abs(analyticValue), Math.abs(numericValue));
    if (!(error <= allowed) && error - allowed >= worstExcess) {
      worstExcess = error - allowed;
      worst = { index, analytic: analyticValue, numeric: numericValue, error };
    }
  }
  return worst;
}

/** Σ weights·values: a scalar loss whose gradient with respect to values is weights. */
export function weightedSum(values: ArrayLike<number>, weights: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += values[i] * weights[i];
  return total;
}
