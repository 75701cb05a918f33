/**
 * The lab's state: one zustand store made of slices (dataset, config + views, runs, training session, explain mode).
 * Components read it with selectors and call its actions; every effect (data worker, training worker, IndexedDB)
 * goes through the ports of LabDeps so tests can replace them.
 */
import type { DataErrorInfo, DatasetStats, FilePreview, FormatId, LoadNote, LoadedFile, Preset, SkippedRows } from '../data';
import type { TokenizedDataset } from '../prompt/types';
import type { ModelSize, TrainConfig, TrainerCommand, TrainerEvent } from '../train/protocol';
import type { SweepPlan } from '../train/experiments';
import type { ShardProvenance } from '../train/shards';
import type { FullConfigCheck, ModelPresetName } from './config-check';
import type { ExportFile } from './export';
import type { DataPrep } from './data-prep';
import type { ExplainFacts } from './explain';
import type { GpuLimits } from './memory';
import type { RunStorage } from './persist';
import type { PromptView } from './prompt-view';
import type { RunRecord, VocabFingerprint } from './run-types';
import type { TabSync } from './tabs';
import type { UploadChoices } from './upload-choices';

// ---------------------------------------------------------------------------------------------------------------
// Ports

export type DatasetSource = { kind: 'builtin'; preset: Preset } | { kind: 'upload'; files: string[] };

export interface LoadedDataset {
  data: TokenizedDataset;
  stats: DatasetStats;
  source: DatasetSource;
  format: FormatId;
  /** The files read and what each was taken for. */
  files: LoadedFile[];
  /** Rows left out while parsing, with the first few reasons. */
  skipped: SkippedRows;
  /** What the load assumed or did not read, though the data loaded (an encoding guessed, a key seen too late). */
  notes: LoadNote[];
  /** The split and click rules it was prepared with. */
  prep: DataPrep;
}

export interface DataProgress {
  message: string;
  /** 0..1, or null when the step has no measurable progress. */
  fraction: number | null;
}

/** Loads datasets off the page's thread. Rejects with a DataErrorInfo-shaped error on bad input. */
/** Loading data. An aborted signal ends the load's worker (a replaced or cancelled load holds no memory after). */
export interface DataPort {
  loadBuiltin(preset: Preset, onProgress: (p: DataProgress) => void, prep: DataPrep, signal?: AbortSignal): Promise<LoadedDataset>;
  /** Detects each file's format from its first bytes; a file's problem is in its preview, not thrown. */
  previewFiles(files: File[], choices: UploadChoices, signal?: AbortSignal): Promise<FilePreview[]>;
  loadFiles(files: File[], onProgress: (p: DataProgress) => void, choices: UploadChoices, prep: DataPrep, signal?: AbortSignal): Promise<LoadedDataset>;
}

export type ShardExporter = (
  dataset: TokenizedDataset,
  config: TrainConfig,
  provenance: ShardProvenance,
  onProgress: (fraction: number) => void,
) => Promise<{ filename: string; bytes: Uint8Array }>;

/** The training worker, as the store sees it. */
export interface TrainerPort {
  post(command: TrainerCommand): void;
  listen(handler: (event: TrainerEvent) => void): void;
  terminate(): void;
}

export interface WebGpuSupport {
  available: boolean;
  /** The adapter when available; what is missing and how to enable it otherwise. */
  message: string;
  /** The adapter's buffer limits, when an adapter was found (the worker asks its device for the same). */
  limits?: GpuLimits | null;
}

/** The runs ticked for side by side and its baseline. */
export interface CompareSelection {
  compareIds: string[];
  baselineId: string | null;
}

/** Keeps the comparison's selection across reloads (the page: localStorage; tests: memory). */
export interface SelectionStore {
  load(): CompareSelection | null;
  save(selection: CompareSelection): void;
}

export interface LabDeps {
  data: DataPort;
  storage: RunStorage;
  selection: SelectionStore;
  /** Other tabs of the lab: which runs are live elsewhere, and runs they save or delete. */
  tabs: TabSync;
  createTrainer: () => TrainerPort;
  /** Packs a configuration's prompts into an archive for PyTorch (the page does it in src/train/shard-worker.ts). */
  exportShards: ShardExporter;
  detectWebGpu: () => Promise<WebGpuSupport>;
  now: () => number;
  newId: () => string;
}

// ---------------------------------------------------------------------------------------------------------------
// Slices

