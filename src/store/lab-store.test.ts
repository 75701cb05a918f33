import { describe, expect, it, vi } from 'vitest';
import { packPrompts, promptCost } from '../prompt/pack';
import { DEFAULT_TRAIN_CONFIG, type TrainerEvent } from '../train/protocol';
import { readSafetensors } from '../model/safetensors';
import { EXPLAIN_STEPS } from './explain';
import { checkConfig } from './config-check';
import { createLabStore } from './lab-store';
import { trainingCost } from './prompt-view';
import { memoryTabHub } from './tabs';
import type { StepPoint } from './run-types';
import { MAX_STEP_POINTS, capCurve } from './session-slice';
import { summarizeSweep, sweepIds } from './sweep-view';
import { doneEvent, evalEvent, inlineDataPort, readyStore, stepEvent, testMetrics, waitFor } from './test-support';
import type { DataPort, DataProgress } from './types';
import { type DataPrep, clickRuleText } from './data-prep';
import type { Preset } from '../data';
import { windows1251 } from '../data/test-fixtures';
import { encodeHash } from './url-hash';
import { datasetChecksum } from '../data/checksum';


/** A finished run that trained for `trainMs` and scored `auc` on the test split. */
const finished = (trainMs: number, auc: number): TrainerEvent => ({ ...doneEvent(), trainMs, test: testMetrics(auc) });

/** The real data layer, except that the large preset fails to load (as a data worker out of memory would). */
const largePresetFails: DataPort = {
  ...inlineDataPort,
  loadBuiltin: async (preset: Preset, onProgress: (progress: DataProgress) => void, prep: DataPrep) => {
    if (preset === 'large') throw new Error('the data worker stopped: out of memory');
    return inlineDataPort.loadBuiltin(preset, onProgress, prep);
  },
};

