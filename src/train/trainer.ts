/**
 * The training loop: dataset -> prompts -> batches -> GPU engine -> metrics -> events. Runs in the page's training
 * worker and in the headless runner alike; it never reads the GPU back synchronously, keeping up to
 * MAX_STEPS_IN_FLIGHT steps queued while their statistics come back.
 *
 * The protocol, for SW and DTI alike: the same targets per optimizer step (batchTargets), learning-rate warm-up and
 * cosine decay, several validation points per epoch on a fixed validation sample, early stopping with patience, and
 * the best-validation checkpoint scored on the whole validation and test splits and kept as the run's model.
 */
import { baselineAucs, trainingRate } from '../data/baselines';
import { GpuContext } from '../gpu/context';
import type { AcquiredDevice } from '../gpu/device';
import type { ModelConfig } from '../model/config';
import { GpuModel, ParamState, type StepStats, rowsThatFit } from '../model/gpu-model';
import { batchLength, batchesOf, longestPrompt, makeBatch } from '../prompt/batch';
import { type Batch, type PackedPrompt, SPLIT_TEST, type TokenizedDataset } from '../prompt/types';
import { Rng } from '../util/rng';
import { aucInterval } from './bootstrap';
import { checkTrainConfig, effectiveK, oneClassProblem } from './config';
import { createEvaluator, evalTargetsPerPrompt, scorePrompts } from './evaluate';
import { skewDiagnostics } from './diagnostics';
import { runWarnings } from './guardrails';
import { runPrompts } from './run-prompts';
import { NO_METRICS } from './metrics';
import type { InspectRequest, Metrics, RunSummary, StopReason, TrainConfig, TrainerEvent } from './protocol';
import { referenceInspect } from '../model/reference/model';
import { TrainingError } from './training-error';

const MAX_STEPS_IN_FLIGHT = 3;

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

export interface ValidPoint {
  step: number;
  /** Training time when the point was reached. */
  elapsedMs: number;
  auc: number;
  logLoss: number;
}

export interface TrainingResult extends RunSummary {
  /** The kept (best-validation) parameters. */
  params: Float32Array;
  modelConfig: ModelConfig;
  /** Loss of every step (index = step - 1). */
  losses: number[];
  /** The validation points during training, on the fixed validation sample. */
  validCurve: ValidPoint[];
}

