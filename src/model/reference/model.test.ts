/**
 * The whole reference model: gradients against finite differences (float64), float32 against float64, padding
 * invariance, the DTI exactness property (strict isolation + relative positions = sliding-window prompts) and training.
 */
import { describe, expect, it } from 'vitest';
import { maskRanges } from '../../prompt/ranges';
import {
  type Batch,
  type IsolationLevel,
  POSITION_ENCODINGS,
  type PositionEncoding,
  ROLE_ITEM,
  ROLE_LABEL,
  ROLE_PAD,
  ROLE_SUM,
  TOKEN_DISLIKE,
  TOKEN_LIKE,
  TOKEN_PAD,
  TOKEN_SUM,
  packMeta,
} from '../../prompt/types';
import { Rng } from '../../util/rng';
import type { ModelConfig } from '../config';
import { initParams, paramLayout } from '../params';
import { numericGradient, worstMismatch } from './gradcheck';
import { ReferenceTrainer, referenceForward, referenceForwardBackward, referenceInspect } from './model';
import { isAllowed } from '../../prompt/mask';

interface Interaction {
  items: number[];
  like: boolean;
}

/**
 * A batch built by hand: each row renders its interactions as `items… [SUM] [LIKE]/[DISLIKE]`, positions count tokens
 * from 0, pads fill the rest of the row, and every interaction from `firstTarget` on is a target read at its [SUM].
 */
function buildBatch(rowsOfInteractions: Interaction[][], L: number, n: number, isolation: IsolationLevel, firstTarget: number): Batch {
  const B = rowsOfInteractions.length;
  const tokens = new Int32Array(B * L).fill(TOKEN_PAD);
  const meta = new Uint32Array(B * L).fill(packMeta(0, ROLE_PAD));
  const positions = new Int32Array(B * L);
  const targetIndex: number[] = [];
  const targetLabel: number[] = [];
  rowsOfInteractions.forEach((interactions, b) => {
    let t = 0;
    const put = (token: number, interaction: number, role: typeof ROLE_ITEM | typeof ROLE_SUM | typeof ROLE_LABEL) => {
      if (t >= L) throw new Error(`row ${b} does not fit in ${L} tokens`);
      tokens[b * L + t] = token;
      meta[b * L + t] = packMeta(interaction, role);
      positions[b * L + t] = t;
      t++;
    };
    interactions.forEach((interaction, i) => {
      for (const item of interaction.items) put(item, i, ROLE_ITEM);
      if (i >= firstTarget) {
        targetIndex.push(b * L + t);
        targetLabel.push(interaction.like ? 1 : 0);
      }
      put(TOKEN_SUM, i, ROLE_SUM);
      put(interaction.like ? TOKEN_LIKE : TOKEN_DISLIKE, i, ROLE_LABEL);
    });
  });
  const { keyStart, queryEnd } = maskRanges(meta, B, L, n, isolation);
  return {
    B,
    L,
    tokens,
    meta,
    positions,
    keyStart,
    queryEnd,
    targetIndex: Int32Array.from(targetIndex),
    targetLabel: Float32Array.from(targetLabel),
    lossDenominator: targetIndex.length,
    prompts: [],
    n,
    isolation,
  };
}

const like = (...items: number[]): Interaction => ({ items, like: true });
const dislike = (...items: number[]): Interaction => ({ items, like: false });

// Items are token ids 7..11 (0..6 are the special tokens).
const ROW_FULL = [like(7, 8), dislike(9), like(10, 11), dislike(8), like(7), dislike(11)]; // exactly 20 tokens
const ROW_PADDED = [dislike(9, 10), like(7), like(11, 8), dislike(10)]; // 14 tokens, then 6 pads
const L = 20;

function tinyConfig(positionEncoding: PositionEncoding): ModelConfig {
  return { vocabSize: 12, dModel: 8, nHeads: 2, nLayers: 2, dFF: 16, maxSeqLen: L, positionEncoding, forgetting: false, seed: 7 };
}

/** Parameters large enough that every nonlinearity (softmax, GELU, RMSNorm) is far from its linear regime. */
function testParams(config: ModelConfig, seed: number): Float64Array {
  const layout = paramLayout(config);
  const rng = new Rng(seed);
  const params = new Float64Array(layout.total);
  for (let i = 0; i < params.length; i++) params[i] = rng.normal() * 0.4;
  const gains = [layout.finalNormW, ...layout.layers.flatMap((layer) => [layer.norm1W, layer.norm2W])];
  for (const t of gains) for (let i = 0; i < t.size; i++) params[t.offset + i] = 1 + rng.normal() * 0.3;
  return params;
}

