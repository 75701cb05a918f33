/**
 * The store's side of the robustness and import issues, against a scripted trainer: evaluating an imported model,
 * the GPU memory estimate, a lost device, pausing while hidden, and several tabs sharing one IndexedDB.
 */
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, vi } from 'vitest';
import { estimateMemory, rowsThatFit } from '../model/gpu-model';
import { paramLayout } from '../model/params';
import { writeSafetensors } from '../model/safetensors';
import { promptsPerStep } from '../train/config';
import { createLabStore } from './lab-store';
import { indexedDbStorage } from './persist';
import { trainingCost } from './prompt-view';
import { evaluationOption, runStatusLabel } from './run-view';
import { FOREIGN_RUN_CHECK_MS } from './runs-slice';
import { memoryTabHub } from './tabs';
import { doneEvent, evalEvent, readyStore, stepEvent, testMetrics, waitFor } from './test-support';
import type { LabStore } from './lab-store';


const TINY = '#d=32&h=2&l=1&ff=64&ds=small';

/** A safetensors file of a tiny model whose metadata names the given vocabulary (as an export of the lab would). */
function modelFile(store: LabStore, vocab: string[], datasetName = 'Built-in (small, seed 1)', withVocab = true): ArrayBuffer {
  const config = store.getState().config;
  const maxSeqLen = 64;
  const total = paramLayout({ ...config.model, vocabSize: vocab.length, maxSeqLen, seed: config.seed }).total;
  const bytes = writeSafetensors({
    config,
    params: new Float32Array(total).fill(0.125),
    vocabSize: vocab.length,
    maxSeqLen,
    extra: { run_name: 'original', dataset: datasetName, dataset_preset: 'small', ...(withVocab ? { vocab: JSON.stringify(vocab) } : {}), result: JSON.stringify({ test: testMetrics(0.7) }) },
  });
  return bytes.slice().buffer;
}

describe('evaluating an imported model', () => {
  it('evaluates on the loaded dataset with the same vocabulary and keeps the metrics with where and when', async () => {
    const { store, deps } = await readyStore(TINY);
    const vocab = store.getState().dataset!.data.vocab.tokens;
    await store.getState().importModel('model.safetensors', modelFile(store, vocab));
    const run = store.getState().runs[0];
    expect(run.status).toBe('imported');
    const option = evaluationOption(store.getState(), run);
    expect(option).toEqual({ datasetName: 'Built-in (small, seed 1)', enabled: true, reason: null });

    await store.getState().evaluateRun(run.id);
    expect(store.getState().evaluation?.runId).toBe(run.id);
    const command = deps.trainer.commands[0];
    expect(command.type).toBe('evaluate');
    if (command.type !== 'evaluate') return;
    expect(command.config).toEqual(run.config);
    expect(command.dataset.name).toBe('Built-in (small, seed 1)');
    expect(command.params.length).toBe(paramLayout({ ...run.config.model, vocabSize: vocab.length, maxSeqLen: 64, seed: 1 }).total);
    // Training waits for the evaluation (they share the worker).
    store.getState().startTraining();
    expect(store.getState().startProblem).toMatch(/being evaluated/);
    expect(evaluationOption(store.getState(), run).enabled).toBe(false);

    deps.trainer.emit({ type: 'evaluated', valid: testMetrics(0.61), test: testMetrics(0.62) });
    const evaluated = store.getState().runs[0];
    expect(store.getState().evaluation).toBeNull();
    expect(evaluated.evaluations).toHaveLength(1);
    expect(evaluated.evaluations![0]).toMatchObject({ datasetName: 'Built-in (small, seed 1)', datasetPreset: 'small', test: { auc: 0.62 }, valid: { auc: 0.61 } });
    expect(evaluated.evaluations![0].at).toBeGreaterThan(0);
    expect(evaluated.result?.test.auc).toBe(0.7); // the file's own result is kept apart
    await waitFor(() => false, 50).catch(() => {}); // let the save land
    expect((await deps.storage.loadRuns())[0].evaluations?.[0].test.auc).toBe(0.62);
  });

  it('refuses another vocabulary and says which dataset the model was trained on', async () => {
    const { store, deps } = await readyStore(TINY);
    const vocab = [...store.getState().dataset!.data.vocab.tokens];
    vocab[vocab.length - 1] = 'another-word';
    await store.getState().importModel('other.safetensors', modelFile(store, vocab, 'My ratings'));
    const run = store.getState().runs[0];
    const option = evaluationOption(store.getState(), run);
    expect(option.enabled).toBe(false);
    expect(option.reason).toMatch(/Trained on My ratings.*differs from that of Built-in \(small, seed 1\).*token ids would mean different words/);
    await store.getState().evaluateRun(run.id);
    expect(deps.trainer.commands).toHaveLength(0);

    await store.getState().importModel('bare.safetensors', modelFile(store, vocab, 'My ratings', false));
    expect(evaluationOption(store.getState(), store.getState().runs[1]).reason).toMatch(/carries no vocabulary/);
  });

  it('puts a failed evaluation on the run, in place', async () => {
    const { store, deps } = await readyStore(TINY);
    await store.getState().importModel('model.safetensors', modelFile(store, store.getState().dataset!.data.vocab.tokens));
    const id = store.getState().runs[0].id;
    await store.getState().evaluateRun(id);
    deps.trainer.emit({ type: 'error', kind: 'too-large', message: 'buffer too large' });
    const run = store.getState().runs[0];
    expect(run.status).toBe('imported');
    expect(run.error).toEqual({ kind: 'too-large', message: 'Evaluation failed: buffer too large' });
    expect(store.getState().evaluation).toBeNull();
    expect(deps.trainer.terminated).toBe(true);
    // A later success clears it.
    await store.getState().evaluateRun(id);
    deps.trainer.emit({ type: 'evaluated', valid: testMetrics(0.6), test: testMetrics(0.6) });
    expect(store.getState().runs[0].error).toBeNull();
  });
});

