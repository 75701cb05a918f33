/**
 * Plain-TypeScript reference of every op of the engine (docs/ENGINE.md), forward and backward.
 * The WGSL kernels are tested against these, and the CPU model (./model.ts) is composed of them.
 *
 * Conventions (ENGINE.md): row-major f32 tensors; forward ops overwrite their outputs; backward ops ACCUMULATE (+=)
 * into every gradient output, except ropeBackward, which transforms the gradient in place.
 * Every op also accepts Float64Array buffers so that tests can check gradients against finite differences in float64;
 * sums are accumulated in JS numbers (float64) whatever the storage type.
 */
import { isAllowed } from '../../prompt/mask';
import { type IsolationLevel, ROLE_PAD, TOKEN_NO, TOKEN_YES, metaInteraction, metaRole } from '../../prompt/types';
import { RMS_EPS, ROPE_BASE, attentionBiasSlope } from '../config';

/** Storage accepted by the reference ops: Float32Array in the engine, Float64Array in gradient checks. */
export type FloatArray = Float32Array | Float64Array;

// ---------------------------------------------------------------------------------------------------------------
// Embedding

/** out[r] = wte[tokens[r]] (+ wpe[positions[r]] when wpe and positions are given). */
export function embeddingForward(
  out: FloatArray,
  tokens: Int32Array,
  positions: Int32Array | null,
  wte: FloatArray,
  wpe: FloatArray | null,
  rows: number,
  d: number,
): void {
  const usePositions = wpe !== null && positions !== null;
  for (let r = 0; r < rows; r++) {
    const tokenBase = tokens[r] * d;
    const positionBase = usePositions ? positions[r] * d : 0;
    for (let j = 0; j < d; j++) {
      out[r * d + j] = wte[tokenBase + j] + (usePositions ? wpe[positionBase + j] : 0);
    }
  }
}

export function embeddingBackward(
  dwte: FloatArray,
  dwpe: FloatArray | null,
  dout: FloatArray,
  tokens: Int32Array,
  positions: Int32Array | null,
  rows: number,
  d: number,
): void {
  const usePositions = dwpe !== null && positions !== null;
  for (let r = 0; r < rows; r++) {
    const tokenBase = tokens[r] * d;
    const positionBase = usePositions ? positions[r] * d : 0;
    for (let j = 0; j < d; j++) {
      const g = dout[r * d + j];
      dwte[tokenBase + j] += g;
      if (usePositions) dwpe[positionBase + j] += g;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Matmul: out[M,N] = x[M,K] @ w[K,N] + bias[N]

export function matmulForward(
  out: FloatArray,
  x: FloatArray,
  w: FloatArray,
  bias: FloatArray | null,
  M: number,
  K: number,
  N: number,
): void {
  const rowAcc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) rowAcc[j] = bias !== null ? bias[j] : 0;
    for (let k = 0; k < K; k++) {
      const xik = x[i * K + k];
      if (xik === 0) continue;
      const wRow = k * N;
      for (let j = 0; j < N; j++) rowAcc[j] += xik * w[wRow + j];
    }
    for (let j = 0; j < N; j++) out[i * N + j] = rowAcc[j];
  }
}

/** dx += dout @ wᵀ; dw += xᵀ @ dout; dbias += column sums of dout. Pass null for a gradient that is not needed. */
export function matmulBackward(
  dx: FloatArray | null,
  dw: FloatArray,
  dbias: FloatArray | null,
  dout: FloatArray,
  x: FloatArray,
  w: FloatArray,
  M: number,
  K: number,
  N: number,
): void {
  if (dx !== null) {
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        let acc = 0;
        for (let j = 0; j < N; j++) acc += dout[i * N + j] * w[k * N + j];
        dx[i * K + k] += acc;
      }
    }
  }
  const dwAcc = new Float64Array(K * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const xik = x[i * K + k];
      if (xik === 0) continue;
      for (let j = 0; j < N; j++) dwAcc[k * N + j] += xik * dout[i * N + j];
    }
  }
  for (let e = 0; e < K * N; e++) dw[e] += dwAcc[e];
  if (dbias !== null) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let i = 0; i < M; i++) acc += dout[i * N + j];
      dbias[j] += acc;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// RMSNorm: y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps)

export function rmsnormForward(out: FloatArray, rstd: FloatArray, x: FloatArray, w: FloatArray, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    let sumSquares = 0;
    for (let j = 0; j < d; j++) sumSquares += x[r * d + j] * x[r * d + j];
    const s = 1 / Math.sqrt(sumSquares / d + RMS_EPS);
    rstd[r] = s;
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * s * w[j];
  }
}