describe('reference model gradient', () => {
  // Float64 central differences with step 1e-5 on the mean loss: truncation ≈ 1e-10, round-off ≈ 1e-11 (observed
  // worst absolute error ≈ 2e-11). Tolerance |analytic − numeric| <= 1e-9 + 1e-5·max(|analytic|, |numeric|), checked
  // on every parameter.
  const levels: IsolationLevel[] = ['full-causal', 'strict'];
  const cases = [
    ...POSITION_ENCODINGS.flatMap((encoding) => levels.map((level) => ({ encoding, level, forgetting: false }))),
    { encoding: 'alibi' as const, level: 'window' as const, forgetting: true },
  ];
  for (const { encoding, level, forgetting } of cases) {
    it(`matches finite differences on every parameter (${encoding}${forgetting ? ' + forgetting' : ''}, ${level})`, () => {
      const config = { ...tinyConfig(encoding), forgetting };
      const layout = paramLayout(config);
      const params = testParams(config, 100);
      // A target capacity above the 8 targets (as in training): the loss is Σ / 11, not the mean.
      const batch = { ...buildBatch([ROW_FULL, ROW_PADDED], L, 2, level, 1), lossDenominator: 11 };
      expect(batch.targetIndex.length).toBe(8);

      const { grads, loss } = referenceForwardBackward(config, params, batch);
      expect(Number.isFinite(loss)).toBe(true);
      const mean = referenceForward(config, params, { ...batch, lossDenominator: 8 }).loss;
      expect(loss).toBeCloseTo((mean * 8) / 11, 12);
      const numeric = numericGradient(params, () => referenceForward(config, params, batch).loss, 1e-5);
      const worst = worstMismatch(grads, numeric, 1e-9, 1e-5);
      const tensor = worst && layout.tensors.find((t) => worst.index >= t.offset && worst.index < t.offset + t.size);
      expect(worst, `${tensor?.name}: ${JSON.stringify(worst)}`).toBeNull();

      // The check is only meaningful if the gradient is not trivially zero across whole tensors.
      for (const t of layout.tensors) {
        if (t.size === 0) continue;
        let largest = 0;
        for (let i = t.offset; i < t.offset + t.size; i++) largest = Math.max(largest, Math.abs(grads[i]));
        expect(largest, t.name).toBeGreaterThan(1e-6);
      }
    });
  }

  it('float32 agrees with float64 (loss to 1e-5 relative, gradients to 1e-3 of the largest)', () => {
    const config = tinyConfig('rope');
    const params64 = testParams(config, 101);
    const batch = buildBatch([ROW_FULL, ROW_PADDED], L, 2, 'sum-isolated', 1);
    const exact = referenceForwardBackward(config, params64, batch);
    const single = referenceForwardBackward(config, Float32Array.from(params64), batch);
    expect(single.grads).toBeInstanceOf(Float32Array);
    expect(Math.abs(single.loss - exact.loss)).toBeLessThan(1e-5 * exact.loss);
    let largest = 0;
    let worstDifference = 0;
    for (let i = 0; i < exact.grads.length; i++) {
      largest = Math.max(largest, Math.abs(exact.grads[i]));
      worstDifference = Math.max(worstDifference, Math.abs(single.grads[i] - exact.grads[i]));
    }
    expect(worstDifference).toBeLessThan(1e-3 * largest);
  });

  it('rope, alibi and forgetting are wired in: with the same parameters they change the logits relative to none', () => {
    const batch = buildBatch([ROW_FULL, ROW_PADDED], L, 2, 'window', 1);
    const params = testParams(tinyConfig('none'), 105); // 'none', 'rope' and 'alibi' share one layout
    const plain = referenceForward(tinyConfig('none'), params, batch).logits;
    for (const encoding of ['rope', 'alibi'] as const) {
      const logits = referenceForward(tinyConfig(encoding), params, batch).logits;
      expect(Math.max(...Array.from(logits, (z, i) => Math.abs(z - plain[i]))), encoding).toBeGreaterThan(1e-3);
    }
    const forgetting = referenceForward({ ...tinyConfig('none'), forgetting: true }, params, batch).logits;
    expect(Math.max(...Array.from(forgetting, (z, i) => Math.abs(z - plain[i]))), 'forgetting').toBeGreaterThan(1e-3);
  });

  it('padding is inert: changing pad tokens changes neither the loss nor any gradient', () => {
    const config = tinyConfig('learned');
    const params = testParams(config, 102);
    const batch = buildBatch([ROW_FULL, ROW_PADDED], L, 2, 'window', 1);
    const before = referenceForwardBackward(config, params, batch);
    const tokens = batch.tokens.slice();
    for (let t = 14; t < L; t++) tokens[L + t] = 7 + (t % 5);
    const after = referenceForwardBackward(config, params, { ...batch, tokens });
    expect(after.loss).toBe(before.loss);
    for (let i = 0; i < before.grads.length; i++) expect(after.grads[i]).toBeCloseTo(before.grads[i], 14);
  });
});

