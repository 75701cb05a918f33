import { describe, expect, it } from 'vitest';
import type { SkewDiagnostics } from '../train/diagnostics';
import { upgradeConfig } from '../train/config';
import { DEFAULT_TRAIN_CONFIG } from '../train/protocol';
import { compareRuns } from './compare';
import { exportRuns, runsCurvesCsv, runsJson } from './export';
import { createLabStore } from './lab-store';
import type { RunRecord } from './run-types';
import { runStatusLabel } from './run-view';
import { summarizeSweep, sweepIds } from './sweep-view';
import { doneEvent, evalEvent, readyStore, stepEvent, testDeps, testMetrics, waitFor } from './test-support';

const diagnostics: SkewDiagnostics = {
  targets: 4,
  k: 5,
  n: 5,
  layers: 2,
  slots: [
    { slot: 1, skew: 0, positional: 0, leakage: 0, auc: 0.7, reach: 5 },
    { slot: 5, skew: 0.12, positional: 0, leakage: 0.12, auc: 0.68, reach: 9 },
  ],
  skew: 0.12,
  positional: 0,
  leakage: 0.12,
  slotSpread: 0.05,
  servedAuc: 0.7,
  deepestAuc: 0.68,
  aucDifference: { estimate: -0.02, low: NaN, high: NaN },
};

/**
 * Runs of every kind, made by the store from a scripted worker: a sweep (SW, then DTI with skew diagnostics; test
 * predictions and labels; an undefined calibration slope, NaN), a failed run, a run with a saved model, one still
 * training, and an imported model's evaluation.
 */
async function labWithRuns() {
  const { store, deps } = await readyStore('#n=5&k=5&ep=1&bt=8');
  const trainer = deps.trainer;
  store.getState().startSweep({ ks: [1, 5], levels: ['strict'], encodings: ['rope'], forgetting: [false], seeds: [1] });
  trainer.emit({ type: 'device', adapter: 'Test GPU', features: [] });
  trainer.emit(stepEvent(1));
  trainer.emit(evalEvent(1, 0.6));
  trainer.emit({ ...doneEvent(), trainMs: 400, test: { ...testMetrics(0.7), calibrationSlope: NaN } });
  trainer.emit(stepEvent(1));
  trainer.emit(evalEvent(1, 0.68));
  trainer.emit({ ...doneEvent(), trainMs: 100, testPredictions: Float32Array.of(0.1, 0.8, 1 / 3, 0.95), diagnostics });

  store.getState().startTraining();
  trainer.emit({ type: 'error', kind: 'diverged', message: 'Training diverged at step 2' });

  store.getState().startTraining();
  trainer.emit(doneEvent());
  const withModel = store.getState().runs.at(-1)!;
  trainer.emit({ type: 'model', config: withModel.config, params: new Float32Array(8), vocabSize: 99, maxSeqLen: 64 });
  await waitFor(() => store.getState().runs.find((r) => r.id === withModel.id)!.hasModel);

  store.getState().startTraining();
  trainer.emit(stepEvent(1));
  trainer.emit(evalEvent(1, 0.55));

  const evaluated: RunRecord = {
    ...withModel,
    id: 'evaluated',
    createdAt: deps.now(),
    status: 'imported',
    evaluations: [{ datasetName: withModel.dataset.name, datasetPreset: 'small', at: 5, valid: testMetrics(0.6), test: testMetrics(0.61) }],
  };
  return [...store.getState().runs, evaluated];
}

const fileOf = (name: string, text: string) => new File([text], name, { type: 'application/json' });

/** A lab with its saved runs listed, as the page is once it has started. */
async function freshLab() {
  const deps = testDeps();
  const store = createLabStore(deps);
  await store.getState().loadRuns();
  return { store, deps };
}

/** The figures of a comparison, without the run records they were computed from. */
const comparisonFigures = (runs: RunRecord[], baselineId: string) =>
  compareRuns(runs, baselineId).map(({ run, ...figures }) => ({ id: run.id, ...figures }));

