/** What the lab keeps about a training run: enough to compare, export and reproduce it. */
import type { DataPrep } from './data-prep';
import type { Metrics, RunSummary, TrainConfig, TrainerEvent } from '../train/protocol';

export interface StepPoint {
  step: number;
  epoch: number;
  loss: number;
  /** Training wall-clock so far (evaluation and pauses excluded). */
  elapsedMs: number;
  targetsPerSec: number;
  tokensPerSec: number;
  /** Targets and tokens of this step's batch. */
  targets: number;
  tokens: number;
}

export interface EvalPoint extends Metrics {
  step: number;
  split: 'valid' | 'test';
  /** Training time when these weights were reached (absent in runs saved before the lab recorded it). */
  elapsedMs?: number;
  /** True for validation points during training (on the fixed validation sample); false for the final scores. */
  sample?: boolean;
}

/** A validation point during training (on the fixed sample); runs saved before the lab marked them have only those. */
export const duringTraining = (e: EvalPoint): boolean => e.split === 'valid' && e.sample !== false;

/** Always there: what runs saved before the current protocol recorded too. */
type CoreResult = 'steps' | 'trainMs' | 'tokensProcessed' | 'targetsProcessed' | 'valid' | 'test' | 'stopped';

/** A finished run's summary (the trainer's 'done' event); runs saved before the lab measured the rest lack it. */
export type RunResult = Pick<RunSummary, CoreResult> & Partial<Omit<RunSummary, CoreResult>>;

export type RunStatus = 'running' | 'done' | 'stopped' | 'failed' | 'interrupted' | 'imported';

export interface RunDatasetInfo {
  name: string;
  /** Built-in preset, when the run used the built-in generator (uploads cannot be put in a link). */
  preset: string | null;
  users: number;
  interactions: number;
  /** The split and click rules the data was prepared with (absent in runs saved before the lab offered a choice: the defaults). */
  prep?: DataPrep;
}

export interface RunRecord {
  id: string;
  name: string;
  createdAt: number;
  config: TrainConfig;
  dataset: RunDatasetInfo;
  status: RunStatus;
  /** The training curve: every step, or for a run longer than MAX_STEP_POINTS (session-slice.ts) an evenly thinned one. */
  steps: StepPoint[];
  evals: EvalPoint[];
  result: RunResult | null;
  error: { kind: Extract<TrainerEvent, { type: 'error' }>['kind']; message: string } | null;
  /** The GPU adapter the run trained on. */
  adapter: string | null;
  /** The lab's version (package.json) that trained it; absent for runs stored before runs recorded it. */
  labVersion?: string;
  /** The sweep (scaling in k) this run was queued by, if any: its runs form one table. */
  sweepId?: string;
  /** Whether trained parameters are stored (IndexedDB 'models') for safetensors export. */
  hasModel: boolean;
  /** The vocabulary the stored model was trained with (imported runs), to tell which datasets it can be evaluated on. */
  modelVocab?: VocabFingerprint | null;
  /** Evaluations of the stored model (imported runs) on loaded datasets, oldest first. */
  evaluations?: RunEvaluation[];
}

/** A vocabulary in short: its size and a hash of its tokens in order (the full list is checked before evaluating). */
export interface VocabFingerprint {
  size: number;
  hash: string;
}

/** Metrics of a run's stored model on a dataset, and where and when they were measured. */
export interface RunEvaluation {
  datasetName: string;
  datasetPreset: string | null;
  /** When the evaluation finished (ms since the epoch). */
  at: number;
  valid: Metrics;
  test: Metrics;
}

/** Trained parameters of a run, stored apart from the run so listing runs stays cheap. */
export interface StoredModel {
  runId: string;
  config: TrainConfig;
  params: Float32Array;
  vocabSize: number;
  maxSeqLen: number;
  /** The vocabulary, so an exported file can be read without the dataset it was trained on. */
  vocab: string[];
  datasetName: string;
}
