/**
 * The whole engine on a real WebGPU implementation (Dawn on SwiftShader in CI) against the CPU reference:
 * forward and gradients, three AdamW steps, and the DTI/SW exactness property of the method doc §4.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context';
import { nodeDevice } from '../gpu/node-device';
import { makeBatch } from '../prompt/batch';
import { packPrompt, packPrompts } from '../prompt/pack';
import type { Batch, IsolationLevel, PackedPrompt, PositionEncoding } from '../prompt/types';
import { syntheticDataset } from '../train/synthetic';
import type { ModelConfig } from './config';
import { GpuModel, ParamState, estimateMemory } from './gpu-model';
import { initParams, paramLayout } from './params';
import { ReferenceTrainer, referenceForward, referenceForwardBackward } from './reference/model';

const dataset = syntheticDataset({ task: 'genre-matching', users: 6, historyLength: 14, seed: 3 });

function tinyConfig(positionEncoding: PositionEncoding, maxSeqLen: number, seed = 11, forgetting = false): ModelConfig {
  return { vocabSize: dataset.vocab.tokens.length, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen, positionEncoding, forgetting, seed };
}

function batchOf(prompts: PackedPrompt[], n: number, isolation: IsolationLevel, B = prompts.length): Batch {
  const L = Math.max(...prompts.map((p) => p.tokens.length));
  return makeBatch(prompts, { L, B, n, isolation });
}

/** Largest |a - b| relative to the largest |b| (gradients span orders of magnitude; this is the scale that matters). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

// One context for the file: its pipeline cache spares recompiling every kernel per test (slow on SwiftShader).
let shared: GpuContext | null = null;
async function newState(config: ModelConfig, params?: Float32Array) {
  shared ??= new GpuContext((await nodeDevice()).device);
  return new ParamState(shared, config, params ?? initParams(config));
}
afterAll(() => shared?.destroy());

const shapeOf = (batch: Batch, n: number, isolation: IsolationLevel) => ({
  B: batch.B,
  L: batch.L,
  maxTargets: batch.targetIndex.length,
  n,
  isolation,
});

// Tolerance: f32 on both sides, different summation orders: 2e-4 of the largest magnitude.
const TOLERANCE = 2e-4;

/**
 * Worst relativeError over the parameter tensors, each against its own largest gradient: gradients of different
 * tensors differ by orders of magnitude, so one scale for all would let a small tensor's gradient be far off.
 * Scales below 1e-3 of the largest gradient overall count as that floor (a tensor whose exact gradient is 0 or
 * nearly so, such as unused position rows, is then held to f32 noise on that floor).
 */