/**
 * dx_j = rstd · (w_j·g_j − x_j · rstd² · mean_k(w_k·g_k·x_k));  dw_j += g_j · x_j · rstd.
 * Uses the saved rstd, as the kernel does.
 */
export function rmsnormBackward(
  dx: FloatArray,
  dw: FloatArray,
  dout: FloatArray,
  x: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  rows: number,
  d: number,
): void {
  const dwAcc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const s = rstd[r];
    let dot = 0;
    for (let j = 0; j < d; j++) dot += w[j] * dout[r * d + j] * x[r * d + j];
    const correction = (dot / d) * s * s;
    for (let j = 0; j < d; j++) {
      const g = dout[r * d + j];
      const xj = x[r * d + j];
      dx[r * d + j] += s * (w[j] * g - xj * correction);
      dwAcc[j] += g * xj * s;
    }
  }
  for (let j = 0; j < d; j++) dw[j] += dwAcc[j];
}

// ---------------------------------------------------------------------------------------------------------------
// GELU (tanh approximation) and add

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

export function geluForward(out: FloatArray, x: FloatArray, count: number): void {
  for (let i = 0; i < count; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(GELU_SCALE * (v + GELU_CUBIC * v * v * v)));
  }
}

export function geluBackward(dx: FloatArray, x: FloatArray, dout: FloatArray, count: number): void {
  for (let i = 0; i < count; i++) {
    const v = x[i];
    const t = Math.tanh(GELU_SCALE * (v + GELU_CUBIC * v * v * v));
    const dInner = GELU_SCALE * (1 + 3 * GELU_CUBIC * v * v);
    const derivative = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dInner;
    dx[i] += dout[i] * derivative;
  }
}

export function addForward(out: FloatArray, a: FloatArray, b: FloatArray, count: number): void {
  for (let i = 0; i < count; i++) out[i] = a[i] + b[i];
}

// ---------------------------------------------------------------------------------------------------------------
// RoPE: interleaved pairs (2i, 2i+1) inside each head, angle = position · base^(-2i/hd), on the q and k parts of qkv.

function rotateQK(qkv: FloatArray, positions: Int32Array, rows: number, nHeads: number, headDim: number, sign: 1 | -1): void {
  const d = nHeads * headDim;
  const halfHead = headDim / 2;
  const inverseFrequency = new Float64Array(halfHead);
  for (let i = 0; i < halfHead; i++) inverseFrequency[i] = Math.pow(ROPE_BASE, (-2 * i) / headDim);
  for (let r = 0; r < rows; r++) {
    const position = positions[r];
    for (let i = 0; i < halfHead; i++) {
      const angle = sign * position * inverseFrequency[i];
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let part = 0; part < 2; part++) {
        // part 0 = q, part 1 = k; v is not rotated.
        for (let h = 0; h < nHeads; h++) {
          const e = r * 3 * d + part * d + h * headDim + 2 * i;
          const x0 = qkv[e];
          const x1 = qkv[e + 1];
          qkv[e] = x0 * cos - x1 * sin;
          qkv[e + 1] = x0 * sin + x1 * cos;
        }
      }
    }
  }
}

export function ropeForward(qkv: FloatArray, positions: Int32Array, rows: number, nHeads: number, headDim: number): void {
  rotateQK(qkv, positions, rows, nHeads, headDim, 1);
}

/** The rotation is orthogonal, so its transpose (the backward) is the rotation by the opposite angle. */
export function ropeBackward(dqkv: FloatArray, positions: Int32Array, rows: number, nHeads: number, headDim: number): void {
  rotateQK(dqkv, positions, rows, nHeads, headDim, -1);
}

// ---------------------------------------------------------------------------------------------------------------
// Attention

export interface AttentionShape {
  B: number;
  L: number;
  nHeads: number;
  headDim: number;
  /** Window size in interactions (Batch.n). */
  n: number;
  level: IsolationLevel;
  alibi: boolean;
  /** Distance-based forgetting (ModelConfig.forgetting). */
  forgetting: boolean;
}

/**
 * Where a row sits for the attention bias −slope · (coordinate_q − coordinate_p): its position (ALiBi) plus its
 * interaction index (forgetting).
 */
function biasCoordinate(row: number, meta: Uint32Array, positions: Int32Array, s: AttentionShape): number {
  return (s.alibi ? positions[row] : 0) + (s.forgetting ? metaInteraction(meta[row]) : 0);
}

/**
 * Visits the allowed keys of one query row with their (scaled, biased) score. Shared by forward and backward so
 * both see exactly the same scores.
 */