describe('GPU memory estimate', () => {
  it('estimates the run with the engine formula, shrinks micro-batches to the adapter limit, and refuses a prompt that cannot fit', async () => {
    const { store } = await readyStore('#d=64&h=4&l=2&ff=256&bt=160&n=10&k=10', {
      detectWebGpu: async () => ({ available: true, message: 'small GPU', limits: { maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 } }),
    });
    const s = store.getState();
    const memory = s.check.memory!;
    const data = s.dataset!.data;
    const L = s.check.longestPrompt!;
    // A step of 160 targets takes the prompts that hold them on average; with an unbounded adapter one micro-batch holds them.
    const cost = trainingCost(data, 10, 10);
    const stepPrompts = promptsPerStep(160, cost.prompts, cost.targets).prompts;
    const model = { ...s.config.model, vocabSize: data.vocab.tokens.length, maxSeqLen: L, seed: 1 };
    const B = Math.min(stepPrompts, rowsThatFit({ maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 }, model, L));
    expect(B).toBeGreaterThan(16);
    const expected = estimateMemory(model, { B, L, maxTargets: B * 10 }, true);
    expect(memory).toMatchObject({ ...expected, B, L, maxTargets: B * 10, limit: 2 ** 40 });
    expect(memory.total).toBe(memory.parameters + memory.optimizer + memory.activations + memory.activationGradients + memory.batch);
    expect(s.check.errors).toEqual([]);

    // An adapter allowing a quarter of that largest buffer: the step is split into smaller micro-batches that fit.
    const limit = Math.floor(memory.largestBuffer / 4);
    store.setState({ webgpu: { ...s.webgpu, limits: { maxStorageBufferBindingSize: limit, maxBufferSize: 2 * limit } } });
    const smaller = store.getState().check.memory!;
    expect(store.getState().check.errors).toEqual([]);
    expect(smaller.B).toBeLessThanOrEqual(Math.ceil(B / 4));
    expect(smaller.largestBuffer).toBeLessThanOrEqual(limit);

    // The parameters fit but one prompt of k = 50 targets does not: refused, naming what sets the prompt length.
    const tight = Math.ceil(memory.parameters * 1.2);
    store.setState({ webgpu: { ...s.webgpu, limits: { maxStorageBufferBindingSize: tight, maxBufferSize: tight } } });
    expect(store.getState().check.errors).toEqual([]);
    store.getState().setConfig({ k: 50 });
    const error = store.getState().check.errors.join(' ');
    expect(error).toMatch(/largest GPU buffer would hold .*allows .* per buffer, even with one prompt per batch; lower n or k/);
    store.getState().startTraining();
    expect(store.getState().startProblem).toMatch(/lower n or k/);
    store.getState().setConfig({ k: 10 });
    expect(store.getState().check.errors).toEqual([]);
  });
});