export interface DatasetSlice {
  dataset: LoadedDataset | null;
  /** The load in progress, if any. */
  datasetTask: { kind: 'builtin' | 'upload'; label: string; progress: DataProgress } | null;
  /** Why the last load failed; the previous dataset stays loaded. */
  datasetError: DataErrorInfo | null;
  /** What was detected in the files of the last upload (format, columns, first rows, or each file's problem). */
  uploadPreviews: FilePreview[] | null;
  /** The files of the last upload and the choices they were read with, so that they can be loaded again (other choices or preparation). */
  uploadedFiles: File[] | null;
  uploadedChoices: UploadChoices;
  /** The loaded dataset's vocabulary in short (derived), to match stored models against it. */
  datasetVocab: VocabFingerprint | null;
  /** The loaded upload's checksum (src/data/checksum.ts), once computed; null for built-in data. The link carries it. */
  datasetChecksum: string | null;
  loadBuiltin(preset: Preset): Promise<void>;
  /** Previews and loads the files; a choice not given is the default (the usual column names, a detected encoding). */
  uploadFiles(files: File[], choices?: Partial<UploadChoices>): Promise<void>;
  /** Prepares the loaded data again (built-in or upload) with another split or click rule; on failure the rules of the data still loaded come back. */
  setPrep(prep: DataPrep): Promise<void>;
  dismissDatasetError(): void;
  /** Ends the load in progress (its worker too); the dataset loaded before stays. */
  cancelDatasetLoad(): void;
}

/** Uploaded data as a link names it: the files' names and the prepared dataset's checksum (its first 16 hex digits). */
export interface LinkedUpload {
  files: string[];
  checksum: string;
}

export interface ConfigSlice {
  config: TrainConfig;
  /** The built-in preset the link names (and that is loaded unless a file was uploaded). */
  preset: Preset;
  /** The split and click rules the link names (those of the loaded data once it is loaded). */
  prep: DataPrep;
  /** Values of the opened link that could not be used, explained. */
  linkProblems: string[];
  /** The uploaded data a link was made on (its files and checksum): the page asks for those files. */
  linkedUpload: LinkedUpload | null;
  check: FullConfigCheck;
  setConfig(patch: Partial<Omit<TrainConfig, 'model'>>): void;
  setModel(patch: Partial<ModelSize>): void;
  applyModelPreset(name: ModelPresetName): void;
  /** Reads a URL hash (see url-hash.ts); loads the preset it names when that differs from the loaded one. */
  applyHash(hash: string): void;
  dismissLinkProblems(): void;
}

export interface ViewSlice {
  /** The user whose first prompt the views show. */
  viewUser: number;
  /** Target (index into the prompt's targets) whose receptive field is overlaid; null = none. */
  fieldTarget: number | null;
  promptView: PromptView | null;
  /** Why there is no prompt to show, when there is none. */
  promptViewProblem: string | null;
  /** Show token positions and where each target would sit in its own SW prompt (positional bias). */
  showPositions: boolean;
  showOtherPrompt(direction: 1 | -1): void;
  setFieldTarget(target: number | null): void;
  setShowPositions(show: boolean): void;
}

export interface RunsSlice {
  runs: RunRecord[];
  runsLoaded: boolean;
  /** Set when runs cannot be saved (IndexedDB missing or failing): they then last until the page closes. */
  storageProblem: string | null;
  compareIds: string[];
  baselineId: string | null;
  /** Outcome of the last import or export of a model or a runs file. */
  runsMessage: { kind: 'error' | 'info'; text: string } | null;
  loadRuns(): Promise<void>;
  deleteRun(id: string): Promise<void>;
  renameRun(id: string, name: string): Promise<void>;
  toggleCompare(id: string): void;
  setBaseline(id: string): void;
  exportRuns(format: 'summary-csv' | 'curves-csv' | 'json', ids?: string[]): ExportFile;
  /** The export to PyTorch in progress (share of prompts packed), if any. */
  shardExport: { fraction: number } | null;
  /**
   * The current configuration's prompts on the loaded data as a .tar of safetensors shards and a manifest, for
   * python/train.py; null with runsMessage set when the data or the configuration does not allow it.
   */
  exportForPyTorch(): Promise<{ filename: string; bytes: Uint8Array } | null>;
  /** The trained model of a run as a safetensors file (null with runsMessage set when there is none). */
  exportModel(id: string): Promise<{ filename: string; bytes: Uint8Array } | null>;
  importModel(name: string, bytes: ArrayBuffer): Promise<void>;
  /**
   * Adds the runs of a file that exportRuns(…, 'json') wrote, saved like runs trained here; runs whose id the lab has
   * are skipped. A file that is not one, or that has a bad run, adds nothing; runsMessage says what happened.
   */
  importRuns(file: File): Promise<void>;
  /** Copies a run's configuration into the editor (and the link). */
  applyRunConfig(id: string): void;
}