function worstTensorError(config: ModelConfig, gpu: Float32Array, ref: Float32Array): { name: string; error: number } {
  const floor = 1e-3 * Math.max(...ref.map(Math.abs));
  let worst = { name: '', error: 0 };
  for (const t of paramLayout(config).tensors) {
    const a = gpu.subarray(t.offset, t.offset + t.size);
    const b = ref.subarray(t.offset, t.offset + t.size);
    let diff = 0;
    let scale = floor;
    for (let i = 0; i < b.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    if (diff / scale > worst.error) worst = { name: t.name, error: diff / scale };
  }
  return worst;
}

describe('GPU model against the CPU reference', () => {
  const n = 3;
  const prompts = packPrompts(dataset, { n, k: 4, split: 'train' }).slice(0, 3);

  // Every encoding × level without forgetting; forgetting with every level, alone and with ALiBi (their biases add).
  const cases = [
    ...(['learned', 'rope', 'alibi', 'none'] as const).map((positionEncoding) => ({ positionEncoding, forgetting: false })),
    { positionEncoding: 'none' as const, forgetting: true },
    { positionEncoding: 'alibi' as const, forgetting: true },
  ];
  for (const { positionEncoding, forgetting } of cases) {
    for (const isolation of ['full-causal', 'window', 'sum-isolated', 'strict'] as const) {
      it(`forward and gradients match (${positionEncoding}${forgetting ? ' + forgetting' : ''}, ${isolation})`, async () => {
        // One padded row (B = 4 > 3 prompts) exercises padding on every kernel; the models are built for longer rows
        // than the batch has (a shorter batch runs packed at the start of their buffers).
        const batch = batchOf(prompts, n, isolation, 4);
        const config = tinyConfig(positionEncoding, batch.L + 7, 11, forgetting);
        const state = await newState(config);
        const shape = { ...shapeOf(batch, n, isolation), L: batch.L + 7 };
        const model = new GpuModel(state, shape, true);
        await model.computeGradients([batch]);
        const gpuGrads = await state.readGrads();
        const gpuProbs = await new GpuModel(state, shape, false).predict(batch);
        const ref = referenceForwardBackward(config, initParams(config), batch);
        expect(relativeError(gpuProbs, ref.probs)).toBeLessThan(TOLERANCE);
        const worst = worstTensorError(config, gpuGrads, ref.grads);
        expect(worst.error, `gradient of ${worst.name}`).toBeLessThan(TOLERANCE);
        // The gradient is not trivially zero (the comparison above means something).
        expect(Math.max(...ref.grads.map(Math.abs))).toBeGreaterThan(1e-4);
      });
    }
  }

  it('refuses a batch made for another window or isolation level than the model', async () => {
    const batch = batchOf(prompts, n, 'strict');
    const state = await newState(tinyConfig('rope', batch.L));
    const model = new GpuModel(state, shapeOf(batch, n + 1, 'strict'), false);
    await expect(model.predict(batch)).rejects.toThrow(/made for n = 3, strict; the model was built for n = 4, strict/);
    const windowed = new GpuModel(state, shapeOf(batch, n, 'window'), false);
    await expect(windowed.predict(batch)).rejects.toThrow(/the model was built for n = 3, window/);
  });

  it('three AdamW steps end with the same parameters on GPU and CPU', async () => {
    const isolation = 'strict';
    // Batches of different lengths through one model: each runs at its own length, as in training, and with training's
    // loss denominator, the target capacity (8 here: the batches hold 8, 4 and 6 targets).
    const batches = [4, 2, 3].map((k, i) => ({
      ...batchOf(packPrompts(dataset, { n, k, split: 'train' }).slice(i * 2, i * 2 + 2), n, isolation),
      lossDenominator: 8,
    }));
    expect(new Set(batches.map((b) => b.L)).size).toBeGreaterThan(1);
    const L = Math.max(...batches.map((b) => b.L));
    const config = tinyConfig('rope', L);
    const optimizer = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0.5 };
    const state = await newState(config);
    const model = new GpuModel(state, { B: 2, L, maxTargets: 8, n, isolation }, true, optimizer);
    const reference = new ReferenceTrainer(config, initParams(config), { ...optimizer, lr: 1e-2 });
    for (const batch of batches) {
      const stats = await model.trainStep([batch], 1e-2);
      const refLoss = reference.step(batch);
      expect(Math.abs(stats.loss - refLoss)).toBeLessThan(1e-4);
    }
    const gpuParams = await state.readParams();
    const initial = initParams(config);
    // The parameters moved (lr 1e-2 for 3 steps), and moved the same way on both sides.
    expect(relativeError(gpuParams, initial)).toBeGreaterThan(1e-3);
    let worst = 0;
    for (let i = 0; i < gpuParams.length; i++) worst = Math.max(worst, Math.abs(gpuParams[i] - reference.params[i]));
    // Adam moves a parameter by about lr per step whatever its gradient's size, so f32 rounding in a near-zero
    // gradient can shift it by a fraction of lr: allow 5e-4, under 2 % of the 3·lr = 3e-2 a parameter can travel.
    expect(worst).toBeLessThan(5e-4);
  });
});

describe('gradient accumulation over micro-batches', () => {
  it('a step split into micro-batches of different lengths has the gradients and loss of the whole step in one batch', async () => {
    const n = 3;
    const prompts = packPrompts(dataset, { n, k: 4, split: 'train' }).slice(0, 4);
    const targets = prompts.reduce((sum, p) => sum + p.targets.length, 0);
    // One shared denominator (the step's), as the trainer gives every micro-batch.
    const whole = { ...batchOf(prompts, n, 'strict'), lossDenominator: targets };
    const parts = [prompts.slice(0, 1), prompts.slice(1, 3), prompts.slice(3)].map((group) => ({ ...batchOf(group, n, 'strict', 2), lossDenominator: targets }));
    expect(new Set(parts.map((b) => b.L)).size).toBeGreaterThan(1);
    const config = tinyConfig('rope', whole.L);
    const wholeState = await newState(config);
    await new GpuModel(wholeState, shapeOf(whole, n, 'strict'), true).computeGradients([whole]);
    const partState = await newState(config);
    const micro = new GpuModel(partState, { B: 2, L: whole.L, maxTargets: 2 * 4, n, isolation: 'strict' }, true);
    // A step before leaves gradients behind: the first micro-batch of the next clears them.
    await micro.computeGradients([parts[2]]);
    await micro.computeGradients(parts);
    expect(worstTensorError(config, await partState.readGrads(), await wholeState.readGrads()).error).toBeLessThan(TOLERANCE);
    // The step's loss is the sum of the micro-batches' (each Σ loss / the step's targets).
    const lr = 0;
    const wholeLoss = (await new GpuModel(await newState(config), shapeOf(whole, n, 'strict'), true).trainStep([whole], lr)).loss;
    const partLoss = (await new GpuModel(await newState(config), { B: 2, L: whole.L, maxTargets: 8, n, isolation: 'strict' }, true).trainStep(parts, lr)).loss;
    expect(Math.abs(partLoss - wholeLoss)).toBeLessThan(1e-5);
  });
});