describe('runs exported as JSON and imported back', () => {
  it('gives the same runs, typed arrays included, with the same comparison, sweep table and curves', async () => {
    const original = await labWithRuns();
    expect(original.map((r) => r.status)).toEqual(['done', 'done', 'failed', 'done', 'running', 'imported']);
    const file = exportRuns(original, 'json');
    const { store, deps } = await freshLab();
    await store.getState().importRuns(fileOf(file.filename, file.content));

    const imported = store.getState().runs;
    // The file carries no weights, and the run that was training is nobody's live run here.
    const expected = original.map((r): RunRecord => ({ ...r, hasModel: false, status: r.status === 'running' ? 'interrupted' : r.status }));
    expect(imported).toStrictEqual(expected);
    expect(imported[1].result?.testPredictions).toBeInstanceOf(Float32Array);
    expect(imported[1].result?.testLabels).toBeInstanceOf(Uint8Array);
    expect(Number.isNaN(imported[0].result?.test.calibrationSlope)).toBe(true);
    expect(runStatusLabel(imported[4], null)).toBe('interrupted');
    expect(store.getState().runsMessage).toEqual({
      kind: 'info',
      text: `Imported 6 runs from ${file.filename}; 1 run still training when exported is marked interrupted.`,
    });
    expect(await deps.storage.loadRuns()).toStrictEqual(imported);

    const finished = (runs: RunRecord[]) => runs.filter((r) => r.result);
    expect(comparisonFigures(finished(imported), original[0].id)).toEqual(comparisonFigures(finished(original), original[0].id));
    const [sweepId] = sweepIds(original);
    expect(sweepIds(imported)).toEqual([sweepId]);
    const { runs: _importedMembers, ...importedSweep } = summarizeSweep(imported, sweepId);
    const { runs: _originalMembers, ...originalSweep } = summarizeSweep(original, sweepId);
    expect(importedSweep).toEqual(originalSweep);
    expect(importedSweep.rows[1].aucVsSwInterval).not.toBeNull(); // the paired interval used the imported predictions
    expect(runsCurvesCsv(imported)).toBe(runsCurvesCsv(original));

    // The same file again adds nothing.
    await store.getState().importRuns(fileOf(file.filename, file.content));
    expect(store.getState().runs).toStrictEqual(imported);
    expect(store.getState().runsMessage?.text).toBe(`Nothing new in ${file.filename}: all its 6 runs are already in the lab.`);
  });

  it('leaves the runs the lab has as they are and skips those of the file with their ids', async () => {
    const original = await labWithRuns();
    const { store, deps } = await freshLab();
    await store.getState().importRuns(fileOf('first.json', runsJson(original.slice(0, 1))));
    await store.getState().renameRun(original[0].id, 'mine');
    await store.getState().importRuns(fileOf('all.json', runsJson(original.slice(0, 3))));
    const runs = store.getState().runs;
    expect(runs.map((r) => [r.id, r.name])).toEqual([
      [original[0].id, 'mine'],
      [original[1].id, original[1].name],
      [original[2].id, original[2].name],
    ]);
    expect((await deps.storage.loadRuns()).map((r) => r.name)).toEqual(['mine', original[1].name, original[2].name]);
    expect(store.getState().runsMessage?.text).toBe('Imported 2 runs from all.json; skipped 1 run already in the lab.');
  });

  it('brings configurations saved by older versions in today’s fields', async () => {
    const { itemText: _i, batchTargets: _b, evalsPerEpoch: _v, patience: _p, ...rest } = DEFAULT_TRAIN_CONFIG;
    const { forgetting: _f, ...model } = rest.model;
    const old = { ...rest, model, paradigm: 'dti' as const, k: 10, batchSize: 4 };
    const { store } = await freshLab();
    await store.getState().importRuns(fileOf('old.json', runsJson([{ ...record('old'), config: old as unknown as RunRecord['config'] }])));
    const { config } = store.getState().runs[0];
    expect(config).toStrictEqual(upgradeConfig(old));
    expect(config).toMatchObject({ itemText: 'words', batchTargets: 40, evalsPerEpoch: 1, patience: 0, k: 10, model: { forgetting: false } });
  });

  it('imports nothing before the saved runs are listed (one of them could be overwritten)', async () => {
    const deps = testDeps();
    const store = createLabStore(deps);
    await store.getState().importRuns(fileOf('early.json', runsJson([record('a')])));
    expect(store.getState().runs).toEqual([]);
    expect(await deps.storage.loadRuns()).toEqual([]);
    expect(store.getState().runsMessage).toEqual({
      kind: 'error',
      text: 'early.json was not imported: the saved runs are still loading. Try again once they are listed.',
    });
  });
});

