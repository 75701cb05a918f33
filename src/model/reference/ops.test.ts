/**
 * Every reference op's backward against central finite differences of its forward, in float64.
 * Tolerance (float64, step 1e-5): |analytic − numeric| <= 1e-8 + 1e-6·max(|analytic|, |numeric|). The truncation error
 * of a central difference is O(step²·f''') ≈ 1e-10 and round-off ≈ 1e-16/step ≈ 1e-11, so a real bug (a wrong sign,
 * a missing term, a wrong index) is many orders of magnitude above the tolerance.
 * Gradient buffers are pre-filled with random values to check that backward ops accumulate (+=) rather than overwrite.
 */
import { describe, expect, it } from 'vitest';
import {
  ISOLATION_LEVELS,
  type IsolationLevel,
  ROLE_ITEM,
  ROLE_LABEL,
  ROLE_PAD,
  ROLE_SUM,
  type Role,
  TOKEN_NO,
  TOKEN_YES,
  metaRole,
  packMeta,
} from '../../prompt/types';
import { Rng } from '../../util/rng';
import { numericGradient, randomArray, weightedSum, worstMismatch } from './gradcheck';
import {
  type AttentionShape,
  adamwStep,
  addForward,
  attentionBackward,
  attentionForward,
  ctrLogitsForward,
  ctrLossBackward,
  ctrLossForward,
  embeddingBackward,
  embeddingForward,
  geluBackward,
  geluForward,
  gradNorm,
  matmulBackward,
  matmulForward,
  rmsnormBackward,
  rmsnormForward,
  ropeBackward,
  ropeForward,
} from './ops';

const STEP = 1e-5;
const ABS_TOL = 1e-8;
const REL_TOL = 1e-6;

/** A gradient buffer pre-filled with random values; delta() is what the backward op added. */
function prefilledGradient(rng: Rng, length: number): { grad: Float64Array; delta: () => Float64Array } {
  const prefill = randomArray(rng, length);
  const grad = prefill.slice();
  return { grad, delta: () => grad.map((g, i) => g - prefill[i]) };
}

function expectGradientMatches(label: string, analytic: ArrayLike<number>, input: Float64Array, lossOf: () => number): void {
  const numeric = numericGradient(input, lossOf, STEP);
  const worst = worstMismatch(analytic, numeric, ABS_TOL, REL_TOL);
  expect(worst, `${label}: ${JSON.stringify(worst)}`).toBeNull();
}

describe('embedding', () => {
  for (const learned of [true, false]) {
    it(`backward matches finite differences (${learned ? 'with' : 'without'} learned positions)`, () => {
      const rng = new Rng(1);
      const rows = 9, d = 4, V = 5, maxPositions = 6;
      // Repeated tokens and positions check that rows accumulate into the same embedding row.
      const tokens = Int32Array.from({ length: rows }, () => rng.int(V));
      const positions = Int32Array.from({ length: rows }, () => rng.int(maxPositions));
      const wte = randomArray(rng, V * d);
      const wpe = randomArray(rng, maxPositions * d);
      const weights = randomArray(rng, rows * d);
      const out = new Float64Array(rows * d);
      const loss = () => {
        embeddingForward(out, tokens, learned ? positions : null, wte, learned ? wpe : null, rows, d);
        return weightedSum(out, weights);
      };
      const dwte = prefilledGradient(rng, V * d);
      const dwpe = prefilledGradient(rng, maxPositions * d);
      embeddingBackward(dwte.grad, learned ? dwpe.grad : null, weights, tokens, learned ? positions : null, rows, d);
      expectGradientMatches('dwte', dwte.delta(), wte, loss);
      if (learned) expectGradientMatches('dwpe', dwpe.delta(), wpe, loss);
      else expect(Array.from(dwpe.delta()).every((g) => g === 0)).toBe(true);
    });
  }
});

