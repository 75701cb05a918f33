/**
 * The training loop: dataset -> prompts -> batches -> GPU engine -> metrics -> events. Runs in the page's training
 * worker and in the headless runner alike; it never reads the GPU back synchronously, keeping up to
 * MAX_STEPS_IN_FLIGHT steps queued while their statistics come back.
 */
import { GpuContext } from '../gpu/context';
import type { AcquiredDevice } from '../gpu/device';
import type { ModelConfig } from '../model/config';
import { GpuModel, ParamState, type StepStats } from '../model/gpu-model';
import { paramLayout } from '../model/params';
import { batchLength, batchesOf, longestPrompt, makeBatch } from '../prompt/batch';
import { packPrompts } from '../prompt/pack';
import type { PackedPrompt, TokenizedDataset } from '../prompt/types';
import { Rng } from '../util/rng';
import { checkTrainConfig, effectiveK } from './config';
import { NO_METRICS, ctrMetrics } from './metrics';
import type { Metrics, TrainConfig, TrainerEvent } from './protocol';

const MAX_STEPS_IN_FLIGHT = 3;

export class TrainingError extends Error {
  constructor(
    readonly kind: Extract<TrainerEvent, { type: 'error' }>['kind'],
    message: string,
  ) {
    super(message);
    this.name = 'TrainingError';
  }
}

/** Pause/stop requests from the outside, checked between steps. */
export class TrainingControl {
  stopped = false;
  private resumeWaiters: (() => void)[] = [];
  private paused = false;

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    for (const wake of this.resumeWaiters.splice(0)) wake();
  }
  stop(): void {
    this.stopped = true;
    this.resume();
  }
  get isPaused(): boolean {
    return this.paused;
  }
  waitWhilePaused(): Promise<void> {
    return this.paused ? new Promise((wake) => this.resumeWaiters.push(wake)) : Promise.resolve();
  }
}

export interface TrainingResult {
  params: Float32Array;
  modelConfig: ModelConfig;
  steps: number;
  trainMs: number;
  tokensProcessed: number;
  targetsProcessed: number;
  valid: Metrics;
  test: Metrics;
  stopped: boolean;
  /** Loss of every step (index = step - 1). */
  losses: number[];
}