/** A finished run as the lab keeps it. */
function record(id: string): RunRecord {
  const { type: _, ...result } = doneEvent();
  return {
    id,
    name: `run ${id}`,
    createdAt: 1,
    config: DEFAULT_TRAIN_CONFIG,
    dataset: { name: 'd', preset: 'small', users: 3, interactions: 90, prep: { split: 'per-user', clickAtLeast: null } },
    status: 'done',
    steps: [{ step: 1, epoch: 1, loss: 0.6, elapsedMs: 10, targetsPerSec: 1, tokensPerSec: 2, targets: 3, tokens: 4 }],
    evals: [{ step: 1, split: 'valid', elapsedMs: 10, sample: true, ...testMetrics(0.6) }],
    result,
    error: null,
    adapter: 'Test GPU',
    hasModel: false,
  };
}

/** The JSON a person gets from a runs file of `runs` that they (or another tool) edited. */
function edited(runs: RunRecord[], edit: (file: { format: unknown; runs: any[] }) => void): string {
  const file = JSON.parse(runsJson(runs));
  edit(file);
  return JSON.stringify(file);
}

/** Imports `text` into a lab that has one run already, and checks that the lab still has exactly that. */
async function importRefused(fileName: string, text: string): Promise<string> {
  const { store, deps } = await freshLab();
  await store.getState().importRuns(fileOf('mine.json', runsJson([record('mine')])));
  const before = store.getState().runs;
  await store.getState().importRuns(fileOf(fileName, text));
  expect(store.getState().runs).toBe(before);
  expect((await deps.storage.loadRuns()).map((r) => r.id)).toEqual(['mine']);
  expect(store.getState().runsMessage?.kind).toBe('error');
  return store.getState().runsMessage!.text;
}

