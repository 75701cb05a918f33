/**
 * The training session: owns the training worker and turns its events into the current run's record. The page never
 * trains; it posts 'start' with the configuration and the loaded dataset and records what comes back.
 */
import { effectiveK } from '../train/config';
import type { TrainConfig, TrainerEvent } from '../train/protocol';
import type { RunRecord, StepPoint } from './run-types';
import { saveRun, updateRun } from './runs-slice';
import type { SessionSlice, SliceCreator, TrainerPort } from './types';

/** Step events are batched into the store at most this often: a fast GPU sends hundreds per second. */
const STEP_FLUSH_MS = 250;
/** A running run is saved at most this often (and at every evaluation and at its end), so a reload keeps its curve. */
const SAVE_EVERY_MS = 3000;

function runLabel(config: TrainConfig): string {
  const head = config.paradigm === 'sw' ? 'SW' : `DTI k=${config.k}`;
  return `${head} · ${config.isolation} · ${config.model.positionEncoding} · n=${config.n}`;
}

export const createSessionSlice: SliceCreator<SessionSlice> = (set, get, deps) => {
  let trainer: TrainerPort | null = null;
  let pendingSteps: StepPoint[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  let lastSave = 0;
  /** The run whose weights the next 'model' event carries, with the vocabulary it was trained on. */
  let modelFor: { runId: string; vocab: string[]; datasetName: string } | null = null;
  /** Vocabulary of the run in progress (kept here: the person may load another dataset meanwhile). */
  let runVocab: { vocab: string[]; datasetName: string } | null = null;
  /** True while a SW-vs-DTI comparison is queued: its runs are selected for comparison as they start. */
  let comparing = false;

  const setSession = (patch: Partial<SessionSlice['session']>) => set((s) => ({ session: { ...s.session, ...patch } }));
  const currentRun = () => get().session.runId;

  const flushSteps = () => {
    if (flushTimer !== null) clearTimeout(flushTimer);
    flushTimer = null;
    const id = currentRun();
    if (!id || pendingSteps.length === 0) return;
    const points = pendingSteps;
    pendingSteps = [];
    const run = updateRun(set, get, id, (r) => ({ ...r, steps: [...r.steps, ...points] }));
    if (run && deps.now() - lastSave >= SAVE_EVERY_MS) {
      lastSave = deps.now();
      void saveRun(set, deps, run);
    }
  };

  const updateAndSave = (change: (run: RunRecord) => RunRecord) => {
    const id = currentRun();
    const run = id ? updateRun(set, get, id, change) : null;
    if (run) void saveRun(set, deps, run);
  };

  const beginRun = (config: TrainConfig) => {
    const { dataset } = get();
    if (!dataset) return;
    const run: RunRecord = {
      id: deps.newId(),
      name: `#${get().runs.length + 1} ${runLabel(config)}`,
      createdAt: deps.now(),
      config,
      dataset: {
        name: dataset.data.name,
        preset: dataset.source.kind === 'builtin' ? dataset.source.preset : null,
        users: dataset.stats.users,
        interactions: dataset.stats.interactions,
      },
      status: 'running',
      steps: [],
      evals: [],
      result: null,
      error: null,
      adapter: null,
      hasModel: false,
    };
    runVocab = { vocab: dataset.data.vocab.tokens, datasetName: dataset.data.name };
    pendingSteps = [];
    lastSave = deps.now();
    set((s) => ({
      runs: [...s.runs, run],
      compareIds: comparing ? [...s.compareIds, run.id] : s.compareIds,
      session: { ...s.session, state: 'running', runId: run.id, status: null },
      startProblem: null,
    }));
    void saveRun(set, deps, run);
    if (!trainer) {
      trainer = deps.createTrainer();
      trainer.listen(onEvent);
    }
    trainer.post({ type: 'start', config, dataset: dataset.data });
  };

  /** Closes the current run and starts the next queued one, unless the person stopped the session. */
  const endRun = (change: (run: RunRecord) => RunRecord, startNext: boolean) => {
    flushSteps();
    updateAndSave(change);
    const [next, ...rest] = get().session.queue;
    if (startNext && next) {
      setSession({ queue: rest });
      beginRun(next);
    } else {
      comparing = false;
      setSession({ state: 'idle', runId: null, status: null, queue: [] });
    }
  };

  const onEvent = (event: TrainerEvent) => {
    if (event.type !== 'step') flushSteps();
    switch (event.type) {
      case 'status':
        setSession({ status: event });
        break;
      case 'device':
        set({ webgpu: { state: 'available', message: event.adapter } });
        updateAndSave((r) => ({ ...r, adapter: event.adapter }));
        break;
      case 'step':
        pendingSteps.push({
          step: event.step,
          epoch: event.epoch,
          loss: event.loss,
          elapsedMs: event.elapsedMs,
          targetsPerSec: event.targetsPerSec,
          tokensPerSec: event.tokensPerSec,
          targets: event.targets,
          tokens: event.tokens,
        });
        flushTimer ??= setTimeout(flushSteps, STEP_FLUSH_MS);
        break;
      case 'eval':
        updateAndSave((r) => ({ ...r, evals: [...r.evals, { step: event.step, split: event.split, ...event.metrics }] }));
        break;
      case 'paused':
        setSession({ state: 'paused' });
        break;
      case 'resumed':
        setSession({ state: 'running' });
        break;
      case 'done': {
        const id = currentRun();
        if (id && runVocab) {
          modelFor = { runId: id, ...runVocab };
          trainer?.post({ type: 'export-model' });
        }
        const { type: _, stopped, ...result } = event;
        endRun((r) => ({ ...r, status: stopped ? 'stopped' : 'done', result: { ...result, stopped } }), !stopped);
        break;
      }
      case 'error':
        // A failed worker may be unusable (a crash, a lost device): the next run starts a fresh one.
        trainer?.terminate();
        trainer = null;
        if (event.kind === 'no-webgpu') set({ webgpu: { state: 'unavailable', message: event.message } });
        if (currentRun()) {
          endRun((r) => ({ ...r, status: 'failed', error: { kind: event.kind, message: event.message } }), false);
        } else if (modelFor) {
          modelFor = null; // the worker had no weights to send: the run stays without a saved model
        }
        break;
      case 'model': {
        const target = modelFor;
        modelFor = null;
        if (!target) break;
        void deps.storage
          .saveModel({
            runId: target.runId,
            config: event.config,
            params: event.params,
            vocabSize: event.vocabSize,
            maxSeqLen: event.maxSeqLen,
            vocab: target.vocab,
            datasetName: target.datasetName,
          })
          .then(() => {
            const run = updateRun(set, get, target.runId, (r) => ({ ...r, hasModel: true }));
            if (run) return saveRun(set, deps, run);
          })
          .catch((error) => set({ storageProblem: `The trained model could not be saved (${(error as Error)?.message ?? error}).` }));
        break;
      }
    }
  };

  /** Why training cannot start now, or null. */
  const blocker = (): string | null => {
    const s = get();
    if (s.session.state !== 'idle') return 'a run is already in progress';
    if (!s.dataset) return 'no dataset is loaded yet';
    if (s.check.errors.length) return `the configuration has problems: ${s.check.errors.join('; ')}`;
    if (s.webgpu.state === 'unavailable') return s.webgpu.message;
    return null;
  };

  return {
    webgpu: { state: 'checking', message: 'Looking for a WebGPU adapter' },
    session: { state: 'idle', runId: null, status: null, queue: [] },
    startProblem: null,
    checkWebGpu: async () => {
      const support = await deps.detectWebGpu();
      // A worker's 'device' event is the stronger evidence; a late detection result must not overwrite it.
      if (get().webgpu.state === 'checking') {
        set({ webgpu: { state: support.available ? 'available' : 'unavailable', message: support.message } });
      }
    },
    startTraining: () => {
      const problem = blocker();
      if (problem) {
        set({ startProblem: `Training cannot start: ${problem}.` });
        return;
      }
      comparing = false;
      beginRun(structuredClone(get().config));
    },
    startComparison: () => {
      const problem = blocker();
      if (problem) {
        set({ startProblem: `The comparison cannot start: ${problem}.` });
        return;
      }
      // Whole epochs for both: under a step limit SW would see k times fewer targets than DTI, and the speed-up would
      // compare unequal work. The training panel says so next to the button.
      const config: TrainConfig = { ...structuredClone(get().config), maxSteps: 0 };
      const dti: TrainConfig = { ...config, paradigm: 'dti', k: effectiveK(config) > 1 ? config.k : 10 };
      const sw: TrainConfig = { ...config, paradigm: 'sw' };
      comparing = true;
      set({ compareIds: [], baselineId: null });
      setSession({ queue: [dti] });
      beginRun(sw);
    },
    pauseTraining: () => {
      if (get().session.state !== 'running') return;
      setSession({ state: 'pausing' });
      trainer?.post({ type: 'pause' });
    },
    resumeTraining: () => {
      if (get().session.state !== 'paused' && get().session.state !== 'pausing') return;
      setSession({ state: 'running' });
      trainer?.post({ type: 'resume' });
    },
    stopTraining: () => {
      const state = get().session.state;
      if (state === 'idle' || state === 'stopping') return;
      setSession({ state: 'stopping', queue: [] });
      trainer?.post({ type: 'stop' });
    },
  };
};