describe('matmul', () => {
  it('forward is x @ w + bias', () => {
    const out = new Float64Array(2 * 2);
    // x = [[1,2,3],[4,5,6]], w = [[1,0],[0,1],[1,1]], bias = [10, 20]
    matmulForward(out, Float64Array.of(1, 2, 3, 4, 5, 6), Float64Array.of(1, 0, 0, 1, 1, 1), Float64Array.of(10, 20), 2, 3, 2);
    expect(Array.from(out)).toEqual([14, 25, 20, 31]);
  });

  it('backward matches finite differences for dx, dw and dbias', () => {
    const rng = new Rng(2);
    const M = 5, K = 4, N = 3;
    const x = randomArray(rng, M * K);
    const w = randomArray(rng, K * N);
    const bias = randomArray(rng, N);
    const weights = randomArray(rng, M * N);
    const out = new Float64Array(M * N);
    const loss = () => {
      matmulForward(out, x, w, bias, M, K, N);
      return weightedSum(out, weights);
    };
    const dx = prefilledGradient(rng, M * K);
    const dw = prefilledGradient(rng, K * N);
    const dbias = prefilledGradient(rng, N);
    matmulBackward(dx.grad, dw.grad, dbias.grad, weights, x, w, M, K, N);
    expectGradientMatches('dx', dx.delta(), x, loss);
    expectGradientMatches('dw', dw.delta(), w, loss);
    expectGradientMatches('dbias', dbias.delta(), bias, loss);

    // Without dx and bias: dw alone must come out the same (up to the rounding of the different prefills).
    const dwOnly = prefilledGradient(rng, K * N);
    matmulBackward(null, dwOnly.grad, null, weights, x, w, M, K, N);
    const dwDelta = dw.delta();
    dwOnly.delta().forEach((g, i) => expect(g).toBeCloseTo(dwDelta[i], 12));
  });
});

describe('rmsnorm', () => {
  it('forward normalises to unit root-mean-square before the gain', () => {
    const out = new Float64Array(4);
    const rstd = new Float64Array(1);
    rmsnormForward(out, rstd, Float64Array.of(3, 4, 0, 0), Float64Array.of(1, 1, 2, 2), 1, 4);
    // mean(x²) = 25/4, rstd = 1/sqrt(6.25 + 1e-5)
    expect(rstd[0]).toBeCloseTo(1 / Math.sqrt(6.25 + 1e-5), 12);
    expect(out[0]).toBeCloseTo(3 / Math.sqrt(6.25 + 1e-5), 12);
  });

  it('backward matches finite differences for dx and dw', () => {
    const rng = new Rng(3);
    const rows = 4, d = 6;
    const x = randomArray(rng, rows * d);
    const w = randomArray(rng, d);
    const weights = randomArray(rng, rows * d);
    const out = new Float64Array(rows * d);
    const rstd = new Float64Array(rows);
    const loss = () => {
      rmsnormForward(out, rstd, x, w, rows, d);
      return weightedSum(out, weights);
    };
    loss();
    const dx = prefilledGradient(rng, rows * d);
    const dw = prefilledGradient(rng, d);
    rmsnormBackward(dx.grad, dw.grad, weights, x, w, rstd, rows, d);
    expectGradientMatches('dx', dx.delta(), x, loss);
    expectGradientMatches('dw', dw.delta(), w, loss);
  });
});

describe('gelu and add', () => {
  it('gelu forward matches known values of the tanh approximation', () => {
    const out = new Float64Array(3);
    geluForward(out, Float64Array.of(0, 1, -1), 3);
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo(0.8411919906, 9);
    expect(out[2]).toBeCloseTo(-0.1588080094, 9);
  });

  it('gelu backward matches finite differences', () => {
    const rng = new Rng(4);
    const count = 25;
    const x = randomArray(rng, count, 2);
    const weights = randomArray(rng, count);
    const out = new Float64Array(count);
    const loss = () => {
      geluForward(out, x, count);
      return weightedSum(out, weights);
    };
    const dx = prefilledGradient(rng, count);
    geluBackward(dx.grad, x, weights, count);
    expectGradientMatches('dx', dx.delta(), x, loss);
  });

  it('add forward overwrites with the element-wise sum', () => {
    const out = Float64Array.of(9, 9, 9);
    addForward(out, Float64Array.of(1, 2, 3), Float64Array.of(10, 20, 30), 3);
    expect(Array.from(out)).toEqual([11, 22, 33]);
  });
});