describe('a runs file that is not what the lab wrote', () => {
  it.each([
    ['not JSON', '{"format": "dti-lab-runs/1", "runs": [', /^notes\.json is not JSON \(.+\); expected a runs file saved with Export JSON\.$/],
    [
      'another format',
      JSON.stringify({ format: 'dti-lab-sweep/1', runs: [] }),
      'notes.json is not a runs file of the lab: expected format "dti-lab-runs/1" (what Export JSON saves), found format "dti-lab-sweep/1".',
    ],
    ['no format', JSON.stringify({ runs: [] }), 'notes.json is not a runs file of the lab: expected format "dti-lab-runs/1" (what Export JSON saves), found no format.'],
    ['a list', JSON.stringify([record('a')]), 'notes.json is not a runs file of the lab: expected format "dti-lab-runs/1" (what Export JSON saves), found a list.'],
    ['runs not a list', JSON.stringify({ format: 'dti-lab-runs/1', runs: { a: 1 } }), 'notes.json: expected "runs" to be a list of runs, found an object.'],
  ])('says so for %s', async (_, text, message) => {
    expect(await importRefused('notes.json', text)).toMatch(message);
  });

  it.each([
    ['null where a number is needed', (runs: any[]) => (runs[0].config.learningRate = null), 'Run 1 ("run a"): config.learningRate: expected a number, found null (how the export writes NaN or infinity, which this field cannot be).'],
    ['a text for a measurement', (runs: any[]) => (runs[1].steps[0].loss = '0.6'), 'Run 2 ("run b"): steps[0].loss: expected a number or null, found "0.6".'],
    ['a missing field', (runs: any[]) => delete runs[0].result.trainMs, 'Run 1 ("run a"): result.trainMs: expected a number, found nothing.'],
    ['an unknown level', (runs: any[]) => (runs[0].config.isolation = 'leaky'), 'Run 1 ("run a"): config.isolation: expected one of "full-causal", "window", "sum-isolated", "strict", found "leaky".'],
    ['an unknown status', (runs: any[]) => (runs[1].status = 'paused'), 'Run 2 ("run b"): status: expected one of "running", "done", "stopped", "failed", "interrupted", "imported", found "paused".'],
    ['an unknown preset', (runs: any[]) => (runs[0].dataset.preset = 'huge'), 'Run 1 ("run a"): dataset.preset: expected one of "small", "medium", "large", "leakage", found "huge".'],
    ['a label that is no byte', (runs: any[]) => (runs[0].result.testLabels[2] = 2.5), 'Run 1 ("run a"): result.testLabels[2]: expected an integer from 0 to 255, found 2.5.'],
    ['a prediction that is no number', (runs: any[]) => (runs[0].result.testPredictions[0] = true), 'Run 1 ("run a"): result.testPredictions[0]: expected a number or null, found true.'],
    ['fewer labels than predictions', (runs: any[]) => runs[0].result.testLabels.pop(), 'Run 1 ("run a"): result.testLabels: expected 4 labels, one per test prediction, found 3.'],
    ['an ill-typed flag', (runs: any[]) => (runs[0].hasModel = 'no'), 'Run 1 ("run a"): hasModel: expected true or false, found "no".'],
    ['a run that is no object', (runs: any[]) => (runs[1] = 'run b'), 'Run 2: expected an object, found "run b".'],
    ['an id twice', (runs: any[]) => (runs[1].id = 'a'), 'Run 2 ("run b"): id "a" is that of run 1 too.'],
  ])('names the run and the field for %s, and imports none of the runs', async (_, edit, problem) => {
    const text = edited([record('a'), record('b')], (file) => edit(file.runs));
    expect(await importRefused('edited.json', text)).toBe(`Nothing was imported from edited.json: 1 of its 2 runs is not as the lab writes runs. ${problem}`);
  });

  it('lists the first problems of a file broken throughout, and counts the rest', async () => {
    const runs = ['a', 'b', 'c', 'd', 'e'].map(record);
    const text = edited(runs, (file) => file.runs.forEach((run) => (run.createdAt = null)));
    const message = await importRefused('broken.json', text);
    expect(message).toMatch(/^Nothing was imported from broken\.json: 5 of its 5 runs are not as the lab writes runs\. Run 1 \("run a"\): createdAt: /);
    expect(message).toMatch(/Run 3 \("run c"\): createdAt: expected a number, found null \([^)]*\)\. And 2 more\.$/);
    expect(message).not.toContain('Run 4');
  });

  it('says when the file cannot be read', async () => {
    const { store } = await freshLab();
    const gone = { name: 'gone.json', text: () => Promise.reject(new Error('the file was moved')) } as unknown as File;
    await store.getState().importRuns(gone);
    expect(store.getState().runsMessage).toEqual({ kind: 'error', text: 'gone.json could not be read (the file was moved).' });
    expect(store.getState().runs).toEqual([]);
  });

  it('says when a file holds no runs', async () => {
    const { store } = await freshLab();
    await store.getState().importRuns(fileOf('empty.json', runsJson([])));
    expect(store.getState().runsMessage).toEqual({ kind: 'info', text: 'empty.json holds no runs.' });
  });
});