/** Linear warm-up over the first 5 % of steps (at most 100), then cosine decay to 10 % of the peak. */
export function learningRateAt(step: number, totalSteps: number, peak: number): number {
  const warmup = Math.max(1, Math.min(100, Math.round(totalSteps * 0.05)));
  if (step <= warmup) return (peak * step) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

const realTokens = (prompts: readonly PackedPrompt[]) => prompts.reduce((s, p) => s + p.tokens.length, 0);

/**
 * Tokens per evaluation batch for an imported model, which has no training batch to size evaluation by: about a
 * default training batch (16 DTI prompts of n = 10, k = 10, ~120 tokens each on the built-in data).
 */
const IMPORTED_MODEL_BATCH_TOKENS = 2048;

/** Prompts per evaluation batch: about the training batch's token budget, in SW prompts of one target. */
function evalBatchSize(trainRows: number, trainLength: number, evalLength: number): number {
  return Math.max(1, Math.min(1024, Math.floor((trainRows * trainLength) / Math.max(1, evalLength))));
}

/**
 * SW-style evaluation (method doc §5): every target scored in its own sliding-window prompt. Prompts go by length,
 * so each batch runs at about its prompts' own length (the metrics do not depend on the order).
 */
async function evaluatePrompts(
  evaluator: GpuModel,
  prompts: readonly PackedPrompt[],
  config: TrainConfig,
  split: 'valid' | 'test',
): Promise<Metrics> {
  const { B, L } = evaluator.shape;
  const probs: number[] = [];
  const labels: number[] = [];
  const byLength = [...prompts].sort((a, b) => a.tokens.length - b.tokens.length);
  for (const group of batchesOf(byLength, B)) {
    const batch = makeBatch(group, { L: batchLength(group, L), B, n: config.n, isolation: config.isolation });
    probs.push(...(await evaluator.predict(batch)));
    labels.push(...batch.targetLabel);
  }
  // A NaN has no rank and no side of 0.5: metrics of such predictions would be undefined, not a number to report.
  const nonFinite = probs.filter((p) => !Number.isFinite(p)).length;
  if (nonFinite) {
    throw new TrainingError(
      'diverged',
      `${nonFinite} of ${probs.length} ${split === 'valid' ? 'validation' : 'test'} predictions are not finite numbers: ` +
        'the weights hold NaN or infinite values (a training step that overflowed, or an imported model that contains them).',
    );
  }
  return ctrMetrics(probs, labels);
}

/**
 * Evaluates given parameters (for instance an imported model) on a dataset's validation and test splits. The
 * dataset must use the vocabulary the parameters were trained with; the caller checks that.
 */
export async function evaluateParams(
  gpu: AcquiredDevice,
  dataset: TokenizedDataset,
  config: TrainConfig,
  params: Float32Array,
): Promise<{ valid: Metrics; test: Metrics }> {
  const validPrompts = packPrompts(dataset, { n: config.n, k: 1, split: 'valid' });
  const testPrompts = packPrompts(dataset, { n: config.n, k: 1, split: 'test' });
  const evalLength = Math.max(longestPrompt(validPrompts), longestPrompt(testPrompts), 1);
  if (validPrompts.length + testPrompts.length === 0) return { valid: { ...NO_METRICS }, test: { ...NO_METRICS } };
  const modelConfig: ModelConfig = { ...config.model, vocabSize: dataset.vocab.tokens.length, maxSeqLen: evalLength, seed: config.seed };
  const layout = paramLayout(modelConfig);
  if (config.model.positionEncoding === 'learned') {
    // Learned positions were sized for the training run's longest prompt: evaluation may not run past them.
    const learnedPositions = (params.length - (layout.total - layout.wpe.size)) / config.model.dModel;
    if (evalLength > learnedPositions) {
      throw new TrainingError(
        'invalid-config',
        `this model learned positions for prompts of up to ${learnedPositions} tokens, but this dataset's evaluation prompts ` +
          `(n = ${config.n}) are up to ${evalLength} tokens long; evaluate it with a smaller n or on data with shorter items`,
      );
    }
    modelConfig.maxSeqLen = learnedPositions;
  }
  const ctx = new GpuContext(gpu.device);
  try {
    let evaluator: GpuModel;
    try {
      const state = new ParamState(ctx, modelConfig, params);
      const B = evalBatchSize(1, IMPORTED_MODEL_BATCH_TOKENS, evalLength);
      evaluator = new GpuModel(state, { B, L: evalLength, maxTargets: B, n: config.n, isolation: config.isolation }, false);
    } catch (error) {
      throw new TrainingError('too-large', (error as Error).message);
    }
    return {
      valid: validPrompts.length ? await evaluatePrompts(evaluator, validPrompts, config, 'valid') : { ...NO_METRICS },
      test: testPrompts.length ? await evaluatePrompts(evaluator, testPrompts, config, 'test') : { ...NO_METRICS },
    };
  } finally {
    ctx.destroy();
  }
}

export interface TrainOptions {
  /** Initial parameters (for instance from an imported model); default: seeded init. */
  initialParams?: Float32Array;
  /** Called with every event, in order. */
  emit: (event: TrainerEvent) => void;
  control?: TrainingControl;
}

export async function train(
  gpu: AcquiredDevice,
  dataset: TokenizedDataset,
  config: TrainConfig,
  options: TrainOptions,
): Promise<TrainingResult> {
  const { emit } = options;
  const control = options.control ?? new TrainingControl();
  const check = checkTrainConfig(config);
  if (check.errors.length) throw new TrainingError('invalid-config', check.errors.join('; '));

  emit({ type: 'status', phase: 'prepare', message: 'Packing prompts', fraction: 0 });
  const k = effectiveK(config);
  const trainPrompts = packPrompts(dataset, { n: config.n, k, split: 'train' });
  const validPrompts = packPrompts(dataset, { n: config.n, k: 1, split: 'valid' });
  const testPrompts = packPrompts(dataset, { n: config.n, k: 1, split: 'test' });
  if (trainPrompts.length === 0) {
    throw new TrainingError(
      'invalid-config',
      `no training targets: every user needs more than n = ${config.n} interactions before a training target; lower n or load more data`,
    );
  }
  const trainLength = longestPrompt(trainPrompts);
  const evalLength = Math.max(longestPrompt(validPrompts), longestPrompt(testPrompts), 1);
  const modelConfig: ModelConfig = {
    ...config.model,
    vocabSize: dataset.vocab.tokens.length,
    maxSeqLen: Math.max(trainLength, evalLength),
    seed: config.seed,
  };
  const B = Math.min(config.batchSize, trainPrompts.length);
  const evalB = evalBatchSize(B, trainLength, evalLength);
  emit({ type: 'status', phase: 'compile', message: 'Allocating buffers and compiling kernels', fraction: 0.5 });

  const ctx = new GpuContext(gpu.device);
  const inFlight: { step: number; epoch: number; targets: number; tokens: number; lossDenominator: number; stats: Promise<StepStats> }[] = [];
  try {
    let state: ParamState;
    let trainer: GpuModel;
    let evaluator: GpuModel;
    // Error scopes catch what building the pipelines and buffers got wrong (a shader the driver rejects, memory),
    // instead of training on invalid commands that silently do nothing.
    gpu.device.pushErrorScope('out-of-memory');
    gpu.device.pushErrorScope('validation');
    try {
      state = new ParamState(ctx, modelConfig, options.initialParams);
      const mask = { n: config.n, isolation: config.isolation };
      trainer = new GpuModel(state, { B, L: trainLength, maxTargets: B * k, ...mask }, true, {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: config.weightDecay,
        maxGradNorm: config.maxGradNorm,
      });
      evaluator = new GpuModel(state, { B: evalB, L: evalLength, maxTargets: evalB, ...mask }, false);
    } catch (error) {
      await gpu.device.popErrorScope();
      await gpu.device.popErrorScope();
      throw new TrainingError('too-large', (error as Error).message);
    }
    const invalid = await gpu.device.popErrorScope();
    const outOfMemory = await gpu.device.popErrorScope();
    if (outOfMemory) throw new TrainingError('too-large', `The GPU ran out of memory while allocating this run: ${outOfMemory.message}. Lower the batch size, k, n or the model size.`);
    if (invalid) throw new TrainingError('gpu-error', `The GPU rejected the training kernels: ${invalid.message}`);
    await gpu.device.queue.onSubmittedWorkDone();

    const evaluate = (prompts: readonly PackedPrompt[], split: 'valid' | 'test') => evaluatePrompts(evaluator, prompts, config, split);

    const stepsPerEpoch = Math.ceil(trainPrompts.length / B);
    const totalSteps = config.maxSteps > 0 ? Math.min(config.maxSteps, stepsPerEpoch * config.epochs) : stepsPerEpoch * config.epochs;
    const evalEvery = config.evalEvery > 0 ? config.evalEvery : stepsPerEpoch;
    const rng = new Rng(config.seed);
    const losses: number[] = [];
    let step = 0;
    let trainMs = 0;
    let tokensProcessed = 0;
    let targetsProcessed = 0;
    let segmentStart = performance.now();
    let valid: Metrics = { ...NO_METRICS };

    /** Waits for the oldest queued step, reports it, and stops the run on a non-finite loss or gradient. */
    const settleOldest = async () => {
      const done = inFlight.shift()!;
      const stats = await done.stats;
      // The GPU's loss is Σ loss / capacity (makeBatch's targetCapacity); curves show the mean over the step's targets.
      const loss = (stats.loss * done.lossDenominator) / Math.max(1, done.targets);
      losses.push(loss);
      const elapsedMs = trainMs + performance.now() - segmentStart;
      emit({
        type: 'step',
        step: done.step,
        epoch: done.epoch,
        loss,
        targets: done.targets,
        tokens: done.tokens,
        elapsedMs,
        targetsPerSec: (targetsProcessed / elapsedMs) * 1000,
        tokensPerSec: (tokensProcessed / elapsedMs) * 1000,
      });
      if (stats.lossNonFinite || stats.gradNonFinite) {
        const what = stats.lossNonFinite ? `the loss became ${stats.loss}` : `the gradient norm became ${stats.gradNorm}`;
        throw new TrainingError(
          'diverged',
          `Training diverged at step ${done.step}: ${what}. The weights were kept from before that step. ` +
            `Try a lower learning rate (now ${config.learningRate}) or gradient clipping (max norm now ${config.maxGradNorm || 'off'}).`,
        );
      }
    };
    /** Stops the training clock around evaluation and pauses, so trainMs counts training only. */
    const pauseClock = async () => {
      while (inFlight.length) await settleOldest();
      trainMs += performance.now() - segmentStart;
    };
    const restartClock = () => {
      segmentStart = performance.now();
    };

    emit({ type: 'status', phase: 'train', message: `Training ${totalSteps} steps`, fraction: 0 });
    outer: for (let epoch = 1; epoch <= config.epochs; epoch++) {
      for (const group of batchesOf(trainPrompts, B, rng)) {
        if (step >= totalSteps || control.stopped) break outer;
        if (control.isPaused) {
          await pauseClock();
          emit({ type: 'paused' });
          await control.waitWhilePaused();
          if (control.stopped) break outer;
          emit({ type: 'resumed' });
          restartClock();
        }
        step++;
        const batch = makeBatch(group, {
          L: batchLength(group, trainLength),
          B,
          n: config.n,
          isolation: config.isolation,
          targetCapacity: B * k,
        });
        const targets = batch.targetIndex.length;
        const tokens = realTokens(group);
        targetsProcessed += targets;
        tokensProcessed += tokens;
        const lr = learningRateAt(step, totalSteps, config.learningRate);
        inFlight.push({ step, epoch, targets, tokens, lossDenominator: batch.lossDenominator, stats: trainer.trainStep(batch, lr) });
        if (inFlight.length >= MAX_STEPS_IN_FLIGHT) await settleOldest();
        if (step % evalEvery === 0 && step < totalSteps && validPrompts.length) {
          await pauseClock();
          emit({ type: 'status', phase: 'evaluate', message: `Validating at step ${step}` });
          valid = await evaluate(validPrompts, 'valid');
          emit({ type: 'eval', step, split: 'valid', metrics: valid });
          emit({ type: 'status', phase: 'train', message: `Training step ${step} of ${totalSteps}`, fraction: step / totalSteps });
          restartClock();
        }
      }
    }
    await pauseClock();

    emit({ type: 'status', phase: 'evaluate', message: 'Final evaluation' });
    if (validPrompts.length) {
      valid = await evaluate(validPrompts, 'valid');
      emit({ type: 'eval', step, split: 'valid', metrics: valid });
    }
    const test = testPrompts.length ? await evaluate(testPrompts, 'test') : { ...NO_METRICS };
    emit({ type: 'eval', step, split: 'test', metrics: test });
    const result: TrainingResult = {
      params: await state.readParams(),
      modelConfig,
      steps: step,
      trainMs,
      tokensProcessed,
      targetsProcessed,
      valid,
      test,
      stopped: control.stopped,
      losses,
    };
    emit({ type: 'done', stopped: control.stopped, steps: step, trainMs, tokensProcessed, targetsProcessed, test, valid });
    return result;
  } finally {
    // After a failure, steps still queued would reject once their buffers are gone: nobody waits for them any more.
    for (const pending of inFlight) pending.stats.catch(() => {});
    ctx.destroy();
  }
}