describe('dataset and views', () => {
  it('starts from the link: configuration, preset, the dataset, the check and the prompt view', async () => {
    const { store } = await readyStore('#n=5&k=3&iso=window&ds=small');
    const s = store.getState();
    expect(s.config.n).toBe(5);
    expect(s.config.k).toBe(3);
    expect(s.dataset?.source).toEqual({ kind: 'builtin', preset: 'small' });
    expect(s.check.errors).toEqual([]);
    // The targets each split scores at this n: exactly the targets of the prompts the trainer packs.
    const data = s.dataset!.data;
    const packed = (split: 'train' | 'valid' | 'test') => promptCost(packPrompts(data, { n: 5, k: 3, split })).targets;
    expect(s.check.targets).toEqual({ train: packed('train'), valid: packed('valid'), test: packed('test') });
    expect(s.check.targets!.test).toBeGreaterThan(0);
    expect(s.promptView?.prompt.targets).toHaveLength(3);
    expect(s.promptView?.reasons?.length).toBe(s.promptView!.prompt.tokens.length ** 2);
    expect(s.webgpu.state).toBe('available');
    expect(s.runsLoaded).toBe(true);
  });

  it('reads the data again for the check only when the data, n, k or item text change', async () => {
    const { store } = await readyStore('#n=5&k=3&ds=small');
    const first = store.getState().check.facts!;
    store.getState().setConfig({ learningRate: 1e-3, batchTargets: 64 });
    expect(store.getState().check.facts).toBe(first);
    // The memory estimate still follows the settings the facts do not hold.
    const batch64 = store.getState().check.memory!.B;
    store.getState().setConfig({ batchTargets: 256 });
    expect(store.getState().check.memory!.B).toBeGreaterThan(batch64);
    for (const change of [{ n: 6 }, { k: 4 }, { itemText: 'id' as const }]) {
      const before = store.getState().check.facts;
      store.getState().setConfig(change);
      const after = store.getState().check;
      expect(after.facts).not.toBe(before);
      expect(after.facts).toMatchObject(change.k ? { k: 4 } : change);
      // The same figures as a check that reads the data afresh.
      expect(after.longestPrompt).toBe(checkConfig(store.getState().config, store.getState().dataset!.data).longestPrompt);
    }
  });

  it('explains bad link values and keeps them out of the configuration', async () => {
    const { store } = await readyStore('#n=abc&k=4');
    expect(store.getState().linkProblems[0]).toMatch(/n to "abc"/);
    expect(store.getState().config.n).toBe(10);
    store.getState().dismissLinkProblems();
    expect(store.getState().linkProblems).toEqual([]);
  });

  it('recomputes the mask view at once when k, n or the level change', async () => {
    const { store } = await readyStore('#n=4&k=2&iso=window');
    const before = store.getState().promptView!;
    store.getState().setConfig({ k: 6 });
    const afterK = store.getState().promptView!;
    expect(afterK.prompt.targets).toHaveLength(6);
    expect(afterK.prompt.tokens.length).toBeGreaterThan(before.prompt.tokens.length);
    store.getState().setConfig({ isolation: 'strict' });
    const strict = store.getState().promptView!;
    expect(strict.allowedCells).toBeLessThan(afterK.allowedCells);
    expect(strict.tiles.visited).toBeLessThanOrEqual(afterK.tiles.visited);
    store.getState().setConfig({ n: 6 });
    expect(store.getState().promptView!.prompt.interactionStart.length).toBe(6 + 6 + 1);
  });

  it('shows no leakage under strict and some under window (receptive field of the last target)', async () => {
    const { store } = await readyStore('#n=3&k=6&iso=window&l=2');
    store.getState().setFieldTarget(5);
    expect(store.getState().promptView!.field!.leaked).toBeGreaterThan(0);
    store.getState().setConfig({ isolation: 'strict' });
    const field = store.getState().promptView!.field!;
    expect(field.leaked).toBe(0);
    expect(field.reached).toBeGreaterThan(0);
  });

  it('uses one target under SW whatever k says, and says so', async () => {
    const { store } = await readyStore('#p=sw&k=8');
    expect(store.getState().promptView!.prompt.targets).toHaveLength(1);
    expect(store.getState().check.notes.join(' ')).toMatch(/k = 8 is not used/);
  });

  it('explains invalid combinations instead of clamping them', async () => {
    const { store } = await readyStore();
    store.getState().setModel({ dModel: 64, nHeads: 5 });
    expect(store.getState().config.model.nHeads).toBe(5);
    expect(store.getState().check.errors.join(' ')).toMatch(/divisible/);
    // Said alongside an unrelated error, not only once that one is fixed.
    store.getState().setConfig({ learningRate: -1 });
    expect(store.getState().check.errors.join(' ')).toMatch(/learning rate.*divisible/);
    store.getState().setConfig({ learningRate: 3e-3, n: 150 });
    expect(store.getState().check.errors.join(' ')).toMatch(/no training target has n = 150/);
  });

  it('steps through users with enough history', async () => {
    const { store } = await readyStore('#n=10&k=2');
    const first = store.getState().promptView!.userIndex;
    store.getState().showOtherPrompt(1);
    const second = store.getState().promptView!.userIndex;
    expect(second).not.toBe(first);
    store.getState().showOtherPrompt(-1);
    expect(store.getState().promptView!.userIndex).toBe(first);
  });

  it('keeps the previous dataset when an upload fails, and shows where it failed', async () => {
    const { store } = await readyStore();
    const previous = store.getState().dataset;
    const bad = new File(['this is not\na ratings file at all\n'], 'notes.txt', { type: 'text/plain' });
    await store.getState().uploadFiles([bad]);
    const s = store.getState();
    expect(s.dataset).toBe(previous);
    expect(s.datasetTask).toBeNull();
    expect(s.datasetError?.message).toMatch(/notes\.txt/);
    expect(s.uploadPreviews?.[0].error).not.toBeNull();
  });

  it('keeps the preset a link names only once its data has loaded', async () => {
    const { store } = await readyStore('', { data: largePresetFails });
    store.getState().applyHash('#ds=large');
    await waitFor(() => store.getState().datasetTask === null);
    expect(store.getState().datasetError?.message).toMatch(/out of memory/);
    expect([store.getState().preset, store.getState().dataset?.source]).toEqual(['small', { kind: 'builtin', preset: 'small' }]);
  });

  it('cancels a load, or replaces it with another, ending its worker; the data held before stays', async () => {
    const signals: AbortSignal[] = [];
    // The large preset "loads" until its signal aborts, as a worker on a huge file would.
    const largeHangs: DataPort = {
      ...inlineDataPort,
      loadBuiltin: (preset, onProgress, prep, signal) => {
        if (preset !== 'large') return inlineDataPort.loadBuiltin(preset, onProgress, prep, signal);
        signals.push(signal!);
        return new Promise((_, reject) => signal!.addEventListener('abort', () => reject(new DOMException('cancelled', 'AbortError'))));
      },
    };
    const { store } = await readyStore('#ds=small', { data: largeHangs });
    const pending = store.getState().loadBuiltin('large');
    expect(store.getState().datasetTask?.label).toMatch(/large/);
    store.getState().cancelDatasetLoad();
    await pending;
    expect(signals[0].aborted).toBe(true);
    expect(store.getState()).toMatchObject({ datasetTask: null, datasetError: null, dataset: { source: { preset: 'small' } } });

    const replaced = store.getState().loadBuiltin('large');
    await store.getState().loadBuiltin('medium');
    await replaced;
    expect(signals[1].aborted).toBe(true);
    expect(store.getState()).toMatchObject({ datasetTask: null, datasetError: null, dataset: { source: { preset: 'medium' } } });
  });

  it('keeps the preset and the dataset it names when another built-in preset fails to load', async () => {
    const { store } = await readyStore('', { data: largePresetFails });
    const previous = store.getState().dataset;
    await store.getState().loadBuiltin('large');
    const s = store.getState();
    expect(s.dataset).toBe(previous);
    expect(s.preset).toBe('small');
    expect(s.datasetError?.message).toMatch(/out of memory/);
    await store.getState().loadBuiltin('medium');
    expect(store.getState().preset).toBe('medium');
    expect(store.getState().dataset?.source).toEqual({ kind: 'builtin', preset: 'medium' });
  });

  it('prepares the data again with another split or click rule, from the panel or a link, and keeps the rules of the data it holds when that fails', async () => {
    const { store } = await readyStore();
    await store.getState().setPrep({ split: 'global-time', clickAtLeast: 5 });
    let s = store.getState();
    expect(s.dataset?.stats.split.kind).toBe('global-time');
    expect(s.dataset?.stats.labelRule).toEqual({ threshold: 5, inclusive: true });
    expect(s.prep).toEqual({ split: 'global-time', clickAtLeast: 5 });
    // A link naming other rules prepares the loaded data again.
    store.getState().applyHash('#ds=small&split=user&click=auto');
    await waitFor(() => store.getState().datasetTask === null && store.getState().dataset?.stats.split.kind === 'per-user');
    expect(store.getState().prep).toEqual({ split: 'per-user', clickAtLeast: null });
    // An upload without timestamps cannot take a global time cut: the error says so, the data and its rules stay.
    const rows = ['user,item,rating'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`u${u},i${(u * 7 + t) % 25},${1 + ((u + t) % 5)}`);
    await store.getState().uploadFiles([new File([rows.join('\n')], 'untimed.csv')]);
    const upload = store.getState().dataset;
    expect(upload?.source).toEqual({ kind: 'upload', files: ['untimed.csv'] });
    await store.getState().setPrep({ split: 'global-time', clickAtLeast: null });
    s = store.getState();
    expect(s.datasetError?.problem).toMatch(/no timestamps/);
    expect(s.dataset).toBe(upload);
    expect(s.prep).toEqual({ split: 'per-user', clickAtLeast: null });
    // A later upload that fails is not the data the lab holds: preparing again reads the upload that is loaded.
    await store.getState().uploadFiles([new File(['garbage without structure\n'], 'broken.txt')]);
    expect(store.getState().dataset).toBe(upload);
    // The upload itself is prepared again with another click rule.
    await store.getState().setPrep({ split: 'per-user', clickAtLeast: 4 });
    expect(store.getState().dataset?.source).toEqual({ kind: 'upload', files: ['untimed.csv'] });
    expect(store.getState().dataset?.stats.labelRule).toEqual({ threshold: 4, inclusive: true });
  });

  it('loads a valid uploaded CSV', async () => {
    const { store } = await readyStore();
    const rows = ['user,item,rating,timestamp'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`u${u},i${(u * 7 + t) % 25},${1 + ((u + t) % 5)},${1000 + t}`);
    await store.getState().uploadFiles([new File([rows.join('\n')], 'ratings.csv')]);
    const s = store.getState();
    expect(s.datasetError).toBeNull();
    expect(s.dataset?.source).toEqual({ kind: 'upload', files: ['ratings.csv'] });
    expect(s.dataset?.stats.users).toBe(4);
    expect(s.promptView).not.toBeNull();
    expect(s.dataset?.notes).toEqual([]);
  });

  it('keeps what a load assumed with the dataset: a CSV that is not UTF-8 read as cp1252', async () => {
    const { store } = await readyStore();
    const rows = ['user,item,rating,timestamp,title'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`u${u},i${t % 25},${1 + ((u + t) % 5)},${1000 + t},Caf\u00e9 ${t % 25}`);
    const latin1 = Uint8Array.from(rows.join('\n'), (c) => c.charCodeAt(0));
    await store.getState().uploadFiles([new File([latin1], 'latin.csv')]);
    const notes = store.getState().dataset?.notes ?? [];
    expect(notes.map((n) => n.message)).toEqual([expect.stringMatching(/^latin\.csv: read as Windows-1252 \(cp1252\)/)]);
    expect(store.getState().dataset?.data.itemTitles).toContain('Café 3');
  });

  it('reads an upload again in the text encoding chosen for it, with its column mapping, and prepares it again in that encoding', async () => {
    const { store } = await readyStore();
    const rows = ['cust,sku,stars,when,name'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`c${u},s${t % 25},${1 + ((u + t) % 5)},${1000 + t},Сталкер ${t % 25}`);
    const files = [new File([windows1251(rows.join('\n'))], 'films.csv')];
    const mapping = { user: 'cust', item: 'sku', rating: 'stars', timestamp: 'when', title: 'name' };
    await store.getState().uploadFiles(files, { mapping });
    expect(store.getState().dataset?.data.itemTitles).not.toContain('Сталкер 3');
    expect(store.getState().dataset?.notes.map((n) => n.message)).toEqual([expect.stringMatching(/^films\.csv: read as Windows-1252 .*choose its text encoding/)]);

    await store.getState().uploadFiles(files, { ...store.getState().uploadedChoices, encoding: 'windows-1251' });
    let s = store.getState();
    expect(s.uploadedChoices).toEqual({ mapping, encoding: 'windows-1251' });
    expect(s.uploadPreviews?.[0].sample[0]).toEqual(['c0', 's0', '1', '1000', 'Сталкер 0']);
    expect(s.dataset?.data.itemTitles).toContain('Сталкер 3');
    expect(s.dataset?.notes).toEqual([]);
    await store.getState().setPrep({ split: 'per-user', clickAtLeast: 4 });
    s = store.getState();
    expect(s.dataset?.stats.labelRule).toEqual({ threshold: 4, inclusive: true });
    expect(s.dataset?.data.itemTitles).toContain('Сталкер 3');
  });
});