/** Whether a run's stored model can be evaluated on the loaded dataset now, and why not. */
export interface EvaluationOption {
  /** The loaded dataset's name, for the button ("Evaluate on …"); null when none is loaded. */
  datasetName: string | null;
  enabled: boolean;
  /** One line saying why not, when not enabled. */
  reason: string | null;
}

export type SessionState = 'idle' | 'running' | 'pausing' | 'paused' | 'stopping';

/** What the run in progress (or the last one) makes of the prompt shown: its weights' P(click) and one head's attention. */
export interface Inspection extends Omit<Extract<TrainerEvent, { type: 'inspection' }>, 'type' | 'key'> {
  /** The prompt view it is for: shown only while that prompt is. */
  view: PromptView;
  runId: string | null;
  /** True once the run has ended: the inspection is of the weights it kept. */
  final: boolean;
}

export interface SessionSlice {
  webgpu: {
    state: 'checking' | 'available' | 'unavailable';
    message: string;
    /** The adapter's buffer limits once known (the configuration check refuses runs that would not fit). */
    limits: GpuLimits | null;
  };
  session: {
    state: SessionState;
    runId: string | null;
    /** What the worker is doing (device, compile, prepare, train, evaluate). */
    status: Extract<TrainerEvent, { type: 'status' }> | null;
    /** Configs still to train after the current run (a SW-vs-DTI comparison or a sweep). */
    queue: TrainConfig[];
  };
  /** Why the last start request was refused (a run's own failure is kept on the run). */
  startProblem: string | null;
  /** The evaluation of a stored model in progress (one at a time, and never during a run: they share the worker). */
  evaluation: { runId: string; datasetName: string; datasetPreset: string | null } | null;
  /** The model's view of the prompt shown, while a run trains and after it ends; null before any. */
  inspection: Inspection | null;
  /** Which layer's head the attention is read from, and whether the mask draws it. */
  inspectHead: { layer: number; head: number; show: boolean };
  setInspectHead(change: Partial<SessionSlice['inspectHead']>): void;
  /** Tells the worker which prompt to score (the one shown, on the run's data); the store calls it when either changes. */
  syncInspection(): void;
  /** Pause the run while the page is hidden (the person's choice; off by default). */
  pauseWhenHidden: boolean;
  /** True while the run is paused because the page was hidden (it resumes when the page is shown again). */
  pausedWhileHidden: boolean;
  checkWebGpu(): Promise<void>;
  startTraining(): void;
  /** Trains a failed or finished run's configuration again (after a lost device: on a new one). */
  restartRun(id: string): void;
  /** Evaluates a run's stored model on the loaded dataset's validation and test splits (imported runs). */
  evaluateRun(id: string): Promise<void>;
  /** Fault injection: asks the worker to destroy its GPU device mid-run, as a driver reset would. */
  simulateDeviceLoss(): void;
  setPauseWhenHidden(on: boolean): void;
  /** The page's visibilitychange, as the page binding reports it. */
  pageVisibilityChanged(hidden: boolean): void;
  /**
   * Trains the current configuration as SW and then as DTI (max steps unused), with the same targets per step and the
   * same early stopping, for the comparison.
   */
  startComparison(): void;
  /** Queues the scaling-in-k grid of `plan` on the current configuration, whole epochs each; its runs share a sweep id. */
  startSweep(plan: SweepPlan): void;
  pauseTraining(): void;
  resumeTraining(): void;
  stopTraining(): void;
}

export interface ExplainSlice {
  explain: { open: boolean; step: number; savedConfig: TrainConfig | null; savedFieldTarget: number | null };
  explainFacts: ExplainFacts | null;
  openExplain(): void;
  /** Leaves the walk; restore = put back the configuration from before it. The step is kept for resuming. */
  closeExplain(restore: boolean): void;
  goToExplainStep(step: number): void;
}

export interface LabState extends DatasetSlice, ConfigSlice, ViewSlice, RunsSlice, SessionSlice, ExplainSlice {
  /** Starts the lab: WebGPU check, saved runs, the dataset the link names. */
  init(hash: string): Promise<void>;
}

export type SetLab = (partial: Partial<LabState> | ((state: LabState) => Partial<LabState>)) => void;
export type GetLab = () => LabState;
export type SliceCreator<T> = (set: SetLab, get: GetLab, deps: LabDeps) => T;
