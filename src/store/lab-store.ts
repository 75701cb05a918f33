/**
 * The lab store: the slices combined, plus the derived state the views draw (configuration check, the packed prompt
 * with its mask, the explain-mode counts), recomputed whenever one of their inputs changes.
 */
import { datasetChecksum } from '../data/checksum';
import { createStore } from 'zustand/vanilla';
import { withItemText } from '../prompt/item-text';
import { effectiveK } from '../train/config';
import { checkConfig } from './config-check';
import { createConfigSlice, createViewSlice } from './config-slice';
import { createDatasetSlice } from './dataset-slice';
import { EXPLAIN_STEPS, dtiK, explainFacts } from './explain';
import { buildPromptView } from './prompt-view';
import { createRunsSlice } from './runs-slice';
import { createSessionSlice } from './session-slice';
import type { ExplainSlice, LabDeps, LabState, SliceCreator } from './types';
import { cloneConfig } from './url-hash';
import { vocabFingerprint } from './vocab';

const createExplainSlice: SliceCreator<ExplainSlice> = (set, get) => {
  const applyStep = (step: number) => {
    const definition = EXPLAIN_STEPS[step];
    set((s) => ({
      config: definition.apply(cloneConfig(s.config)),
      explain: { ...s.explain, open: true, step },
      fieldTarget: definition.showField ? Number.MAX_SAFE_INTEGER : null, // clamped to the last target by the view
      showPositions: definition.showPositions ?? false,
    }));
  };
  return {
    explain: { open: false, step: 0, savedConfig: null, savedFieldTarget: null },
    explainFacts: null,
    openExplain: () => {
      const s = get();
      if (s.explain.open) return;
      set({ explain: { ...s.explain, savedConfig: cloneConfig(s.config), savedFieldTarget: s.fieldTarget } });
      applyStep(s.explain.step);
    },
    closeExplain: (restore) => {
      const { explain } = get();
      if (!explain.open) return;
      set({
        explain: { ...explain, open: false, savedConfig: null, savedFieldTarget: null },
        ...(restore && explain.savedConfig ? { config: explain.savedConfig, fieldTarget: explain.savedFieldTarget } : {}),
      });
    },
    goToExplainStep: (step) => {
      if (step < 0 || step >= EXPLAIN_STEPS.length) return;
      applyStep(step);
    },
  };
};

export type LabStore = ReturnType<typeof createLabStore>;

export function createLabStore(deps: LabDeps) {
  const store = createStore<LabState>()((set, get) => ({
    ...createDatasetSlice(set, get, deps),
    ...createConfigSlice(set, get, deps),
    ...createViewSlice(set, get, deps),
    ...createRunsSlice(set, get, deps),
    ...createSessionSlice(set, get, deps),
    ...createExplainSlice(set, get, deps),
    init: async (hash) => {
      get().applyHash(hash);
      await Promise.all([get().checkWebGpu(), get().loadRuns()]);
    },
  }));

  // The comparison's selection outlives the page: saved when it changes (restored by loadRuns, among the stored runs).
  store.subscribe((s, prev) => {
    if (s.runsLoaded && (s.compareIds !== prev.compareIds || s.baselineId !== prev.baselineId)) {
      deps.selection.save({ compareIds: s.compareIds, baselineId: s.baselineId });
    }
  });

  // Derived state. Each block compares its inputs with the previous state, so setting the derived value (which calls
  // this listener again) does not recompute it.
  store.subscribe((s, prev) => {
    const data = s.dataset?.data ?? null;
    const dataChanged = s.dataset !== prev.dataset;
    if (dataChanged) {
      store.setState({ datasetVocab: data ? vocabFingerprint(data.vocab.tokens) : null, datasetChecksum: null });
      // An upload is named in the link by its checksum, computed off the critical path (a turn for the page per block).
      const loaded = s.dataset;
      if (loaded?.source.kind === 'upload') {
        void datasetChecksum(loaded.data).then((checksum) => {
          if (store.getState().dataset === loaded) store.setState({ datasetChecksum: checksum });
        });
      }
    }
    if (dataChanged || s.config !== prev.config || s.webgpu.limits !== prev.webgpu.limits) {
      const check = checkConfig(s.config, data, s.webgpu.limits, s.check);
      store.setState({ check });
    }
    const k = effectiveK(s.config);
    const viewInputsChanged =
      dataChanged ||
      s.config.n !== prev.config.n ||
      k !== effectiveK(prev.config) ||
      s.config.isolation !== prev.config.isolation ||
      s.config.itemText !== prev.config.itemText ||
      s.config.model.nLayers !== prev.config.model.nLayers ||
      s.config.model.dModel !== prev.config.model.dModel ||
      s.viewUser !== prev.viewUser ||
      s.fieldTarget !== prev.fieldTarget;
    if (viewInputsChanged) refreshPromptView();
    const now = store.getState();
    if (now.promptView !== prev.promptView || now.inspectHead !== prev.inspectHead || now.session.state !== prev.session.state) now.syncInspection();
    const factsInputsChanged = dataChanged || s.config.n !== prev.config.n || s.config.k !== prev.config.k || s.explain.open !== prev.explain.open;
    if (s.explain.open && factsInputsChanged) {
      store.setState({ explainFacts: data && validCount(s.config.n) && validCount(dtiK(s.config)) ? explainFacts(data, s.config.n, dtiK(s.config)) : null });
    }
  });

  function validCount(value: number): boolean {
    return Number.isInteger(value) && value >= 1;
  }

  function refreshPromptView(): void {
    const s = store.getState();
    const data = s.dataset?.data;
    const k = effectiveK(s.config);
    if (!data) {
      store.setState({ promptView: null, promptViewProblem: null });
      return;
    }
    if (!validCount(s.config.n) || !validCount(k) || !validCount(s.config.model.nLayers)) {
      store.setState({ promptView: null, promptViewProblem: 'n, k and the number of layers must be whole numbers of at least 1.' });
      return;
    }
    const promptView = buildPromptView(withItemText(data, s.config.itemText), {
      n: s.config.n,
      k,
      level: s.config.isolation,
      layers: s.config.model.nLayers,
      dModel: s.config.model.dModel,
      userIndex: s.viewUser,
      fieldTarget: s.fieldTarget,
    });
    store.setState({
      promptView,
      promptViewProblem: promptView ? null : `No user of "${data.name}" has a training target after n = ${s.config.n} interactions.`,
    });
  }

  return store;
}