describe('rope', () => {
  it('rotates interleaved pairs of q and k by position · 10000^(-2i/hd) and leaves v alone', () => {
    const nHeads = 1, headDim = 4, d = 4;
    const qkv = Float64Array.from({ length: 3 * d }, () => 1);
    ropeForward(qkv, Int32Array.of(1), 1, nHeads, headDim);
    // pair 0: angle 1; pair 1: angle 10000^(-1/2) = 0.01. (1,1) rotated by a = (cos a − sin a, sin a + cos a).
    const expectedPair = (a: number) => [Math.cos(a) - Math.sin(a), Math.sin(a) + Math.cos(a)];
    const expectedHead = [...expectedPair(1), ...expectedPair(0.01)];
    for (let c = 0; c < d; c++) {
      expect(qkv[c]).toBeCloseTo(expectedHead[c], 12);
      expect(qkv[d + c]).toBeCloseTo(expectedHead[c], 12);
      expect(qkv[2 * d + c]).toBe(1);
    }
  });

  it('q·k after rotation depends only on the position difference', () => {
    const rng = new Rng(5);
    const nHeads = 2, headDim = 6, d = 12;
    const base = randomArray(rng, 3 * d);
    const rotatedDot = (positionQ: number, positionK: number) => {
      const q = base.slice();
      const k = base.slice();
      ropeForward(q, Int32Array.of(positionQ), 1, nHeads, headDim);
      ropeForward(k, Int32Array.of(positionK), 1, nHeads, headDim);
      let dot = 0;
      for (let c = 0; c < headDim; c++) dot += q[c] * k[d + c];
      return dot;
    };
    expect(rotatedDot(7, 3)).toBeCloseTo(rotatedDot(14, 10), 10);
    expect(Math.abs(rotatedDot(7, 3) - rotatedDot(7, 4))).toBeGreaterThan(1e-6);
  });

  it('backward matches finite differences and undoes the forward', () => {
    const rng = new Rng(6);
    const rows = 5, nHeads = 2, headDim = 4, d = 8;
    const positions = Int32Array.from({ length: rows }, () => rng.int(40));
    const qkv = randomArray(rng, rows * 3 * d);
    const weights = randomArray(rng, rows * 3 * d);
    const loss = () => {
      const rotated = qkv.slice();
      ropeForward(rotated, positions, rows, nHeads, headDim);
      return weightedSum(rotated, weights);
    };
    const dqkv = weights.slice();
    ropeBackward(dqkv, positions, rows, nHeads, headDim); // in place, not accumulated
    expectGradientMatches('dqkv', dqkv, qkv, loss);

    const roundTrip = qkv.slice();
    ropeForward(roundTrip, positions, rows, nHeads, headDim);
    ropeBackward(roundTrip, positions, rows, nHeads, headDim);
    for (let i = 0; i < qkv.length; i++) expect(roundTrip[i]).toBeCloseTo(qkv[i], 12);
  });
});

/**
 * Random [B, L] metadata: interactions of 1–3 item tokens, [SUM], label; `padTail[b]` pad tokens end row b.
 * Positions count tokens from 0 within the row (pads get 0).
 */