describe('DTI equals the sliding window under strict isolation with relative positions (method doc §4)', () => {
  const n = 3;
  const k = 5;
  const user = 2;
  const dti = packPrompt(dataset, user, 0, n, k);
  const sw = Array.from({ length: k }, (_, j) => packPrompt(dataset, user, j, n, 1));

  const cases = [
    ...(['rope', 'alibi', 'none'] as const).map((positionEncoding) => ({ positionEncoding, forgetting: false })),
    { positionEncoding: 'rope' as const, forgetting: true },
  ];
  for (const { positionEncoding, forgetting } of cases) {
    it(`same per-target logits and gradients, GPU and CPU (${positionEncoding}${forgetting ? ' + forgetting' : ''})`, async () => {
      const dtiBatch = batchOf([dti], n, 'strict');
      const swBatch = batchOf(sw, n, 'strict');
      const config = tinyConfig(positionEncoding, dtiBatch.L, 5, forgetting);
      const params = initParams(config);

      const refDti = referenceForwardBackward(config, params, dtiBatch);
      const refSw = referenceForwardBackward(config, params, swBatch);
      expect(relativeError(refDti.probs, refSw.probs)).toBeLessThan(1e-5);
      expect(worstTensorError(config, refDti.grads, refSw.grads).error).toBeLessThan(1e-5);

      const state = await newState(config, params);
      const dtiModel = new GpuModel(state, shapeOf(dtiBatch, n, 'strict'), true);
      const swModel = new GpuModel(state, shapeOf(swBatch, n, 'strict'), true);
      await dtiModel.computeGradients([dtiBatch]);
      const dtiGrads = await state.readGrads();
      await swModel.computeGradients([swBatch]);
      const swGrads = await state.readGrads();
      const dtiProbs = await new GpuModel(state, shapeOf(dtiBatch, n, 'strict'), false).predict(dtiBatch);
      const swProbs = await new GpuModel(state, shapeOf(swBatch, n, 'strict'), false).predict(swBatch);
      expect(relativeError(dtiProbs, swProbs)).toBeLessThan(TOLERANCE);
      expect(worstTensorError(config, dtiGrads, swGrads).error).toBeLessThan(TOLERANCE);
      expect(worstTensorError(config, dtiGrads, refSw.grads).error).toBeLessThan(TOLERANCE);
    });
  }

  it('does not hold with plain windowed attention (hidden-state leakage) or learned absolute positions', () => {
    const windowDti = batchOf([dti], n, 'window');
    const windowSw = batchOf(sw, n, 'window');
    const relative = tinyConfig('rope', windowDti.L, 5);
    const leak = relativeError(
      referenceForward(relative, initParams(relative), windowDti).logits,
      referenceForward(relative, initParams(relative), windowSw).logits,
    );
    expect(leak).toBeGreaterThan(1e-3);

    const strictDti = batchOf([dti], n, 'strict');
    const strictSw = batchOf(sw, n, 'strict');
    const absolute = tinyConfig('learned', strictDti.L, 5);
    const positional = relativeError(
      referenceForward(absolute, initParams(absolute), strictDti).logits,
      referenceForward(absolute, initParams(absolute), strictSw).logits,
    );
    expect(positional).toBeGreaterThan(1e-3);
  });
});

describe('estimateMemory', () => {
  it('predicts the storage a training model allocates within 5 %, for every isolation level and position encoding', async () => {
    const device = (await nodeDevice()).device;
    for (const isolation of ['full-causal', 'strict'] as const) {
      for (const encoding of ['learned', 'rope'] as const) {
        const prompts = packPrompts(dataset, { n: 4, k: 6, split: 'train' }).slice(0, 4);
        const batch = batchOf(prompts, 4, isolation);
        const config = { ...tinyConfig(encoding, batch.L), dModel: 32, nHeads: 4 };
        const ctx = new GpuContext(device);
        const state = new ParamState(ctx, config, initParams(config));
        state.reserveCheckpoint(); // as the trainer does
        new GpuModel(state, shapeOf(batch, 4, isolation), true);
        const estimate = estimateMemory(config, { B: batch.B, L: batch.L, maxTargets: batch.targetIndex.length }, true);
        const actual = ctx.storageBytes();
        ctx.destroy();
        expect(Math.abs(estimate.total - actual) / actual).toBeLessThan(0.05);
      }
    }
  });
});