describe('training cost', () => {
  it('counts exactly what packPrompts packs, for SW and DTI', async () => {
    const { store } = await readyStore();
    const data = store.getState().dataset!.data;
    for (const [n, k] of [[10, 1], [10, 10], [5, 7], [20, 50]]) {
      const expected = promptCost(packPrompts(data, { n, k, split: 'train' }));
      const counted = trainingCost(data, n, k);
      expect(counted).toEqual({ prompts: expected.prompts, targets: expected.targets, tokens: expected.tokens, tokensPerTarget: expected.tokensPerTarget });
    }
  });
});

describe('training session', () => {
  it('runs start → steps → eval → done, saves the run and then its model', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { store, deps } = await readyStore('#k=4&ds=small');
      store.getState().startTraining();
      let s = store.getState();
      expect(s.session.state).toBe('running');
      const runId = s.session.runId!;
      expect(s.runs.find((r) => r.id === runId)?.status).toBe('running');
      const start = deps.trainer.commands[0];
      expect(start.type === 'start' && start.config.k).toBe(4);

      deps.trainer.emit({ type: 'device', adapter: 'Test GPU', features: [] });
      deps.trainer.emit({ type: 'status', phase: 'compile', message: 'Compiling', fraction: 0.5 });
      expect(store.getState().session.status?.phase).toBe('compile');
      deps.trainer.emit(stepEvent(1));
      deps.trainer.emit(stepEvent(2));
      // Steps are batched into the store.
      expect(store.getState().runs.find((r) => r.id === runId)!.steps).toHaveLength(0);
      vi.advanceTimersByTime(300);
      expect(store.getState().runs.find((r) => r.id === runId)!.steps.map((p) => p.step)).toEqual([1, 2]);
      deps.trainer.emit(stepEvent(3));
      deps.trainer.emit(evalEvent(3, 0.66));
      s = store.getState();
      const run = s.runs.find((r) => r.id === runId)!;
      expect(run.steps).toHaveLength(3); // an eval flushes pending steps first
      expect(run.evals[0]).toMatchObject({ step: 3, split: 'valid', auc: 0.66 });
      expect(run.adapter).toBe('Test GPU');
      expect(run.labVersion).toBe((await import('../../package.json')).default.version);

      deps.trainer.emit(doneEvent());
      s = store.getState();
      expect(s.session.state).toBe('idle');
      const finished = s.runs.find((r) => r.id === runId)!;
      expect(finished.status).toBe('done');
      expect(finished.result?.test.auc).toBe(0.71);
      expect(deps.trainer.commandTypes()).toEqual(['start', 'export-model']);

      const params = new Float32Array(16).fill(0.5);
      deps.trainer.emit({ type: 'model', config: finished.config, params, vocabSize: 99, maxSeqLen: 80 });
      vi.useRealTimers();
      await waitFor(() => store.getState().runs.find((r) => r.id === runId)!.hasModel);
      expect((await deps.storage.loadModel(runId))?.params.length).toBe(16);
      const saved = await deps.storage.loadRuns();
      expect(saved.find((r) => r.id === runId)?.status).toBe('done');
      expect(saved.find((r) => r.id === runId)?.steps).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('pauses, resumes and stops', async () => {
    const { store, deps } = await readyStore();
    store.getState().startTraining();
    store.getState().pauseTraining();
    expect(store.getState().session.state).toBe('pausing');
    deps.trainer.emit({ type: 'paused' });
    expect(store.getState().session.state).toBe('paused');
    store.getState().resumeTraining();
    expect(store.getState().session.state).toBe('running');
    store.getState().stopTraining();
    expect(store.getState().session.state).toBe('stopping');
    deps.trainer.emit(doneEvent(true));
    expect(store.getState().session.state).toBe('idle');
    expect(store.getState().runs[0].status).toBe('stopped');
    expect(deps.trainer.commandTypes()).toEqual(['start', 'pause', 'resume', 'stop', 'export-model']);
  });

  it('records a failure on the run', async () => {
    const { store, deps } = await readyStore();
    store.getState().startTraining();
    deps.trainer.emit({ type: 'error', kind: 'diverged', message: 'Training diverged at step 4' });
    const s = store.getState();
    expect(s.session.state).toBe('idle');
    expect(s.runs[0].status).toBe('failed');
    expect(s.runs[0].error?.kind).toBe('diverged');
    expect(s.runs[0].error?.message).toMatch(/diverged/);
    expect(deps.trainer.terminated).toBe(true);
  });

  it('marks WebGPU unavailable when the worker finds none', async () => {
    const { store, deps } = await readyStore();
    store.getState().startTraining();
    deps.trainer.emit({ type: 'error', kind: 'no-webgpu', message: 'WebGPU is not available: no adapter' });
    expect(store.getState().webgpu.state).toBe('unavailable');
    store.getState().startTraining();
    expect(store.getState().startProblem).toMatch(/cannot start.*WebGPU is not available/);
    expect(deps.trainer.commandTypes()).toEqual(['start']);
  });

  it('refuses to start with an invalid configuration and says why', async () => {
    const { store, deps } = await readyStore();
    store.getState().setConfig({ learningRate: -1 });
    store.getState().startTraining();
    expect(store.getState().startProblem).toMatch(/learning rate/);
    expect(deps.trainer.commands).toHaveLength(0);
  });

  it('trains SW then DTI for a comparison and selects both runs', async () => {
    const { store, deps } = await readyStore('#k=5&p=dti&steps=10&ep=2');
    store.getState().startComparison();
    const first = deps.trainer.commands[0];
    expect(first.type === 'start' && first.config.paradigm).toBe('sw');
    // Equal work: whole epochs, never a step limit that would give SW k times fewer targets.
    expect(first.type === 'start' && [first.config.maxSteps, first.config.epochs]).toEqual([0, 2]);
    deps.trainer.emit(doneEvent());
    const second = deps.trainer.commands.filter((c) => c.type === 'start')[1];
    expect(deps.trainer.commandTypes()).toEqual(['start', 'export-model', 'start']);
    expect(second.type === 'start' && second.config.paradigm).toBe('dti');
    expect(second.type === 'start' && second.config.k).toBe(5);
    // The same targets per optimizer step for both (a DTI step takes as many prompts as hold them).
    expect(second.type === 'start' && [first.type === 'start' && first.config.batchTargets, second.config.batchTargets]).toEqual([
      DEFAULT_TRAIN_CONFIG.batchTargets,
      DEFAULT_TRAIN_CONFIG.batchTargets,
    ]);
    deps.trainer.emit(doneEvent());
    const s = store.getState();
    expect(s.session.state).toBe('idle');
    expect(s.compareIds).toEqual(s.runs.map((r) => r.id));
  });

  it('keeps a queued comparison on the dataset it started with when the person loads other data meanwhile', async () => {
    const { store, deps } = await readyStore('#k=5&p=dti&steps=10');
    const original = store.getState().dataset!;
    store.getState().startComparison();
    await store.getState().loadBuiltin('medium');
    expect(store.getState().dataset?.source).toEqual({ kind: 'builtin', preset: 'medium' });
    deps.trainer.emit(doneEvent());
    const starts = deps.trainer.commands.filter((c) => c.type === 'start');
    expect(starts).toHaveLength(2);
    for (const start of starts) expect(start.type === 'start' && start.dataset.name).toBe(original.data.name);
    expect(store.getState().runs.map((run) => run.dataset.name)).toEqual([original.data.name, original.data.name]);
  });

  it('queues a sweep over k, levels and encodings, tags its runs and summarizes them like the runner', async () => {
    const { store, deps } = await readyStore('#n=5&k=5&steps=10&ep=1&seed=3&bt=8');
    store.getState().startSweep({ ks: [1, 5, 10], levels: ['window', 'strict'], encodings: ['rope'], forgetting: [false], seeds: [3, 4] });
    // Per seed: SW once, then k = 5 and 10 under each level.
    const expected = [
      ['sw', 1, 'window', 3], ['dti', 5, 'window', 3], ['dti', 10, 'window', 3], ['dti', 5, 'strict', 3], ['dti', 10, 'strict', 3],
      ['sw', 1, 'window', 4], ['dti', 5, 'window', 4], ['dti', 10, 'window', 4], ['dti', 5, 'strict', 4], ['dti', 10, 'strict', 4],
    ];
    const trained: unknown[] = [];
    for (let i = 0; i < expected.length; i++) {
      const start = deps.trainer.commands.filter((c) => c.type === 'start').at(-1)!;
      if (start.type !== 'start') throw new Error('no start');
      trained.push([start.config.paradigm, start.config.paradigm === 'sw' ? 1 : start.config.k, start.config.isolation, start.config.seed]);
      expect(start.config.maxSteps).toBe(0); // whole epochs: equal work for every k
      expect(start.config.batchTargets).toBe(8);
      expect(store.getState().session.queue.length).toBe(expected.length - 1 - i);
      deps.trainer.emit(finished(1000 * (i + 1), 0.6 + i / 100));
    }
    expect(trained).toEqual(expected);
    const s = store.getState();
    expect(s.session.state).toBe('idle');
    const ids = sweepIds(s.runs);
    expect(ids).toHaveLength(1);
    expect(s.runs.every((r) => r.sweepId === ids[0])).toBe(true);
    const summary = summarizeSweep(s.runs, ids[0]);
    expect(summary.finished).toBe(10);
    expect(summary.rows.map((r) => [r.label, r.seeds])).toEqual([
      ['SW window rope', 2], ['DTI k=5 window rope', 2], ['DTI k=10 window rope', 2], ['DTI k=5 strict rope', 2], ['DTI k=10 strict rope', 2],
    ]);
    // The exported report says what the table measured, then gives the table.
    expect(summary.report).toContain('- n = 5 context interactions; up to 1 epoch per run, 4 validation points per epoch');
    expect(summary.report).toContain('- batch: 8 targets per optimizer step, SW and DTI alike; item text both');
    expect(summary.report).toContain('- seeds: 3, 4');
    expect(summary.report).toMatch(/- SW baseline trained under: window;/);
    expect(summary.report).toContain(summary.markdown);
    // SW took 1 s and 6 s (runs 1 and 6), DTI k=5 window 2 s and 7 s: a speed-up of 3.5 / 4.5.
    expect(summary.rows[1].speedUp).toBeCloseTo(3.5 / 4.5, 6);
    expect(summary.series.map((line) => [line.name, line.points.map((p) => p.k)])).toEqual([
      ['window · rope', [1, 5, 10]],
      ['strict · rope', [1, 5, 10]],
    ]);
    // A later plain run is not part of the sweep.
    store.getState().startTraining();
    expect(store.getState().runs.at(-1)!.sweepId).toBeUndefined();
  });

  it('refuses an empty sweep or one the data cannot feed, before training anything', async () => {
    const { store, deps } = await readyStore('#n=5&k=5');
    store.getState().startSweep({ ks: [5], levels: ['strict'], encodings: [], forgetting: [false], seeds: [1] });
    expect(store.getState().startProblem).toContain('pick at least one');
    store.getState().setConfig({ n: 5000 });
    store.getState().startSweep({ ks: [1, 5], levels: ['window'], encodings: ['rope'], forgetting: [false], seeds: [1] });
    expect(store.getState().startProblem).toMatch(/^The sweep cannot start: .*no training target has n = 5000/);
    expect(deps.trainer.commandTypes()).toEqual([]);
  });

  it('keeps a long run\'s curve within MAX_STEP_POINTS, evenly thinned and ending at the latest step', () => {
    const point = (n: number): StepPoint => ({ step: n, epoch: 1, loss: 0.5, elapsedMs: n, targetsPerSec: 1, tokensPerSec: 1, targets: 1, tokens: 1 });
    const curve = capCurve(Array.from({ length: 10_001 }, (_, i) => point(i + 1)));
    expect(curve.length).toBeLessThanOrEqual(MAX_STEP_POINTS);
    expect(curve.length).toBeGreaterThan(MAX_STEP_POINTS / 2);
    expect(curve[0].step).toBe(1);
    expect(curve.at(-1)!.step).toBe(10_001);
    const gaps = new Set(curve.slice(1, -1).map((p, i) => p.step - curve[i].step));
    expect([...gaps]).toEqual([4]); // 10,001 points halved twice: every 4th step
    expect(capCurve(curve.slice(0, 10))).toEqual(curve.slice(0, 10)); // short curves stay whole
  });

  it('marks a run that was live during a reload as interrupted, with its curve, and does not restart it', async () => {
    const hub = memoryTabHub();
    const tab = hub.tab();
    const { store, deps } = await readyStore('', { tabs: tab });
    store.getState().startTraining();
    deps.trainer.emit(stepEvent(1));
    deps.trainer.emit(evalEvent(1, 0.6));
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the saves land
    expect((await deps.storage.loadRuns())[0].status).toBe('running');
    hub.close(tab); // the reload: the browser drops the old page's lock
    const reloaded = createLabStore({ ...deps, tabs: hub.tab() });
    await reloaded.getState().loadRuns();
    const run = reloaded.getState().runs[0];
    expect(run.status).toBe('interrupted');
    expect(run.steps.map((p) => p.step)).toEqual([1]);
    expect(reloaded.getState().session.state).toBe('idle');
    expect(deps.trainer.commandTypes()).toEqual(['start']);
    expect((await deps.storage.loadRuns())[0].status).toBe('interrupted');
  });
});

describe('runs', () => {
  it('keeps the comparison selection and its baseline across a reload, among the runs that still exist', async () => {
    const { store, deps } = await readyStore();
    store.getState().startComparison();
    deps.trainer.emit(doneEvent());
    deps.trainer.emit(doneEvent());
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the saves land
    const [sw, dti] = store.getState().runs.map((run) => run.id);
    expect(store.getState().compareIds).toEqual([sw, dti]);
    store.getState().setBaseline(dti);
    const reloaded = createLabStore({ ...deps, tabs: memoryTabHub().tab() });
    await reloaded.getState().loadRuns();
    expect([reloaded.getState().compareIds, reloaded.getState().baselineId]).toEqual([[sw, dti], dti]);
    // A run deleted since is dropped from the selection the next time.
    await reloaded.getState().deleteRun(dti);
    const again = createLabStore({ ...deps, tabs: memoryTabHub().tab() });
    await again.getState().loadRuns();
    expect([again.getState().compareIds, again.getState().baselineId]).toEqual([[sw], null]);
  });

  it('exports runs as CSV and JSON, and a model as safetensors that imports back', async () => {
    const { store, deps } = await readyStore('#d=32&h=2&l=1&ff=64');
    store.getState().startTraining();
    const runId = store.getState().session.runId!;
    deps.trainer.emit(stepEvent(1));
    deps.trainer.emit(evalEvent(1, 0.6));
    deps.trainer.emit(doneEvent());
    const csv = store.getState().exportRuns('summary-csv').content;
    expect(csv.split('\n')[0]).toMatch(/^run_id,name,/);
    expect(csv).toContain(runId);
    expect(store.getState().exportRuns('curves-csv').content.split('\n')[1]).toMatch(new RegExp(`^${runId},1,1,`));
    const json = JSON.parse(store.getState().exportRuns('json').content);
    expect(json.runs[0].config.model.dModel).toBe(32);

    expect(await store.getState().exportModel(runId)).toBeNull();
    expect(store.getState().runsMessage?.kind).toBe('error');

    const run = store.getState().runs[0];
    const vocabSize = store.getState().dataset!.stats.vocabSize;
    const maxSeqLen = 64;
    const { paramLayout } = await import('../model/params');
    const total = paramLayout({ ...run.config.model, vocabSize, maxSeqLen, seed: 1 }).total;
    deps.trainer.emit({ type: 'model', config: run.config, params: new Float32Array(total).fill(0.25), vocabSize, maxSeqLen });
    await waitFor(() => store.getState().runs[0].hasModel);
    const file = await store.getState().exportModel(runId);
    expect(file?.filename).toMatch(/\.safetensors$/);
    const model = readSafetensors(file!.bytes);
    expect(model.config).toEqual(run.config);
    expect(model.extra?.run_id).toBe(runId);

    await store.getState().importModel('copy.safetensors', file!.bytes.slice().buffer);
    const imported = store.getState().runs[1];
    expect(imported.status).toBe('imported');
    expect(imported.result?.test.auc).toBe(0.71);
    expect((await deps.storage.loadModel(imported.id))?.vocab.length).toBe(vocabSize);

    await store.getState().importModel('junk.safetensors', new Uint8Array(3).buffer);
    expect(store.getState().runsMessage?.text).toMatch(/junk\.safetensors: .*too short/);
  });

  it('exports the configuration\'s prompts for PyTorch as a tar that tar unpacks into shards and a manifest, and refuses a configuration with errors', async () => {
    const { store } = await readyStore('#n=4&k=6');
    const file = await store.getState().exportForPyTorch();
    expect(file?.filename).toBe('dti-lab-dti-n4-k6.tar');
    expect(store.getState().shardExport).toBeNull();
    expect(store.getState().runsMessage?.text).toMatch(/^Exported dti-lab-dti-n4-k6\.tar .*python\/train\.py/);
    const { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'dti-store-export-'));
    try {
      writeFileSync(join(dir, 'export.tar'), file!.bytes);
      expect(spawnSync('tar', ['-xf', 'export.tar'], { cwd: dir }).status).toBe(0);
      const folder = join(dir, 'dti-lab-dti-n4-k6');
      const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
      expect([manifest.trainConfig.n, manifest.trainConfig.k, manifest.trainTargetsPerPrompt]).toEqual([4, 6, 6]);
      expect(manifest.dataset.source).toBe('the built-in small preset');
      expect(manifest.dataset.clickRule).toBe(clickRuleText(store.getState().dataset!.stats));
      const listed = readdirSync(folder).sort();
      for (const split of ['train', 'validSample', 'valid', 'test']) expect(listed).toContain(manifest.splits[split][0].file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    store.getState().setConfig({ n: 0 });
    expect(await store.getState().exportForPyTorch()).toBeNull();
    expect(store.getState().runsMessage?.text).toMatch(/^This configuration cannot be exported: /);
  });

  it('asks the worker to score the prompt shown while a run trains, keeps only the answer for that prompt, and marks the last one final', async () => {
    const { store, deps } = await readyStore('#k=4&ds=small');
    store.getState().startTraining();
    const requests = () => deps.trainer.commands.filter((c) => c.type === 'inspect');
    const first = requests().at(-1);
    expect(first?.type === 'inspect' && first.request?.prompt.tokens).toEqual(store.getState().promptView!.prompt.tokens);
    const key = first?.type === 'inspect' ? first.request!.key : '';
    const answer = (forKey: string, step: number) => {
      const view = store.getState().promptView!;
      const L = view.prompt.tokens.length;
      deps.trainer.emit({ type: 'inspection', key: forKey, step, layer: 0, head: 0, n: 10, isolation: 'strict', probs: new Float32Array(view.prompt.targets.length).fill(0.7), attention: new Float32Array(L * L) });
    };
    answer(key, 5);
    expect(store.getState().inspection).toMatchObject({ step: 5, view: store.getState().promptView, final: false });
    // Another prompt is shown: a new request; a late answer for the old one is dropped.
    store.getState().showOtherPrompt(1);
    const second = requests().at(-1);
    expect(second?.type === 'inspect' && second.request?.key).not.toBe(key);
    answer(key, 6);
    expect(store.getState().inspection?.step).toBe(5);
    answer(second?.type === 'inspect' ? second.request!.key : '', 7);
    expect(store.getState().inspection).toMatchObject({ step: 7, view: store.getState().promptView });
    // Layer and head are the person's choice.
    store.getState().setInspectHead({ head: 1 });
    expect(requests().at(-1)).toMatchObject({ request: { layer: 0, head: 1 } });
    deps.trainer.emit(doneEvent());
    expect(store.getState().inspection?.final).toBe(true);
    expect(requests().at(-1)).toEqual({ type: 'inspect', request: null }); // nothing to score between runs
    // A next run with fewer heads reads one it has.
    store.getState().setModel({ nHeads: 1, dModel: 32 });
    store.getState().startTraining();
    expect(store.getState().inspectHead).toMatchObject({ layer: 0, head: 0 });
  });

  it('names an upload in the link by its files and checksum, keeps it for a link to it, and loads the preset a link names instead', async () => {
    const { store } = await readyStore('#ds=small');
    const rows = ['user,item,rating'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`u${u},i${(u * 7 + t) % 25},${1 + ((u + t) % 5)}`);
    await store.getState().uploadFiles([new File([rows.join('\n')], 'mine.csv')]);
    await waitFor(() => store.getState().datasetChecksum !== null);
    const upload = store.getState().dataset;
    const checksum = store.getState().datasetChecksum!;
    expect(checksum).toBe(await datasetChecksum(upload!.data));
    // A link to this upload keeps it, and says it is the link's data.
    const link = encodeHash({ config: store.getState().config, preset: 'small', prep: store.getState().prep, upload: { files: ['mine.csv'], checksum } });
    store.getState().applyHash(`#${link}`);
    expect(store.getState().dataset).toBe(upload);
    expect(store.getState().linkedUpload).toEqual({ files: ['mine.csv'], checksum: checksum.slice(0, 16) });
    // A link to a preset loads it in place of the upload.
    store.getState().applyHash('#ds=small');
    await waitFor(() => store.getState().dataset?.source.kind === 'builtin' && store.getState().datasetTask === null);
    expect(store.getState().linkedUpload).toBeNull();
    expect(store.getState().datasetChecksum).toBeNull();
  });

  it('copies a run configuration back into the editor and deletes runs', async () => {
    const { store, deps } = await readyStore('#k=7');
    store.getState().startTraining();
    deps.trainer.emit(doneEvent());
    store.getState().setConfig({ k: 2 });
    const id = store.getState().runs[0].id;
    store.getState().applyRunConfig(id);
    expect(store.getState().config.k).toBe(7);
    await store.getState().renameRun(id, 'baseline');
    expect(store.getState().runs[0].name).toBe('baseline');
    await store.getState().deleteRun(id);
    expect(store.getState().runs).toEqual([]);
    expect(await deps.storage.loadRuns()).toEqual([]);
  });
});

describe('explain mode', () => {
  it('drives the real configuration step by step, and restores it on leaving', async () => {
    const { store } = await readyStore('#k=1&p=dti&iso=strict&l=1');
    const before = store.getState().config;
    store.getState().openExplain();
    expect(store.getState().config.paradigm).toBe('sw');
    expect(store.getState().explainFacts?.sw.tokensPerTarget).toBeGreaterThan(store.getState().explainFacts!.dti.tokensPerTarget);
    const leakage = EXPLAIN_STEPS.findIndex((s) => s.id === 'leakage');
    store.getState().goToExplainStep(leakage);
    const s = store.getState();
    expect(s.config).toMatchObject({ paradigm: 'dti', k: 10, isolation: 'window' });
    expect(s.config.model.nLayers).toBe(2);
    expect(s.promptView?.field?.target).toBe(9);
    expect(s.promptView?.field?.leaked).toBeGreaterThan(0);
    store.getState().closeExplain(true);
    expect(store.getState().config).toEqual(before);
    expect(store.getState().explain.step).toBe(leakage);
    store.getState().openExplain();
    expect(store.getState().explain.step).toBe(leakage);
    expect(store.getState().config.isolation).toBe('window');
  });
});

it('writes a link that reproduces the configuration', async () => {
  const { store } = await readyStore('#k=9&ds=small');
  const hash = encodeHash({ config: store.getState().config, preset: store.getState().preset, prep: store.getState().prep });
  const { store: copy } = await readyStore(`#${hash}`);
  expect(copy.getState().config).toEqual(store.getState().config);
});
