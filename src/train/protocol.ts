/**
 * The training configuration and the messages between the page and the training worker (src/train/worker.ts).
 * The page never trains: it posts a StartMessage and renders the TrainerEvents it gets back.
 */
import type { IsolationLevel, PositionEncoding, TokenizedDataset } from '../prompt/types';

export type Paradigm = 'sw' | 'dti';

export interface ModelSize {
  dModel: number;
  nHeads: number;
  nLayers: number;
  dFF: number;
  positionEncoding: PositionEncoding;
}

export interface TrainConfig {
  /** Context interactions per target. */
  n: number;
  /** Targets per prompt (forced to 1 by paradigm 'sw'). */
  k: number;
  paradigm: Paradigm;
  isolation: IsolationLevel;
  model: ModelSize;
  learningRate: number;
  /** Prompts per batch. */
  batchSize: number;
  epochs: number;
  /** Stop after this many steps (0 = run all epochs). */
  maxSteps: number;
  seed: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Evaluate on the validation split every this many steps (0 = once per epoch). */
  evalEvery: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  n: 10,
  k: 10,
  paradigm: 'dti',
  isolation: 'strict',
  model: { dModel: 64, nHeads: 4, nLayers: 2, dFF: 256, positionEncoding: 'rope' },
  learningRate: 3e-3,
  batchSize: 16,
  epochs: 1,
  maxSteps: 0,
  seed: 1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  evalEvery: 0,
};

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
    }
  | { type: 'eval'; step: number; split: 'valid' | 'test'; metrics: Metrics }
  | {
      type: 'done';
      stopped: boolean;
      steps: number;
      trainMs: number;
      tokensProcessed: number;
      targetsProcessed: number;
      test: Metrics;
      valid: Metrics;
    }
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

export type TrainerCommand =
  | { type: 'start'; config: TrainConfig; dataset: TokenizedDataset }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  /** Asks for a 'model' event with the current parameters (for safetensors export). */
  | { type: 'export-model' }
  /** Evaluates given parameters (an imported model) on a dataset with the same vocabulary; answers 'evaluated'. */
  | { type: 'evaluate'; config: TrainConfig; dataset: TokenizedDataset; params: Float32Array }
  /** Fault injection for tests and demos: destroys the GPU device as a driver reset would. */
  | { type: 'simulate-device-loss' };