/** Linear warm-up over the first 5 % of steps (at most 100), then cosine decay to 10 % of the peak. */
export function learningRateAt(step: number, totalSteps: number, peak: number): number {
  const warmup = Math.max(1, Math.min(100, Math.round(totalSteps * 0.05)));
  if (step <= warmup) return (peak * step) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The validation points of one epoch of `stepsPerEpoch` steps: evalsPerEpoch of them, evenly spaced, the last at its end. */
export function validationSteps(stepsPerEpoch: number, evalsPerEpoch: number): Set<number> {
  const points = new Set<number>();
  for (let j = 1; j <= evalsPerEpoch; j++) points.add(Math.max(1, Math.round((j * stepsPerEpoch) / evalsPerEpoch)));
  return points;
}

const realTokens = (prompts: readonly PackedPrompt[]) => prompts.reduce((s, p) => s + p.tokens.length, 0);

export interface TrainOptions {
  /** Initial parameters (for instance from an imported model); default: seeded init. */
  initialParams?: Float32Array;
  /** Called with every event, in order. */
  emit: (event: TrainerEvent) => void;
  control?: TrainingControl;
  /** The prompt the page shows, read at each inspection (at most every INSPECT_INTERVAL_MS); null or absent: none. */
  inspect?: () => InspectRequest | null;
}

/** How often the page's prompt is scored with the current weights while training (and once more with the kept ones). */
export const INSPECT_INTERVAL_MS = 2000;

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
  const classes = oneClassProblem(dataset, config.n);
  if (classes) throw new TrainingError('invalid-config', classes);

  emit({ type: 'status', phase: 'prepare', message: 'Packing prompts', fraction: 0 });
  const k = effectiveK(config);
  const { written, train: trainPrompts, validSample, valid: validPrompts, test: testPrompts, modelConfig, step } = runPrompts(dataset, config);
  if (trainPrompts.length === 0) {
    throw new TrainingError(
      'invalid-config',
      `no training targets: every user needs more than n = ${config.n} interactions before a training target; lower n or load more data`,
    );
  }
  const trainLength = longestPrompt(trainPrompts);
  const evalPrompts = [...validPrompts, ...testPrompts];
  const microRows = Math.min(step.prompts, rowsThatFit(gpu.device.limits, modelConfig, trainLength));
  emit({ type: 'status', phase: 'compile', message: 'Allocating buffers and compiling kernels', fraction: 0.5 });

  const ctx = new GpuContext(gpu.device);
  const inFlight: { step: number; epoch: number; targets: number; tokens: number; stats: Promise<StepStats> }[] = [];
  try {
    let state: ParamState;
    let trainer: GpuModel;
    let evaluator: GpuModel | null;
    // Error scopes catch what building the pipelines and buffers got wrong (a shader the driver rejects, memory),
    // instead of training on invalid commands that silently do nothing.
    gpu.device.pushErrorScope('out-of-memory');
    gpu.device.pushErrorScope('validation');
    try {
      state = new ParamState(ctx, modelConfig, options.initialParams);
      state.reserveCheckpoint();
      trainer = new GpuModel(state, { B: microRows, L: trainLength, maxTargets: microRows * k, n: config.n, isolation: config.isolation }, true, {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: config.weightDecay,
        maxGradNorm: config.maxGradNorm,
      });
      evaluator = evalPrompts.length ? createEvaluator(state, config, evalPrompts) : null;
    } catch (error) {
      await gpu.device.popErrorScope();
      await gpu.device.popErrorScope();
      throw new TrainingError('too-large', (error as Error).message);
    }
    const invalid = await gpu.device.popErrorScope();
    const outOfMemory = await gpu.device.popErrorScope();
    if (outOfMemory) throw new TrainingError('too-large', `The GPU ran out of memory while allocating this run: ${outOfMemory.message}. Lower the targets per step, k, n or the model size.`);
    if (invalid) throw new TrainingError('gpu-error', `The GPU rejected the training kernels: ${invalid.message}`);
    await gpu.device.queue.onSubmittedWorkDone();

    const score = (prompts: readonly PackedPrompt[], split: 'valid' | 'test', what: string) =>
      scorePrompts(evaluator!, prompts, split, (fraction) =>
        emit({ type: 'status', phase: 'evaluate', message: `Scoring ${what}`, fraction }),
      );

    const stepsPerEpoch = Math.ceil(trainPrompts.length / step.prompts);
    const plannedSteps = stepsPerEpoch * config.epochs;
    const totalSteps = config.maxSteps > 0 ? Math.min(config.maxSteps, plannedSteps) : plannedSteps;
    const validationPoints = validationSteps(stepsPerEpoch, config.evalsPerEpoch);
    const rng = new Rng(config.seed);
    const losses: number[] = [];
    const validCurve: ValidPoint[] = [];
    let stepCount = 0;
    let trainMs = 0;
    let tokensProcessed = 0;
    let targetsProcessed = 0;
    let segmentStart = performance.now();
    let clockRunning = true;
    let best: ValidPoint | null = null;
    let pointsSinceBest = 0;
    let stopReason: StopReason = config.maxSteps > 0 && config.maxSteps < plannedSteps ? 'max-steps' : 'completed';

    /** Waits for the oldest queued step, reports it, and stops the run on a non-finite loss or gradient. */
    const settleOldest = async () => {
      const done = inFlight.shift()!;
      const stats = await done.stats;
      // The GPU's loss is Σ loss / lossDenominator; curves show the mean over the step's targets.
      const loss = (stats.loss * step.lossDenominator) / Math.max(1, done.targets);
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
        totalSteps,
      });
      if (stats.lossNonFinite || stats.gradNonFinite) {
        const what = stats.lossNonFinite ? `the loss became ${stats.loss}` : `the gradient norm became ${stats.gradNorm}`;
        throw new TrainingError(
          'diverged',
          `Training diverged at step ${done.step}: ${what}. The run stopped there: no checkpoint is scored on test and no model is kept. ` +
            `Try a lower learning rate (now ${config.learningRate}) or gradient clipping (max norm now ${config.maxGradNorm || 'off'}).`,
        );
      }
    };
    /** Stops the training clock around evaluation and pauses, so trainMs counts training only. */
    const pauseClock = async () => {
      while (inFlight.length) await settleOldest();
      if (clockRunning) trainMs += performance.now() - segmentStart;
      clockRunning = false;
    };
    const restartClock = () => {
      segmentStart = performance.now();
      clockRunning = true;
    };
    let lastInspection = -Infinity;
    /**
     * Scores the page's prompt with the current weights (read back from the GPU) on the CPU reference, which also gives
     * the attention probabilities the GPU kernels never store. Off the training clock; at most every INSPECT_INTERVAL_MS.
     */
    const inspect = async (force = false) => {
      const request = options.inspect?.();
      if (!request || (!force && performance.now() - lastInspection < INSPECT_INTERVAL_MS)) return;
      lastInspection = performance.now();
      const { prompt } = request;
      const fits = prompt.tokens.every((token) => token < modelConfig.vocabSize) && (config.model.positionEncoding !== 'learned' || prompt.tokens.length <= modelConfig.maxSeqLen);
      if (!fits || request.layer >= modelConfig.nLayers || request.head >= modelConfig.nHeads) return;
      await pauseClock();
      const batch = makeBatch([prompt], { L: prompt.tokens.length, n: config.n, isolation: config.isolation });
      const { probs, attention } = referenceInspect(modelConfig, await state.readParams(), batch, request.layer, request.head);
      emit({ type: 'inspection', key: request.key, step: stepCount, layer: request.layer, head: request.head, n: config.n, isolation: config.isolation, probs, attention: Float32Array.from(attention) });
      restartClock();
    };
    /** One validation point on the fixed sample; keeps the best checkpoint. True when patience has run out. */
    const validate = async (): Promise<boolean> => {
      if (!validSample.length) return false;
      await pauseClock();
      const { metrics } = await score(validSample, 'valid', `the validation sample at step ${stepCount}`);
      const point = { step: stepCount, elapsedMs: trainMs, auc: metrics.auc, logLoss: metrics.logLoss };
      validCurve.push(point);
      emit({ type: 'eval', step: stepCount, split: 'valid', metrics, elapsedMs: trainMs, sample: true });
      // A NaN AUC (one class in the sample) cannot rank checkpoints: the latest is kept then.
      if (!(best && best.auc >= point.auc)) {
        best = point;
        pointsSinceBest = 0;
        state.saveCheckpoint();
      } else pointsSinceBest++;
      emit({ type: 'status', phase: 'train', message: `Training step ${stepCount} of ${totalSteps}`, fraction: stepCount / totalSteps });
      restartClock();
      return config.patience > 0 && pointsSinceBest >= config.patience;
    };

    emit({ type: 'status', phase: 'train', message: `Training ${totalSteps} steps`, fraction: 0 });
    outer: for (let epoch = 1; epoch <= config.epochs; epoch++) {
      let stepInEpoch = 0;
      for (const group of batchesOf(trainPrompts, step.prompts, rng)) {
        if (stepCount >= totalSteps) break outer;
        if (control.stopped) {
          stopReason = 'stopped';
          break outer;
        }
        if (control.isPaused) {
          await pauseClock();
          emit({ type: 'paused' });
          await control.waitWhilePaused();
          if (control.stopped) {
            stopReason = 'stopped';
            break outer;
          }
          emit({ type: 'resumed' });
          restartClock();
        }
        stepCount++;
        stepInEpoch++;
        const microBatches: Batch[] = [];
        for (let start = 0; start < group.length; start += microRows) {
          const rows = group.slice(start, start + microRows);
          microBatches.push(
            makeBatch(rows, {
              L: batchLength(rows, trainLength),
              B: microRows,
              n: config.n,
              isolation: config.isolation,
              lossDenominator: step.lossDenominator,
            }),
          );
        }
        const targets = microBatches.reduce((sum, batch) => sum + batch.targetIndex.length, 0);
        const tokens = realTokens(group);
        targetsProcessed += targets;
        tokensProcessed += tokens;
        const lr = learningRateAt(stepCount, totalSteps, config.learningRate);
        inFlight.push({ step: stepCount, epoch, targets, tokens, stats: trainer.trainStep(microBatches, lr) });
        if (inFlight.length >= MAX_STEPS_IN_FLIGHT) await settleOldest();
        await inspect();
        if (validationPoints.has(stepInEpoch) && stepCount < totalSteps && (await validate())) {
          stopReason = 'early-stopped';
          break outer;
        }
      }
    }
    await pauseClock();
    // The last weights compete for the checkpoint too.
    if (validCurve.at(-1)?.step !== stepCount && stopReason !== 'stopped') {
      await validate();
      await pauseClock();
    }

    // (`best` is assigned inside validate(), which the compiler's narrowing does not see.)
    const kept = best as ValidPoint | null;
    if (kept) state.restoreCheckpoint();
    await inspect(true);
    const bestStep = kept?.step ?? stepCount;
    const keptMs = kept?.elapsedMs ?? trainMs;
    emit({ type: 'status', phase: 'evaluate', message: `Final evaluation of step ${bestStep}'s weights` });
    let valid: Metrics = { ...NO_METRICS };
    if (validPrompts.length) {
      valid = (await score(validPrompts, 'valid', 'every validation target')).metrics;
      emit({ type: 'eval', step: bestStep, split: 'valid', metrics: valid, elapsedMs: keptMs, sample: false });
    }
    const scoredTest = testPrompts.length ? await score(testPrompts, 'test', 'every test target') : null;
    const test = scoredTest?.metrics ?? { ...NO_METRICS };
    emit({ type: 'eval', step: bestStep, split: 'test', metrics: test, elapsedMs: keptMs, sample: false });
    const testPredictions = scoredTest?.predictions ?? new Float32Array(0);
    const testLabels = scoredTest?.labels ?? new Uint8Array(0);
    emit({ type: 'status', phase: 'evaluate', message: `Measuring train–serve skew of step ${bestStep}'s weights` });
    const diagnostics = await skewDiagnostics(state, written, config);
    const baselines = baselineAucs(dataset, SPLIT_TEST, config.n);
    const testAucInterval = aucInterval(testPredictions, testLabels, { seed: config.seed });
    const summary: RunSummary = {
      stopped: stopReason === 'stopped',
      stopReason,
      stopMessage: stopMessage(stopReason, { config, steps: stepCount, totalSteps, kept, patience: config.patience, validates: validPrompts.length > 0 }),
      steps: stepCount,
      bestStep,
      trainMs,
      tokensProcessed,
      targetsProcessed,
      valid,
      test,
      testAucInterval,
      testPredictions,
      testLabels,
      evalTargetsPerPrompt: evalTargetsPerPrompt(config),
      baselines,
      diagnostics,
      warnings: runWarnings({ steps: stepCount, test, testAucInterval, validCurve, baselines, trainClickRate: trainingRate(dataset).rate }),
    };
    const result: TrainingResult = { ...summary, params: await state.readParams(), modelConfig, losses, validCurve };
    emit({ type: 'done', ...summary });
    return result;
  } finally {
    // After a failure, steps still queued would reject once their buffers are gone: nobody waits for them any more.
    for (const pending of inFlight) pending.stats.catch(() => {});
    ctx.destroy();
  }
}

function stopMessage(
  reason: StopReason,
  run: { config: TrainConfig; steps: number; totalSteps: number; kept: ValidPoint | null; patience: number; validates: boolean },
): string {
  const keptText = run.kept
    ? `kept step ${run.kept.step}'s weights (best validation AUC ${run.kept.auc.toFixed(4)} on the validation sample)`
    : run.validates
      ? 'kept the last weights (stopped before the first validation point)'
      : 'kept the last weights (no validation targets to choose by)';
  switch (reason) {
    case 'completed':
      return `Trained all ${run.config.epochs} epoch${run.config.epochs === 1 ? '' : 's'} (${run.steps} steps); ${keptText}.`;
    case 'max-steps':
      return `Reached the step limit (${run.steps} of ${run.totalSteps} planned steps); ${keptText}.`;
    case 'early-stopped':
      return `Stopped early at step ${run.steps} of ${run.totalSteps}: the validation AUC did not improve for ${run.patience} validation points; ${keptText}.`;
    case 'stopped':
      return `Stopped by you at step ${run.steps} of ${run.totalSteps}; ${keptText}.`;
  }
}
