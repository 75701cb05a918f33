import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_CONFIG } from '../train/protocol';
import { indexedDbStorage, memoryStorage } from './persist';
import type { RunRecord } from './run-types';

const run = (id: string, createdAt: number): RunRecord => ({
  id,
  name: `run ${id}`,
  createdAt,
  config: DEFAULT_TRAIN_CONFIG,
  dataset: { name: 'd', preset: 'small', users: 1, interactions: 2 },
  status: 'done',
  steps: [{ step: 1, epoch: 1, loss: 0.7, elapsedMs: 5, targetsPerSec: 1, tokensPerSec: 2, targets: 3, tokens: 4 }],
  evals: [{ step: 1, split: 'valid', auc: NaN, logLoss: 0.6, accuracy: 0.5, count: 0, meanPrediction: NaN, clickRate: NaN, calibrationSlope: NaN }],
  result: null,
  error: null,
  adapter: null,
  hasModel: false,
});

describe.each([
  ['IndexedDB', () => indexedDbStorage(new IDBFactory())],
  ['memory', () => memoryStorage()],
])('%s run storage', (_, make) => {
  it('saves, lists in creation order, updates and deletes runs and their models', async () => {
    const storage = make();
    await storage.saveRun(run('b', 2));
    await storage.saveRun(run('a', 1));
    expect((await storage.loadRuns()).map((r) => r.id)).toEqual(['a', 'b']);
    await storage.saveRun({ ...run('a', 1), name: 'renamed' });
    const loaded = await storage.loadRuns();
    expect(loaded[0].name).toBe('renamed');
    expect(Number.isNaN(loaded[0].evals[0].auc)).toBe(true);

    const params = Float32Array.from([1, 2, 3]);
    await storage.saveModel({ runId: 'a', config: DEFAULT_TRAIN_CONFIG, params, vocabSize: 3, maxSeqLen: 4, vocab: ['x'], datasetName: 'd' });
    expect(Array.from((await storage.loadModel('a'))!.params)).toEqual([1, 2, 3]);
    await storage.deleteRun('a');
    expect((await storage.loadRuns()).map((r) => r.id)).toEqual(['b']);
    expect(await storage.loadModel('a')).toBeUndefined();
  });
});

it('IndexedDB storage survives reopening the database (a reload)', async () => {
  const factory = new IDBFactory();
  await indexedDbStorage(factory).saveRun(run('kept', 1));
  expect((await indexedDbStorage(factory).loadRuns()).map((r) => r.id)).toEqual(['kept']);
});

it('IndexedDB gives runs and models saved before item text and targets per step in today’s fields', async () => {
  const factory = new IDBFactory();
  const { itemText: _i, batchTargets: _b, evalsPerEpoch: _v, patience: _p, ...rest } = DEFAULT_TRAIN_CONFIG;
  const old = { ...rest, paradigm: 'dti' as const, k: 10, batchSize: 4 } as unknown as RunRecord['config'];
  const storage = indexedDbStorage(factory);
  await storage.saveRun({ ...run('old', 1), config: old });
  await storage.saveModel({ runId: 'old', config: old, params: Float32Array.of(1), vocabSize: 1, maxSeqLen: 1, vocab: ['x'], datasetName: 'd' });
  const reopened = indexedDbStorage(factory);
  for (const config of [(await reopened.loadRuns())[0].config, (await reopened.loadModel('old'))!.config]) {
    expect(config).toMatchObject({ itemText: 'words', batchTargets: 40, evalsPerEpoch: 1, patience: 0, k: 10 });
  }
});