function forEachAllowedScore(
  qkv: FloatArray,
  meta: Uint32Array,
  positions: Int32Array,
  s: AttentionShape,
  b: number,
  h: number,
  q: number,
  visit: (keyRow: number, score: number) => void,
): void {
  const d = s.nHeads * s.headDim;
  const scale = 1 / Math.sqrt(s.headDim);
  const slope = s.alibi || s.forgetting ? attentionBiasSlope(h, s.nHeads) : 0;
  const queryRow = b * s.L + q;
  const metaQ = meta[queryRow];
  const coordinateQ = biasCoordinate(queryRow, meta, positions, s);
  const qBase = queryRow * 3 * d + h * s.headDim;
  for (let p = 0; p <= q; p++) {
    const keyRow = b * s.L + p;
    if (!isAllowed(q, p, metaQ, meta[keyRow], s.n, s.level)) continue;
    const kBase = keyRow * 3 * d + d + h * s.headDim;
    let dot = 0;
    for (let c = 0; c < s.headDim; c++) dot += qkv[qBase + c] * qkv[kBase + c];
    let score = dot * scale;
    if (slope) score -= slope * (coordinateQ - biasCoordinate(keyRow, meta, positions, s));
    visit(keyRow, score);
  }
}

/** out[B*L, d] (head-major columns), lse[B, H, L] = natural-log logsumexp of the allowed scores; pad rows get 0. */
export function attentionForward(
  out: FloatArray,
  lse: FloatArray,
  qkv: FloatArray,
  meta: Uint32Array,
  positions: Int32Array,
  s: AttentionShape,
): void {
  const { B, L, nHeads: H, headDim: hd } = s;
  const d = H * hd;
  const keyRows: number[] = [];
  const scores: number[] = [];
  const acc = new Float64Array(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let q = 0; q < L; q++) {
        const queryRow = b * L + q;
        const outBase = queryRow * d + h * hd;
        const lseIndex = (b * H + h) * L + q;
        if (metaRole(meta[queryRow]) === ROLE_PAD) {
          for (let c = 0; c < hd; c++) out[outBase + c] = 0;
          lse[lseIndex] = 0;
          continue;
        }
        keyRows.length = 0;
        scores.length = 0;
        forEachAllowedScore(qkv, meta, positions, s, b, h, q, (keyRow, score) => {
          keyRows.push(keyRow);
          scores.push(score);
        });
        let max = -Infinity;
        for (const score of scores) max = Math.max(max, score);
        let sum = 0;
        acc.fill(0);
        for (let i = 0; i < scores.length; i++) {
          const weight = Math.exp(scores[i] - max);
          sum += weight;
          const vBase = keyRows[i] * 3 * d + 2 * d + h * hd;
          for (let c = 0; c < hd; c++) acc[c] += weight * qkv[vBase + c];
        }
        for (let c = 0; c < hd; c++) out[outBase + c] = acc[c] / sum;
        lse[lseIndex] = max + Math.log(sum);
      }
    }
  }
}

/**
 * Flash-attention style backward from the saved out and lse: P = exp(score − lse), D = dout·out,
 * dScore = P·(dout·v − D); dq += dScore·k·scale, dk += dScore·q·scale, dv += P·dout. Pad rows receive nothing.
 */
/**
 * The attention probabilities of head h for batch row b, [L, L] with row = query: exp(score − lse) on the allowed
 * keys, 0 elsewhere (a row sums to 1; a pad query's row is 0). From the forward's qkv (after RoPE) and lse.
 */
export function attentionWeights(qkv: FloatArray, lse: FloatArray, meta: Uint32Array, positions: Int32Array, s: AttentionShape, b: number, h: number): Float64Array {
  const { L, nHeads: H } = s;
  const weights = new Float64Array(L * L);
  for (let q = 0; q < L; q++) {
    if (metaRole(meta[b * L + q]) === ROLE_PAD) continue;
    const logSum = lse[(b * H + h) * L + q];
    forEachAllowedScore(qkv, meta, positions, s, b, h, q, (keyRow, score) => {
      weights[q * L + (keyRow - b * L)] = Math.exp(score - logSum);
    });
  }
  return weights;
}