describe('a lost GPU device', () => {
  it('fails the run with the reason, keeps its curve and the other runs, and restarts the same config on a new worker', async () => {
    const { store, deps } = await readyStore(TINY);
    const createTrainer = vi.spyOn(deps, 'createTrainer');
    store.getState().startTraining();
    deps.trainer.emit(doneEvent());
    store.getState().startTraining();
    deps.trainer.emit(stepEvent(1));
    deps.trainer.emit(stepEvent(2));
    store.getState().simulateDeviceLoss();
    expect(deps.trainer.commandTypes()).toEqual(['start', 'export-model', 'start', 'simulate-device-loss']);
    deps.trainer.emit({ type: 'error', kind: 'device-lost', message: 'The GPU device was lost (destroyed)' });
    let s = store.getState();
    const failed = s.runs[1];
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ kind: 'device-lost', message: 'The GPU device was lost (destroyed)' });
    expect(failed.steps.map((p) => p.step)).toEqual([1, 2]);
    expect(s.runs[0].status).toBe('done');
    expect(s.session.state).toBe('idle');
    expect(deps.trainer.terminated).toBe(true);

    // Not on data prepared with other rules (other click labels would make it another task).
    await store.getState().setPrep({ split: 'per-user', clickAtLeast: 5 });
    store.getState().restartRun(failed.id);
    expect(store.getState().startProblem).toMatch(/prepared with the per-user split and the format's click rule, but the loaded data has .*rating of 5 or more/);
    expect(store.getState().runs).toHaveLength(2);
    await store.getState().setPrep({ split: 'per-user', clickAtLeast: null });

    store.getState().restartRun(failed.id);
    s = store.getState();
    expect(createTrainer).toHaveBeenCalledTimes(2); // the failed worker was ended; the restart asks a new one for a new device
    expect(s.runs).toHaveLength(3);
    expect(s.runs[2].name).toMatch(/\(restarted\)$/);
    expect(s.runs[2].config).toEqual(failed.config);
    expect(s.session.runId).toBe(s.runs[2].id);
  });

  it('fails a run whose device was lost after its last step (the worker reports the loss after done)', async () => {
    const { store, deps } = await readyStore();
    store.getState().startTraining();
    deps.trainer.emit(doneEvent(true));
    deps.trainer.emit({ type: 'error', kind: 'device-lost', message: 'The GPU device was lost (unknown)' });
    const run = store.getState().runs[0];
    expect(run.status).toBe('failed');
    expect(run.error?.kind).toBe('device-lost');
    expect(store.getState().session.state).toBe('idle');
  });

  it('only simulates a loss during a run', async () => {
    const { store, deps } = await readyStore();
    store.getState().simulateDeviceLoss();
    expect(deps.trainer.commands).toHaveLength(0);
  });
});

