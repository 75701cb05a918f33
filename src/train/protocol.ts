/**
 * The training configuration and the messages between the page and the training worker (src/train/worker.ts).
 * The page never trains: it posts a StartMessage and renders the TrainerEvents it gets back.
 */
import type { BaselineAucs } from '../data/baselines';
import type { DatasetMessage } from '../data/dataset-message';
import type { ModelConfig } from '../model/config';
import type { ItemText, IsolationLevel, PackedPrompt } from '../prompt/types';
import type { Interval } from './bootstrap';
import type { SkewDiagnostics } from './diagnostics';

export type Paradigm = 'sw' | 'dti';

/** The model a run chooses; vocabulary and length come from the data, the seed from the run. */
export type ModelSize = Pick<ModelConfig, 'dModel' | 'nHeads' | 'nLayers' | 'dFF' | 'positionEncoding' | 'forgetting'>;

export interface TrainConfig {
  /** Context interactions per target. */
  n: number;
  /** Targets per prompt (forced to 1 by paradigm 'sw'). */
  k: number;
  paradigm: Paradigm;
  isolation: IsolationLevel;
  /** How items are written in prompts: words, item-id token, or both. */
  itemText: ItemText;
  model: ModelSize;
  /** Peak learning rate (linear warm-up, then cosine decay: learningRateAt in trainer.ts). */
  learningRate: number;
  /**
   * Targets per optimizer step, for SW and DTI alike: a DTI step takes as many prompts as hold about this many
   * targets (at least MIN_PROMPTS_PER_STEP, so no step is one user's window), split into micro-batches that fit memory.
   */
  batchTargets: number;
  /** Most epochs; early stopping may end the run sooner. */
  epochs: number;
  /** Stop after this many steps (0 = run all epochs). */
  maxSteps: number;
  seed: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Validation points per epoch, each on the same fixed validation sample. */
  evalsPerEpoch: number;
  /** Stop after this many validation points without a better validation AUC (0 = never stop early). */
  patience: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  n: 10,
  k: 20,
  paradigm: 'dti',
  isolation: 'strict',
  itemText: 'both',
  model: { dModel: 64, nHeads: 4, nLayers: 2, dFF: 256, positionEncoding: 'rope', forgetting: false },
  learningRate: 3e-3,
  batchTargets: 128,
  epochs: 10,
  maxSteps: 0,
  seed: 1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  evalsPerEpoch: 4,
  patience: 4,
};

/** Why a run ended. */
export type StopReason = 'completed' | 'early-stopped' | 'max-steps' | 'stopped';

export interface Metrics {
  auc: number;
  logLoss: number;
  accuracy: number;
  count: number;
  /** Mean predicted P(click); over clickRate it is the predicted-over-observed CTR (1: right on average). */
  meanPrediction: number;
  /** Share of the targets that are clicks. */
  clickRate: number;
  /**
   * Calibration slope: b of the logistic fit label ~ a + b·logit(P). 1: the predictions are as confident as they
   * should be; above 1: too timid (pulled towards the prior); below 1: overconfident. NaN when undefined.
   */
  calibrationSlope: number;
}

export type TrainerEvent =
  | { type: 'status'; phase: 'device' | 'compile' | 'prepare' | 'train' | 'evaluate'; message: string; fraction?: number }
  | { type: 'device'; adapter: string; features: string[] }
  /**
   * The run's current weights on the inspected prompt: P(click) per target and the layer's head's attention ([L, L],
   * row = query), under the run's n and isolation (not necessarily the page's).
   */
  | { type: 'inspection'; key: string; step: number; layer: number; head: number; n: number; isolation: IsolationLevel; probs: Float32Array; attention: Float32Array }
  | {
      type: 'step';
      step: number;
      epoch: number;
      loss: number;
      targets: number;
      tokens: number;
      elapsedMs: number;
      targetsPerSec: number;
      tokensPerSec: number;
      /** Steps the run plans (fewer when it stops early). */
      totalSteps: number;
    }
  | {
      type: 'eval';
      step: number;
      split: 'valid' | 'test';
      metrics: Metrics;
      /** Training time when these weights were reached (evaluation and pauses excluded). */
      elapsedMs: number;
      /** True for the validation points during training (the fixed validation sample); false for the final scores. */
      sample: boolean;
    }
  | ({ type: 'done' } & RunSummary)
  | { type: 'paused' }
  | { type: 'resumed' }
  | {
      type: 'error';
      kind: 'no-webgpu' | 'device-lost' | 'gpu-error' | 'diverged' | 'too-large' | 'invalid-config' | 'internal';
      message: string;
    }
  | { type: 'model'; config: TrainConfig; params: Float32Array; vocabSize: number; maxSeqLen: number }
  /** Answer to 'evaluate': SW-style metrics of the given parameters on the dataset's validation and test splits. */
  | { type: 'evaluated'; valid: Metrics; test: Metrics };

/** What a finished run reports: how it trained, why it ended, and its scores against the baselines. */
export interface RunSummary {
  stopped: boolean;
  stopReason: StopReason;
  /** The stop reason in words, with the step and the validation AUC that decided it. */
  stopMessage: string;
  steps: number;
  /** The step whose weights were scored on test and kept (the best validation point). */
  bestStep: number;
  trainMs: number;
  tokensProcessed: number;
  targetsProcessed: number;
  test: Metrics;
  valid: Metrics;
  /** 95 % bootstrap interval of the test AUC (over test targets). */
  testAucInterval: Interval;
  /** P(click) of every test target, users in dataset order then by history index (for paired comparisons). */
  testPredictions: Float32Array;
  /** The test targets' labels, in the same order. */
  testLabels: Uint8Array;
  /** Test targets per evaluation prompt: above 1 when DTI packing scores exactly what SW prompts would. */
  evalTargetsPerPrompt: number;
  /** Simple scorers on the same test targets. */
  baselines: BaselineAucs;
  /**
   * The kept weights' train–serve skew and slot spread on a test sample (diagnostics.ts); null for SW runs and when
   * no test target has n + k − 1 interactions before it. Runs saved before the lab measured it lack it.
   */
  diagnostics?: SkewDiagnostics | null;
  /** What makes this run's figures weak evidence (guardrails.ts); empty when none applies. */
  warnings: string[];
}

/** The prompt the page shows, for the trainer to score with its current weights: P(click) of its targets, one head's attention. */
export interface InspectRequest {
  /** Names the prompt (data, user, n, k, item text), so an answer for an earlier prompt is told apart. */
  key: string;
  prompt: PackedPrompt;
  layer: number;
  head: number;
}

export type TrainerCommand =
  | { type: 'start'; config: TrainConfig; dataset: DatasetMessage }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  /** The prompt to inspect while training (null: none); answered by 'inspection' events at most every INSPECT_INTERVAL_MS. */
  | { type: 'inspect'; request: InspectRequest | null }
  /** Asks for a 'model' event with the current parameters (for safetensors export). */
  | { type: 'export-model' }
  /** Evaluates given parameters (an imported model) on a dataset with the same vocabulary; answers 'evaluated'. */
  | { type: 'evaluate'; config: TrainConfig; dataset: DatasetMessage; params: Float32Array }
  /** Fault injection for tests and demos: destroys the GPU device as a driver reset would. */
  | { type: 'simulate-device-loss' };