function randomMeta(rng: Rng, B: number, L: number, padTail: number[]): { meta: Uint32Array; positions: Int32Array } {
  const meta = new Uint32Array(B * L);
  const positions = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const length = L - padTail[b];
    let t = 0;
    for (let interaction = 0; t < length; interaction++) {
      const roles: Role[] = [...Array<Role>(1 + rng.int(3)).fill(ROLE_ITEM), ROLE_SUM, ROLE_LABEL];
      for (const role of roles) {
        if (t >= length) break;
        meta[b * L + t] = packMeta(interaction, role);
        positions[b * L + t] = t;
        t++;
      }
    }
    for (; t < L; t++) meta[b * L + t] = packMeta(0, ROLE_PAD);
  }
  return { meta, positions };
}

describe('attention', () => {
  const B = 2, L = 13, nHeads = 2, headDim = 3, d = nHeads * headDim;
  const padTail = [0, 3];

  const BIASES = [
    { alibi: false, forgetting: false },
    { alibi: true, forgetting: false },
    { alibi: false, forgetting: true },
    { alibi: true, forgetting: true },
  ];
  for (const level of ISOLATION_LEVELS) {
    for (const { alibi, forgetting } of BIASES) {
      it(`backward matches finite differences (${level}, alibi ${alibi ? 'on' : 'off'}, forgetting ${forgetting ? 'on' : 'off'})`, () => {
        const rng = new Rng(7);
        const { meta, positions } = randomMeta(rng, B, L, padTail);
        const shape: AttentionShape = { B, L, nHeads, headDim, n: 2, level, alibi, forgetting };
        const qkv = randomArray(rng, B * L * 3 * d);
        const weights = randomArray(rng, B * L * d);
        const out = new Float64Array(B * L * d);
        const lse = new Float64Array(B * nHeads * L);
        const loss = () => {
          attentionForward(out, lse, qkv, meta, positions, shape);
          return weightedSum(out, weights);
        };
        loss();
        const dqkv = prefilledGradient(rng, qkv.length);
        attentionBackward(dqkv.grad, weights, out, lse, qkv, meta, positions, shape);
        const delta = dqkv.delta();
        expectGradientMatches('dqkv', delta, qkv, loss);

        // Pad rows: output 0, lse 0, and no gradient flows to their q, k or v.
        const padRow = 1 * L + (L - 1);
        for (let c = 0; c < d; c++) expect(out[padRow * d + c]).toBe(0);
        for (let h = 0; h < nHeads; h++) expect(lse[(1 * nHeads + h) * L + (L - 1)]).toBe(0);
        for (let c = 0; c < 3 * d; c++) expect(delta[padRow * 3 * d + c]).toBe(0);
      });
    }
  }

  for (const { alibi, forgetting } of BIASES) {
    it(`full-causal equals an independent dense causal softmax attention (alibi ${alibi ? 'on' : 'off'}, forgetting ${forgetting ? 'on' : 'off'})`, () => {
      const rng = new Rng(8);
      const { meta, positions } = randomMeta(rng, B, L, padTail);
      const qkv = randomArray(rng, B * L * 3 * d);
      const out = new Float64Array(B * L * d);
      const lse = new Float64Array(B * nHeads * L);
      attentionForward(out, lse, qkv, meta, positions, { B, L, nHeads, headDim, n: 1, level: 'full-causal', alibi, forgetting });
      // The interaction of each token, counted here from the roles rather than read from the metadata.
      const interactionOf = (b: number, row: number) => {
        let index = 0;
        for (let t = 0; t < row; t++) if (metaRole(meta[b * L + t]) === ROLE_LABEL) index++;
        return index;
      };

      for (let b = 0; b < B; b++) {
        const length = L - padTail[b];
        for (let h = 0; h < nHeads; h++) {
          const slope = Math.pow(2, (-8 * (h + 1)) / nHeads);
          for (let q = 0; q < length; q++) {
            const get = (row: number, part: number, c: number) => qkv[(b * L + row) * 3 * d + part * d + h * headDim + c];
            const scores: number[] = [];
            for (let p = 0; p <= q; p++) {
              let dot = 0;
              for (let c = 0; c < headDim; c++) dot += get(q, 0, c) * get(p, 1, c);
              const distance = (alibi ? q - p : 0) + (forgetting ? interactionOf(b, q) - interactionOf(b, p) : 0);
              scores.push(dot / Math.sqrt(headDim) - slope * distance);
            }
            const expScores = scores.map(Math.exp);
            const total = expScores.reduce((a, e) => a + e, 0);
            expect(lse[(b * nHeads + h) * L + q]).toBeCloseTo(Math.log(total), 12);
            for (let c = 0; c < headDim; c++) {
              let expected = 0;
              for (let p = 0; p <= q; p++) expected += (expScores[p] / total) * get(p, 2, c);
              expect(out[(b * L + q) * d + h * headDim + c]).toBeCloseTo(expected, 12);
            }
          }
        }
      }
    });
  }

  it('strict: item and label tokens depend on their own interaction only, [SUM] on its window of n', () => {
    const rng = new Rng(9);
    const { meta, positions } = randomMeta(rng, 1, L, [0]);
    const level: IsolationLevel = 'strict';
    const shape: AttentionShape = { B: 1, L, nHeads, headDim, n: 1, level, alibi: true, forgetting: true };
    const qkv = randomArray(rng, L * 3 * d);
    const out = new Float64Array(L * d);
    const lse = new Float64Array(nHeads * L);
    attentionForward(out, lse, qkv, meta, positions, shape);
    // Perturb every token of interaction 0: outputs of interaction 1's item/label tokens must not move,
    // interaction 1's [SUM] must (window n = 1), interaction 2's outputs must not.
    const perturbed = qkv.slice();
    for (let t = 0; t < L; t++) {
      if (meta[t] >>> 2 === 0) for (let c = 0; c < 3 * d; c++) perturbed[t * 3 * d + c] += 0.5;
    }
    const outPerturbed = new Float64Array(L * d);
    attentionForward(outPerturbed, lse, perturbed, meta, positions, shape);
    for (let t = 0; t < L; t++) {
      const interaction = meta[t] >>> 2;
      const role = meta[t] & 3;
      const moved = Math.max(...Array.from({ length: d }, (_, c) => Math.abs(out[t * d + c] - outPerturbed[t * d + c])));
      if (interaction === 0) expect(moved).toBeGreaterThan(1e-6);
      else if (interaction === 1 && role === ROLE_SUM) expect(moved).toBeGreaterThan(1e-6);
      else expect(moved).toBe(0);
    }
  });
});

