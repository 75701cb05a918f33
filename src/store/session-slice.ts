/**
 * The training session: owns the training worker and turns its events into the current run's record. The page never
 * trains; it posts 'start' with the configuration and the loaded dataset and records what comes back.
 */
import { datasetToMessage } from '../data/dataset-message';
import { effectiveK } from '../train/config';
import { sweepConfigs } from '../train/experiments';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainerEvent } from '../train/protocol';
import { checkConfig } from './config-check';
import { DEFAULT_PREP, prepText, samePrep } from './data-prep';
import type { RunRecord, StepPoint } from './run-types';
import { evaluationOption } from './run-view';
import { saveRun, updateRun } from './runs-slice';
import type { LoadedDataset, SessionSlice, SliceCreator, TrainerPort } from './types';
import { sameVocab, vocabFingerprint } from './vocab';
import { LAB_VERSION } from './lab-version';
import type { PromptView } from './prompt-view';

/** Step events are batched into the store at most this often: a fast GPU sends hundreds per second. */
const STEP_FLUSH_MS = 250;
/**
 * A run keeps at most this many step points: the whole curve at halved resolution once it grows past it, so that a
 * fast GPU's long run does not make every save (and every tab message) copy megabytes.
 */
export const MAX_STEP_POINTS = 4000;

/** `points`, halved (every other point, always keeping the latest) until at most `max` remain. */
export function capCurve(points: StepPoint[], max = MAX_STEP_POINTS): StepPoint[] {
  let kept = points;
  while (kept.length > max) kept = kept.filter((_, i) => i % 2 === 0 || i === kept.length - 1);
  return kept;
}

/** A running run is saved at most this often (and at every evaluation and at its end), so a reload keeps its curve. */
const SAVE_EVERY_MS = 3000;