describe('pausing while the page is hidden', () => {
  it('pauses only when the person chose so, and resumes only its own pause', async () => {
    const { store, deps } = await readyStore();
    store.getState().startTraining();
    store.getState().pageVisibilityChanged(true);
    store.getState().pageVisibilityChanged(false);
    expect(deps.trainer.commandTypes()).toEqual(['start']);

    store.getState().setPauseWhenHidden(true);
    store.getState().pageVisibilityChanged(true);
    expect(store.getState().session.state).toBe('pausing');
    expect(store.getState().pausedWhileHidden).toBe(true);
    deps.trainer.emit({ type: 'paused' });
    store.getState().pageVisibilityChanged(false);
    expect(store.getState().session.state).toBe('running');
    expect(deps.trainer.commandTypes()).toEqual(['start', 'pause', 'resume']);

    // A pause the person made stays when the page comes back.
    store.getState().pauseTraining();
    deps.trainer.emit({ type: 'paused' });
    store.getState().pageVisibilityChanged(true);
    store.getState().pageVisibilityChanged(false);
    expect(store.getState().session.state).toBe('paused');
    expect(deps.trainer.commandTypes()).toEqual(['start', 'pause', 'resume', 'pause']);

    // Turning the option off while hidden-paused resumes.
    store.getState().resumeTraining();
    store.getState().pageVisibilityChanged(true);
    expect(store.getState().pausedWhileHidden).toBe(true);
    store.getState().setPauseWhenHidden(false);
    expect(store.getState().session.state).toBe('running');
    expect(store.getState().pausedWhileHidden).toBe(false);
  });
});

describe('two tabs', () => {
  it('keep each other’s runs: a live run elsewhere is not taken for interrupted, and both runs survive a reload', async () => {
    const hub = memoryTabHub();
    const factory = new IDBFactory();
    const tabA = hub.tab();
    let ids = 0;
    const newId = () => `run-${++ids}`; // unique across the tabs, as randomUUID is
    const a = await readyStore(TINY, { storage: indexedDbStorage(factory), tabs: tabA, newId });
    const tabB = hub.tab();
    const b = await readyStore(TINY, { storage: indexedDbStorage(factory), tabs: tabB, newId });

    a.store.getState().startTraining();
    const aRun = a.store.getState().session.runId!;
    a.deps.trainer.emit(stepEvent(1));
    a.deps.trainer.emit(evalEvent(1, 0.6));
    await waitFor(() => b.store.getState().runs.some((r) => r.id === aRun && r.evals.length === 1));
    // B hears of A's run as it is saved, and shows it as live elsewhere.
    expect(runStatusLabel(b.store.getState().runs[0], b.store.getState().session.runId)).toBe('running in another tab');
    await b.store.getState().deleteRun(aRun); // A's to stop first
    expect(b.store.getState().runs.map((r) => r.id)).toEqual([aRun]);

    // B saves a run of its own meanwhile.
    b.store.getState().startTraining();
    const bRun = b.store.getState().session.runId!;
    b.deps.trainer.emit(doneEvent());
    await waitFor(() => a.store.getState().runs.some((r) => r.id === bRun && r.status === 'done'));

    // B reloads while A trains: A's run is still live, so it stays running.
    hub.close(tabB);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }); // the periodic check of foreign runs
    let reloadedB: LabStore;
    try {
      reloadedB = createLabStore({ ...b.deps, storage: indexedDbStorage(factory), tabs: hub.tab() });
      await reloadedB.getState().loadRuns();
      expect(reloadedB.getState().runs.map((r) => [r.id, r.status])).toEqual([
        [aRun, 'running'],
        [bRun, 'done'],
      ]);
      vi.advanceTimersByTime(FOREIGN_RUN_CHECK_MS + 10);
      await new Promise((resolve) => setImmediate(resolve));
      expect(reloadedB.getState().runs[0].status).toBe('running'); // checked again: still live in A

      // A's tab closes mid-run: B notices its lock is gone and says the run was interrupted.
      hub.close(tabA);
      vi.advanceTimersByTime(FOREIGN_RUN_CHECK_MS + 10);
    } finally {
      vi.useRealTimers();
    }
    await waitFor(() => reloadedB.getState().runs[0].status === 'interrupted');
    const stored = await indexedDbStorage(factory).loadRuns();
    expect(stored.map((r) => [r.id, r.status])).toEqual([
      [aRun, 'interrupted'],
      [bRun, 'done'],
    ]);
    expect(stored[0].steps).toHaveLength(1);
    expect(stored[0].evals).toHaveLength(1);
  });
});