describe('ctr loss', () => {
  const rows = 6, d = 5, V = 8;
  const targetIndex = Int32Array.of(1, 4, 5);
  const targetLabel = Float32Array.of(1, 0, 1);

  it('forward is the mean BCE of sigmoid(xf · (wte[YES] − wte[NO]))', () => {
    const rng = new Rng(10);
    const xf = randomArray(rng, rows * d);
    const wte = randomArray(rng, V * d);
    const losses = new Float64Array(3);
    const probs = new Float64Array(3);
    const mean = ctrLossForward(losses, probs, xf, wte, targetIndex, targetLabel, d);
    let expectedMean = 0;
    for (let t = 0; t < 3; t++) {
      let z = 0;
      for (let j = 0; j < d; j++) z += xf[targetIndex[t] * d + j] * (wte[TOKEN_YES * d + j] - wte[TOKEN_NO * d + j]);
      const p = 1 / (1 + Math.exp(-z));
      const y = targetLabel[t];
      const bce = -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
      expect(probs[t]).toBeCloseTo(p, 12);
      expect(losses[t]).toBeCloseTo(bce, 12);
      expectedMean += bce / 3;
    }
    expect(mean).toBeCloseTo(expectedMean, 12);
    const logits = new Float64Array(3);
    ctrLogitsForward(logits, xf, wte, targetIndex, d);
    expect(1 / (1 + Math.exp(-logits[0]))).toBeCloseTo(probs[0], 12);
  });

  it('is stable for huge logits', () => {
    const xf = Float64Array.of(1000, -1000);
    const wte = new Float64Array(5 * 2);
    wte[TOKEN_YES * 2] = 1; // z = xf[row][0]
    const losses = new Float64Array(2);
    const probs = new Float64Array(2);
    ctrLossForward(losses, probs, xf, wte, Int32Array.of(0, 0), Float32Array.of(1, 0), 2);
    // z = 1000: label 1 costs ~0, label 0 costs 1000.
    expect(losses[0]).toBeCloseTo(0, 12);
    expect(losses[1]).toBeCloseTo(1000, 9);
    expect(probs[0]).toBe(1);
  });

  it('backward matches finite differences for dxf and dwte', () => {
    const rng = new Rng(11);
    const xf = randomArray(rng, rows * d);
    const wte = randomArray(rng, V * d);
    const losses = new Float64Array(3);
    const probs = new Float64Array(3);
    const loss = () => ctrLossForward(losses, probs, xf, wte, targetIndex, targetLabel, d);
    loss();
    const dxf = prefilledGradient(rng, rows * d);
    const dwte = prefilledGradient(rng, V * d);
    ctrLossBackward(dxf.grad, dwte.grad, xf, wte, probs, targetIndex, targetLabel, d);
    expectGradientMatches('dxf', dxf.delta(), xf, loss);
    expectGradientMatches('dwte', dwte.delta(), wte, loss);
  });
});