export function attentionBackward(
  dqkv: FloatArray,
  dout: FloatArray,
  out: FloatArray,
  lse: FloatArray,
  qkv: FloatArray,
  meta: Uint32Array,
  positions: Int32Array,
  s: AttentionShape,
): void {
  const { B, L, nHeads: H, headDim: hd } = s;
  const d = H * hd;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let q = 0; q < L; q++) {
        const queryRow = b * L + q;
        if (metaRole(meta[queryRow]) === ROLE_PAD) continue;
        const rowLse = lse[(b * H + h) * L + q];
        const outBase = queryRow * d + h * hd;
        const qBase = queryRow * 3 * d + h * hd;
        let rowDot = 0;
        for (let c = 0; c < hd; c++) rowDot += dout[outBase + c] * out[outBase + c];
        forEachAllowedScore(qkv, meta, positions, s, b, h, q, (keyRow, score) => {
          const probability = Math.exp(score - rowLse);
          const kBase = keyRow * 3 * d + d + h * hd;
          const vBase = keyRow * 3 * d + 2 * d + h * hd;
          let dProbability = 0;
          for (let c = 0; c < hd; c++) dProbability += dout[outBase + c] * qkv[vBase + c];
          const dScore = probability * (dProbability - rowDot) * scale;
          for (let c = 0; c < hd; c++) {
            dqkv[qBase + c] += dScore * qkv[kBase + c];
            dqkv[kBase + c] += dScore * qkv[qBase + c];
            dqkv[vBase + c] += probability * dout[outBase + c];
          }
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CTR readout and loss: z_t = xf[target_t] · (wte[YES] − wte[NO]), p_t = sigmoid(z_t), BCE averaged over targets.

/** logits[t] = z_t. */
export function ctrLogitsForward(logits: FloatArray, xf: FloatArray, wte: FloatArray, targetIndex: Int32Array, d: number): void {
  for (let t = 0; t < targetIndex.length; t++) {
    const rowBase = targetIndex[t] * d;
    let z = 0;
    for (let j = 0; j < d; j++) z += xf[rowBase + j] * (wte[TOKEN_YES * d + j] - wte[TOKEN_NO * d + j]);
    logits[t] = z;
  }
}

function sigmoid(z: number): number {
  // Written so that exp never overflows.
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Fills losses[t] and probs[t]; returns Σ losses / denominator (default T: the mean; 0 when there are no targets).
 * Training passes the targets an optimizer step holds on average (Batch.lossDenominator).
 */
export function ctrLossForward(
  losses: FloatArray,
  probs: FloatArray,
  xf: FloatArray,
  wte: FloatArray,
  targetIndex: Int32Array,
  targetLabel: Float32Array,
  d: number,
  denominator = targetIndex.length,
): number {
  const T = targetIndex.length;
  const logits = new Float64Array(T);
  ctrLogitsForward(logits, xf, wte, targetIndex, d);
  let total = 0;
  for (let t = 0; t < T; t++) {
    const z = logits[t];
    const y = targetLabel[t];
    const loss = Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    losses[t] = loss;
    probs[t] = sigmoid(z);
    total += loss;
  }
  return T > 0 ? total / denominator : 0;
}

export function ctrLossBackward(
  dxf: FloatArray,
  dwte: FloatArray,
  xf: FloatArray,
  wte: FloatArray,
  probs: FloatArray,
  targetIndex: Int32Array,
  targetLabel: Float32Array,
  d: number,
  denominator = targetIndex.length,
): void {
  const T = targetIndex.length;
  for (let t = 0; t < T; t++) {
    const dz = (probs[t] - targetLabel[t]) / denominator;
    const rowBase = targetIndex[t] * d;
    for (let j = 0; j < d; j++) {
      dxf[rowBase + j] += dz * (wte[TOKEN_YES * d + j] - wte[TOKEN_NO * d + j]);
      dwte[TOKEN_YES * d + j] += dz * xf[rowBase + j];
      dwte[TOKEN_NO * d + j] -= dz * xf[rowBase + j];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Optimiser

/** Global L2 norm, accumulated in float64. */
export function gradNorm(grads: FloatArray): number {
  let sumSquares = 0;
  for (let i = 0; i < grads.length; i++) sumSquares += grads[i] * grads[i];
  return Math.sqrt(sumSquares);
}

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
  /** Weight decay applies to params[0, decayedCount) only (the matrices). */
  decayedCount: number;
  /** Global gradient-norm clip; 0 = no clipping. */
  maxGradNorm: number;
}

/** Decoupled AdamW of ENGINE.md, with clipScale = min(1, maxNorm / (‖g‖₂ + 1e-6)) computed here from grads. */
export function adamwStep(params: FloatArray, grads: FloatArray, m: FloatArray, v: FloatArray, opts: AdamWOptions): void {
  const { lr, beta1, beta2, eps, weightDecay, step, decayedCount, maxGradNorm } = opts;
  const clipScale = maxGradNorm > 0 ? Math.min(1, maxGradNorm / (gradNorm(grads) + 1e-6)) : 1;
  const correction1 = 1 - Math.pow(beta1, step);
  const correction2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * clipScale;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    // Read the moments back as stored (f32 in the engine), as the GPU kernel does.
    const mi = m[i];
    const vi = v[i];
    const decay = i < decayedCount ? weightDecay * params[i] : 0;
    params[i] -= lr * (mi / correction1 / (Math.sqrt(vi / correction2) + eps) + decay);
  }
}
