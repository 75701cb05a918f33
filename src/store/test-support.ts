/** Fakes of the store's ports for the store and component tests: the real data layer and export, a scripted trainer. */
import { IDBFactory } from 'fake-indexeddb';
import { DataError, type Preset, loadBuiltin, parseFiles, previewFiles } from '../data';
import type { Metrics, TrainerCommand, TrainerEvent } from '../train/protocol';
import { shardArchive } from '../train/shards';
import { prepOptions } from './data-prep';
import { createLabStore } from './lab-store';
import { indexedDbStorage } from './persist';
import { memoryTabHub } from './tabs';
import type { CompareSelection, DataPort, LabDeps, LoadedDataset, SelectionStore, TrainerPort } from './types';
import { uploadOptions } from './upload-choices';

/** The real data layer, run on the test's thread (the page runs it in the data worker). */
export const inlineDataPort: DataPort = {
  loadBuiltin: async (preset: Preset, _onProgress, prep) => {
    const result = loadBuiltin(preset, prepOptions(prep));
    return { data: result.dataset, stats: result.stats, source: { kind: 'builtin', preset }, format: result.format, files: result.files, skipped: result.skipped, notes: result.notes, prep };
  },
  previewFiles: (files, choices) => previewFiles(files, uploadOptions(choices)),
  loadFiles: async (files, _onProgress, choices, prep): Promise<LoadedDataset> => {
    try {
      const result = await parseFiles(files, { ...uploadOptions(choices), ...prepOptions(prep) });
      return {
        data: result.dataset,
        stats: result.stats,
        source: { kind: 'upload', files: files.map((f) => f.name) },
        format: result.format,
        files: result.files,
        skipped: result.skipped,
        notes: result.notes,
        prep,
      };
    } catch (error) {
      throw error instanceof DataError ? error.toInfo() : error;
    }
  },
};

/** A selection store in memory (the page keeps it in localStorage); share one between stores to play a reload. */
export function memorySelection(): SelectionStore {
  let saved: CompareSelection | null = null;
  return {
    load: () => (saved ? structuredClone(saved) : null),
    save: (selection) => {
      saved = structuredClone(selection);
    },
  };
}

/** A trainer that records commands; the test plays the worker by calling emit. */
export class ScriptedTrainer implements TrainerPort {
  readonly commands: TrainerCommand[] = [];
  private handler: ((event: TrainerEvent) => void) | null = null;
  terminated = false;
  post(command: TrainerCommand): void {
    this.commands.push(structuredClone(command));
  }
  listen(handler: (event: TrainerEvent) => void): void {
    this.handler = handler;
  }
  terminate(): void {
    this.terminated = true;
  }
  emit(event: TrainerEvent): void {
    this.handler?.(event);
  }
  /** The run-control commands in order; 'inspect' requests (which follow the prompt shown) are read from `commands`. */
  commandTypes(): string[] {
    return this.commands.filter((c) => c.type !== 'inspect').map((c) => c.type);
  }
}

export function testDeps(overrides: Partial<LabDeps> = {}): LabDeps & { trainer: ScriptedTrainer } {
  const trainer = new ScriptedTrainer();
  let clock = 1_000_000;
  let id = 0;
  return {
    data: inlineDataPort,
    storage: indexedDbStorage(new IDBFactory()),
    selection: memorySelection(),
    tabs: memoryTabHub().tab(),
    createTrainer: () => trainer,
    exportShards: (dataset, config, provenance, onProgress) => shardArchive(dataset, config, provenance, onProgress),
    detectWebGpu: async () => ({ available: true, message: 'test adapter' }),
    now: () => (clock += 10),
    newId: () => `run-${++id}`,
    trainer,
    ...overrides,
  };
}

export async function readyStore(hash = '', overrides: Partial<LabDeps> = {}) {
  const deps = testDeps(overrides);
  const store = createLabStore(deps);
  await store.getState().init(hash);
  await waitFor(() => store.getState().dataset !== null && store.getState().datasetTask === null);
  return { store, deps };
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Events a trainer sends, for tests that play the worker. */
export const testMetrics = (auc: number): Metrics => ({ auc, logLoss: 0.6, accuracy: 0.7, count: 50, meanPrediction: 0.45, clickRate: 0.5, calibrationSlope: 1.2 });

export const stepEvent = (n: number): TrainerEvent => ({
  type: 'step',
  step: n,
  epoch: 1,
  loss: 0.7 - n * 0.01,
  targets: 40,
  tokens: 900,
  elapsedMs: n * 100,
  targetsPerSec: 400,
  tokensPerSec: 9000,
  totalSteps: 3,
});

/** A validation point during training, on the fixed validation sample. */
export const evalEvent = (step: number, auc: number): TrainerEvent => ({
  type: 'eval',
  step,
  split: 'valid',
  metrics: testMetrics(auc),
  elapsedMs: step * 100,
  sample: true,
});

export const doneEvent = (stopped = false): Extract<TrainerEvent, { type: 'done' }> => ({
  type: 'done',
  stopped,
  steps: 3,
  trainMs: 300,
  tokensProcessed: 2700,
  targetsProcessed: 120,
  test: testMetrics(0.71),
  valid: testMetrics(0.7),
  stopReason: stopped ? 'stopped' : 'completed',
  stopMessage: stopped ? 'Stopped by you at step 3 of 3.' : 'Trained all 1 epoch (3 steps).',
  bestStep: 3,
  testAucInterval: { estimate: 0.71, low: 0.66, high: 0.76 },
  testPredictions: Float32Array.of(0.2, 0.7, 0.4, 0.9),
  testLabels: Uint8Array.of(0, 1, 0, 1),
  evalTargetsPerPrompt: 32,
  baselines: { popularity: 0.6, userRate: 0.62, logistic: 0.65, history: 0.66, count: 50 },
  warnings: [],
});