describe('optimiser', () => {
  it('gradNorm is the global L2 norm', () => {
    expect(gradNorm(Float32Array.of(3, 0, -4))).toBe(5);
  });

  it('adamwStep: first step moves each weight by lr·(ĝ/(|ĝ|+eps) + wd·p) with clipping and decay on the prefix only', () => {
    const params = Float64Array.of(1, -2, 0.5, 3);
    const grads = Float64Array.of(3, 4, 0, -0.001);
    const m = new Float64Array(4);
    const v = new Float64Array(4);
    const opts = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1, decayedCount: 2, maxGradNorm: 1 };
    const before = params.slice();
    adamwStep(params, grads, m, v, opts);
    const clipScale = 1 / (Math.sqrt(9 + 16 + 1e-6) + 1e-6);
    for (let i = 0; i < 4; i++) {
      const g = grads[i] * clipScale;
      // After one step the bias-corrected moments are g and g², so the Adam direction is g / (|g| + eps).
      const adam = g / (Math.abs(g) + opts.eps);
      const decay = i < opts.decayedCount ? opts.weightDecay * before[i] : 0;
      expect(params[i]).toBeCloseTo(before[i] - opts.lr * (adam + decay), 10);
      expect(m[i]).toBeCloseTo(0.1 * g, 12);
      expect(v[i]).toBeCloseTo(0.001 * g * g, 14);
    }
    // Index 2 has zero gradient and no decay: it must not move at all.
    expect(params[2]).toBe(0.5);
  });

  it('adamwStep without clipping uses the raw gradient; second step uses the bias corrections', () => {
    const params = Float64Array.of(1);
    const m = new Float64Array(1);
    const v = new Float64Array(1);
    const base = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 0, weightDecay: 0, decayedCount: 0, maxGradNorm: 0 };
    adamwStep(params, Float64Array.of(2), m, v, { ...base, step: 1 });
    adamwStep(params, Float64Array.of(1), m, v, { ...base, step: 2 });
    const m2 = 0.9 * 0.1 * 2 + 0.1 * 1;
    const v2 = 0.99 * 0.01 * 4 + 0.01 * 1;
    const expected = 1 - 0.01 - 0.01 * (m2 / (1 - 0.81)) / Math.sqrt(v2 / (1 - 0.9801));
    expect(params[0]).toBeCloseTo(expected, 12);
  });
});