function runLabel(config: TrainConfig): string {
  const head = config.paradigm === 'sw' ? 'SW' : `DTI k=${config.k}`;
  return `${head} · ${config.isolation} · ${config.model.positionEncoding}${config.model.forgetting ? ' + forgetting' : ''} · n=${config.n}`;
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
  /** The sweep whose runs are queued, if any: each of its runs is tagged with it. */
  let sweepId: string | null = null;
  /**
   * The dataset the session's runs train on, taken when the session starts: loading other data while a comparison
   * or a sweep is queued must not put its later runs on that data (the page lets the person look at other data).
   */
  let sessionDataset: LoadedDataset | null = null;
  /** Releases the live run's tab lock (other tabs then know the run is no longer trained anywhere). */
  let releaseRun: (() => void) | null = null;
  /** The prompt view the worker was last asked to score, and the request's key (its answers carry it). */
  const NOTHING_INSPECTED = { view: null, layer: -1, head: -1, key: '' };
  let inspected: { view: PromptView | null; layer: number; head: number; key: string } = NOTHING_INSPECTED;
  let inspectRequests = 0;

  const ensureTrainer = (): TrainerPort => {
    if (!trainer) {
      inspected = NOTHING_INSPECTED; // a new worker has been asked nothing
      trainer = deps.createTrainer();
      trainer.listen(onEvent);
    }
    return trainer;
  };

  const setSession = (patch: Partial<SessionSlice['session']>) => set((s) => ({ session: { ...s.session, ...patch } }));
  const currentRun = () => get().session.runId;

  const flushSteps = () => {
    if (flushTimer !== null) clearTimeout(flushTimer);
    flushTimer = null;
    const id = currentRun();
    if (!id || pendingSteps.length === 0) return;
    const points = pendingSteps;
    pendingSteps = [];
    const run = updateRun(set, get, id, (r) => ({ ...r, steps: capCurve([...r.steps, ...points]) }));
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

  const beginRun = (config: TrainConfig, note = '') => {
    const dataset = sessionDataset;
    if (!dataset) return;
    const run: RunRecord = {
      id: deps.newId(),
      name: `#${get().runs.length + 1} ${runLabel(config)}${note}`,
      createdAt: deps.now(),
      config,
      dataset: {
        name: dataset.data.name,
        preset: dataset.source.kind === 'builtin' ? dataset.source.preset : null,
        users: dataset.stats.users,
        interactions: dataset.stats.interactions,
        prep: dataset.prep,
      },
      status: 'running',
      steps: [],
      evals: [],
      result: null,
      error: null,
      adapter: null,
      labVersion: LAB_VERSION,
      hasModel: false,
      ...(sweepId ? { sweepId } : {}),
    };
    runVocab = { vocab: dataset.data.vocab.tokens, datasetName: dataset.data.name };
    pendingSteps = [];
    lastSave = 0; // the first steps are saved at once, so even a run reloaded early keeps its curve
    set((s) => ({
      runs: [...s.runs, run],
      compareIds: comparing ? [...s.compareIds, run.id] : s.compareIds,
      session: { ...s.session, state: 'running', runId: run.id, status: null },
      startProblem: null,
      pausedWhileHidden: false,
      inspection: null,
      // A layer or head the new run's model lacks would be read from nothing.
      inspectHead: { ...s.inspectHead, layer: Math.min(s.inspectHead.layer, config.model.nLayers - 1), head: Math.min(s.inspectHead.head, config.model.nHeads - 1) },
    }));
    releaseRun?.();
    releaseRun = deps.tabs.holdRun(run.id);
    void saveRun(set, deps, run);
    ensureTrainer().post({ type: 'start', config, dataset: datasetToMessage(dataset.data) });
    get().syncInspection();
  };

  /** Starts a session's first run on the data loaded now; its queued runs keep that data (endRun). */
  const beginSession = (config: TrainConfig, note = '') => {
    sessionDataset = get().dataset;
    beginRun(config, note);
  };

  /** Closes the current run and starts the next queued one, unless the person stopped the session. */
  const endRun = (change: (run: RunRecord) => RunRecord, startNext: boolean) => {
    flushSteps();
    updateAndSave(change);
    set((s) => ({ inspection: s.inspection && s.inspection.runId === currentRun() ? { ...s.inspection, final: true } : s.inspection }));
    releaseRun?.();
    releaseRun = null;
    set({ pausedWhileHidden: false });
    const [next, ...rest] = get().session.queue;
    if (startNext && next) {
      setSession({ queue: rest });
      beginRun(next);
    } else {
      comparing = false;
      sweepId = null;
      sessionDataset = null;
      setSession({ state: 'idle', runId: null, status: null, queue: [] });
    }
  };

  /** Ends the evaluation in progress: its metrics (or its failure, in place) go on the evaluated run. */
  const endEvaluation = (change: (run: RunRecord) => RunRecord) => {
    const pending = get().evaluation;
    set({ evaluation: null });
    setSession({ status: null });
    if (!pending) return;
    const run = updateRun(set, get, pending.runId, change);
    if (run) void saveRun(set, deps, run);
  };

  const onEvent = (event: TrainerEvent) => {
    if (event.type !== 'step') flushSteps();
    switch (event.type) {
      case 'status':
        setSession({ status: event });
        break;
      case 'evaluated': {
        const pending = get().evaluation;
        if (!pending) break;
        const { datasetName, datasetPreset } = pending;
        endEvaluation((r) => ({
          ...r,
          error: null,
          evaluations: [...(r.evaluations ?? []), { datasetName, datasetPreset, at: deps.now(), valid: event.valid, test: event.test }],
        }));
        break;
      }
      case 'inspection': {
        if (event.key !== inspected.key || !inspected.view) break;
        const { type: _, key: _key, ...seen } = event;
        set({ inspection: { ...seen, view: inspected.view, runId: currentRun(), final: false } });
        break;
      }
      case 'device':
        if (get().webgpu.state !== 'available' || get().webgpu.message !== event.adapter) {
          set((s) => ({ webgpu: { ...s.webgpu, state: 'available', message: event.adapter } }));
        }
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
        updateAndSave((r) => ({
          ...r,
          evals: [...r.evals, { step: event.step, split: event.split, elapsedMs: event.elapsedMs, sample: event.sample, ...event.metrics }],
        }));
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
        if (event.kind === 'no-webgpu') set((s) => ({ webgpu: { ...s.webgpu, state: 'unavailable', message: event.message } }));
        // The worker answers commands in order and 'export-model' at once, so a pending export's reply comes first.
        if (currentRun()) {
          endRun((r) => ({ ...r, status: 'failed', error: { kind: event.kind, message: event.message } }), false);
        } else if (modelFor) {
          const ended = modelFor.runId;
          modelFor = null; // the worker had no weights to send: the run stays without a saved model
          // A device lost during the final evaluation is reported after the run's 'done': its metrics are not to be
          // trusted (a lost device reads back zeros), so the run failed.
          if (event.kind === 'device-lost' || event.kind === 'gpu-error') {
            const run = updateRun(set, get, ended, (r) => ({ ...r, status: 'failed', error: { kind: event.kind, message: event.message } }));
            if (run) void saveRun(set, deps, run);
          }
        } else if (get().evaluation) {
          endEvaluation((r) => ({ ...r, error: { kind: event.kind, message: `Evaluation failed: ${event.message}` } }));
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
            const run = updateRun(set, get, target.runId, (r) => ({ ...r, hasModel: true, modelVocab: vocabFingerprint(target.vocab) }));
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
    if (s.evaluation) return 'a model is being evaluated';
    if (!s.dataset) return 'no dataset is loaded yet';
    if (s.check.errors.length) return `the configuration has problems: ${s.check.errors.join('; ')}`;
    if (s.webgpu.state === 'unavailable') return s.webgpu.message;
    return null;
  };

  return {
    webgpu: { state: 'checking', message: 'Looking for a WebGPU adapter', limits: null },
    session: { state: 'idle', runId: null, status: null, queue: [] },
    startProblem: null,
    evaluation: null,
    inspection: null,
    inspectHead: { layer: 0, head: 0, show: true },
    setInspectHead: (change) => set((s) => ({ inspectHead: { ...s.inspectHead, ...change } })),
    syncInspection: () => {
      if (!trainer) return;
      const s = get();
      // Token ids mean the run's vocabulary only on the run's data.
      const view = s.session.state !== 'idle' && s.dataset === sessionDataset ? s.promptView : null;
      const { layer, head } = s.inspectHead;
      if (view === inspected.view && layer === inspected.layer && head === inspected.head) return;
      inspected = { view, layer, head, key: String(++inspectRequests) };
      trainer.post({ type: 'inspect', request: view ? { key: inspected.key, prompt: view.prompt, layer, head } : null });
    },
    pauseWhenHidden: false,
    pausedWhileHidden: false,
    checkWebGpu: async () => {
      const support = await deps.detectWebGpu();
      const limits = support.limits ?? null;
      // A worker's 'device' event is the stronger evidence; a late detection result must not overwrite it.
      if (get().webgpu.state === 'checking') {
        set({ webgpu: { state: support.available ? 'available' : 'unavailable', message: support.message, limits } });
      } else if (limits) {
        set((s) => ({ webgpu: { ...s.webgpu, limits } }));
      }
    },
    startTraining: () => {
      const problem = blocker();
      if (problem) {
        set({ startProblem: `Training cannot start: ${problem}.` });
        return;
      }
      comparing = false;
      sweepId = null;
      beginSession(structuredClone(get().config));
    },
    restartRun: (id) => {
      const run = get().runs.find((r) => r.id === id);
      if (!run) return;
      const problem = blocker();
      const held = get().dataset;
      const loaded = held?.data.name;
      if (problem) {
        set({ startProblem: `The run cannot be restarted: ${problem}.` });
        return;
      }
      if (loaded !== run.dataset.name) {
        set({ startProblem: `The run cannot be restarted: it trained on ${run.dataset.name}, but ${loaded} is loaded; load that dataset first.` });
        return;
      }
      if (held && !samePrep(held.prep, run.dataset.prep ?? DEFAULT_PREP)) {
        const wanted = prepText(run.dataset.prep ?? DEFAULT_PREP);
        set({ startProblem: `The run cannot be restarted: it trained on data prepared with ${wanted}, but the loaded data has ${prepText(held.prep)}; choose those rules first.` });
        return;
      }
      comparing = false;
      sweepId = null;
      // A failed worker was ended with its run, so this start opens a new worker and asks for a new device.
      beginSession(structuredClone(run.config), ' (restarted)');
    },
    evaluateRun: async (id) => {
      const s = get();
      const run = s.runs.find((r) => r.id === id);
      if (!run || !s.dataset || !evaluationOption(s, run).enabled) return;
      const dataset = s.dataset.data;
      const datasetPreset = s.dataset.source.kind === 'builtin' ? s.dataset.source.preset : null;
      set({ evaluation: { runId: id, datasetName: dataset.name, datasetPreset } });
      const fail = (message: string) => endEvaluation((r) => ({ ...r, error: { kind: 'invalid-config', message } }));
      let model;
      try {
        model = await deps.storage.loadModel(id);
      } catch (error) {
        fail(`The stored model could not be read (${(error as Error)?.message ?? error}).`);
        return;
      }
      if (!model) {
        fail('This run has no stored model to evaluate.');
        return;
      }
      // The fingerprint said yes; the full list is the proof (token ids must mean the same words).
      if (!sameVocab(model.vocab, dataset.vocab.tokens)) {
        fail(`The model's vocabulary is not that of ${dataset.name}: the token ids would mean different words.`);
        return;
      }
      if (get().session.state !== 'idle') {
        fail('A run started meanwhile; evaluate when it ends.');
        return;
      }
      ensureTrainer().post({ type: 'evaluate', config: model.config, dataset: datasetToMessage(dataset), params: model.params });
    },
    simulateDeviceLoss: () => {
      if (get().session.state === 'idle') return;
      trainer?.post({ type: 'simulate-device-loss' });
    },
    setPauseWhenHidden: (on) => {
      set({ pauseWhenHidden: on });
      if (!on && get().pausedWhileHidden) {
        set({ pausedWhileHidden: false });
        get().resumeTraining();
      }
    },
    pageVisibilityChanged: (hidden) => {
      const s = get();
      if (hidden) {
        if (!s.pauseWhenHidden || s.session.state !== 'running') return;
        s.pauseTraining();
        set({ pausedWhileHidden: true });
      } else if (s.pausedWhileHidden) {
        // Only a pause the page made is undone: a pause the person chose stays.
        set({ pausedWhileHidden: false });
        s.resumeTraining();
      }
    },
    startComparison: () => {
      const problem = blocker();
      if (problem) {
        set({ startProblem: `The comparison cannot start: ${problem}.` });
        return;
      }
      // Whole epochs for both (up to early stopping), so both train on every training target: a step limit gives equal
      // work only roughly (a DTI step may take more targets than asked, MIN_PROMPTS_PER_STEP). The training panel says so
      // next to the button.
      const config: TrainConfig = { ...structuredClone(get().config), maxSteps: 0 };
      const dti: TrainConfig = {
        ...config,
        paradigm: 'dti',
        k: effectiveK(config) > 1 ? config.k : DEFAULT_TRAIN_CONFIG.k,
      };
      const sw: TrainConfig = { ...config, paradigm: 'sw' };
      comparing = true;
      sweepId = null;
      set({ compareIds: [], baselineId: null });
      setSession({ queue: [dti] });
      beginSession(sw);
    },
    startSweep: (plan) => {
      const problem = blocker();
      if (problem) {
        set({ startProblem: `The sweep cannot start: ${problem}.` });
        return;
      }
      // Whole epochs up to early stopping, as in the comparison: no step limit cuts a run short of its epochs.
      const configs = sweepConfigs({ ...structuredClone(get().config), maxSteps: 0 }, plan);
      if (configs.length === 0) {
        set({ startProblem: 'The sweep has no runs: pick at least one k, one isolation level, one position encoding and one seed.' });
        return;
      }
      // Every run is checked against the data and the GPU's limits now, not after an hour of the others.
      const { dataset, webgpu } = get();
      const invalid = configs.map((c) => ({ c, errors: checkConfig(c, dataset?.data ?? null, webgpu.limits).errors })).find((x) => x.errors.length > 0);
      if (invalid) {
        const { c, errors } = invalid;
        set({ startProblem: `The sweep cannot start: its run with k = ${effectiveK(c)}, ${c.isolation}, ${c.model.positionEncoding} has problems: ${errors.join('; ')}.` });
        return;
      }
      comparing = false;
      sweepId = deps.newId();
      const [first, ...rest] = configs;
      setSession({ queue: rest });
      beginSession(first);
    },
    pauseTraining: () => {
      if (get().session.state !== 'running') return;
      setSession({ state: 'pausing' });
      trainer?.post({ type: 'pause' });
    },
    resumeTraining: () => {
      if (get().session.state !== 'paused' && get().session.state !== 'pausing') return;
      set({ pausedWhileHidden: false });
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