describe('DTI exactness', () => {
  // One packed prompt of 6 interactions (n = 2 context, 4 targets) against one sliding-window prompt per target
  // (its n preceding interactions and itself, positions restarting at 0). Float64, tolerance 1e-9 on the logits.
  const n = 2;
  const history = [like(7, 8), dislike(9), like(10, 11), dislike(8), like(7, 9), dislike(11)];
  const slidingWindowLogits = (config: ModelConfig, params: Float64Array, level: IsolationLevel) => {
    const prompts = history.slice(n).map((_, j) => history.slice(j, j + n + 1));
    return referenceForward(config, params, buildBatch(prompts, L, n, level, n)).logits;
  };
  const packedLogits = (config: ModelConfig, params: Float64Array, level: IsolationLevel) =>
    referenceForward(config, params, buildBatch([history], L + 2, n, level, n)).logits;
  const largestDifference = (a: Float64Array, b: Float64Array) => {
    expect(a.length).toBe(b.length);
    return Math.max(...Array.from(a, (value, i) => Math.abs(value - b[i])));
  };

  for (const encoding of ['rope', 'alibi', 'none'] as const) {
    for (const forgetting of [false, true]) {
      it(`strict + ${encoding}${forgetting ? ' + forgetting' : ''}: packed logits equal sliding-window logits; plain window does not`, () => {
        const config = { ...tinyConfig(encoding), forgetting, maxSeqLen: L + 2 };
        const params = testParams(config, 103);
        expect(largestDifference(packedLogits(config, params, 'strict'), slidingWindowLogits(config, params, 'strict'))).toBeLessThan(1e-9);
        // Negative control: with plain windowed attention, hidden states leak history from beyond the window.
        expect(largestDifference(packedLogits(config, params, 'window'), slidingWindowLogits(config, params, 'window'))).toBeGreaterThan(1e-4);
      });
    }
  }

  it('strict + learned absolute positions: packed and sliding-window logits differ (positional bias)', () => {
    const config = { ...tinyConfig('learned'), maxSeqLen: L + 2 };
    const params = testParams(config, 104);
    expect(largestDifference(packedLogits(config, params, 'strict'), slidingWindowLogits(config, params, 'strict'))).toBeGreaterThan(1e-4);
  });
});

describe('referenceInspect (what the page shows of the model)', () => {
  it('gives the forward\'s probabilities and, per layer and head, attention rows that sum to 1 over exactly the allowed keys', () => {
    for (const level of ['strict', 'window'] as const) {
      const config = tinyConfig('alibi');
      const batch = buildBatch([ROW_PADDED], L, 2, level, 2);
      const params = Float32Array.from(testParams(config, 5));
      const { probs } = referenceForward(config, params, batch);
      for (let layer = 0; layer < config.nLayers; layer++) {
        for (let head = 0; head < config.nHeads; head++) {
          const inspected = referenceInspect(config, params, batch, layer, head);
          expect(Array.from(inspected.probs)).toEqual(Array.from(probs));
          let spread = 0; // how many weights lie well inside (0, 1): the attention is not a trivial one-hot
          for (let q = 0; q < L; q++) {
            let sum = 0;
            for (let p = 0; p < L; p++) {
              const w = inspected.attention[q * L + p];
              const allowed = isAllowed(q, p, batch.meta[q], batch.meta[p], batch.n, level);
              if (!allowed) expect(w, `${level} layer ${layer} head ${head} (${q}, ${p})`).toBe(0);
              else expect(w).toBeGreaterThan(0);
              sum += w;
              if (w > 0.01 && w < 0.99) spread++;
            }
            const pad = batch.meta[q] % 4 === ROLE_PAD;
            expect(sum).toBeCloseTo(pad ? 0 : 1, 6);
          }
          expect(spread).toBeGreaterThan(5);
        }
      }
    }
    expect(() => referenceInspect(tinyConfig('rope'), Float32Array.from(testParams(tinyConfig('rope'), 5)), buildBatch([ROW_PADDED], L, 2, 'strict', 2), 2, 0)).toThrow(/layer 2/);
  });
});

describe('ReferenceTrainer', () => {
  it('lowers the loss on a fixed tiny batch over 30 steps and leaves the caller’s parameters alone', () => {
    const config = tinyConfig('alibi');
    const initial = initParams(config);
    const original = initial.slice();
    const trainer = new ReferenceTrainer(config, initial, {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      maxGradNorm: 1,
    });
    const batch = buildBatch([ROW_FULL, ROW_PADDED], L, 2, 'strict', 1);
    const losses: number[] = [];
    for (let s = 0; s < 30; s++) losses.push(trainer.step(batch));
    const finalLoss = referenceForward(config, trainer.params, batch).loss;
    expect(trainer.t).toBe(30);
    // Starts near ln 2 (tiny init); 30 Adam steps memorise the 8 targets (observed: 0.694 -> 0.019).
    expect(losses[0]).toBeGreaterThan(0.6);
    expect(finalLoss).toBeLessThan(0.3 * losses[0]);
    expect(losses[29]).toBeLessThan(losses[0]);
    expect(Array.from(initial)).toEqual(Array.from(original));
  });
});
