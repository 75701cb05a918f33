import { DEFAULT_TRAIN_CONFIG } from '../train/protocol';
import { MODEL_PRESETS, checkConfig } from './config-check';
import { findViewableUser } from './prompt-view';
import type { ConfigSlice, SliceCreator, ViewSlice } from './types';
import { DEFAULT_PREP, samePrep } from './data-prep';
import { DEFAULT_PRESET, cloneConfig, decodeHash } from './url-hash';

export const createConfigSlice: SliceCreator<ConfigSlice> = (set, get) => ({
  config: cloneConfig(DEFAULT_TRAIN_CONFIG),
  preset: DEFAULT_PRESET,
  prep: DEFAULT_PREP,
  linkProblems: [],
  linkedUpload: null,
  check: checkConfig(DEFAULT_TRAIN_CONFIG, null),
  setConfig: (patch) => set((s) => ({ config: { ...s.config, ...patch } })),
  setModel: (patch) => set((s) => ({ config: { ...s.config, model: { ...s.config.model, ...patch } } })),
  applyModelPreset: (name) => {
    const { description: _, ...sizes } = MODEL_PRESETS[name];
    get().setModel(sizes);
  },
  applyHash: (hash) => {
    const { config, preset, prep, upload, problems } = decodeHash(hash, { config: get().config, preset: get().preset, prep: get().prep });
    const previousPreset = get().preset;
    const previousPrep = get().prep;
    // The preset and the rules become state when their data has loaded (dataset-slice's finish), so a load that fails
    // leaves the link naming the data the lab still holds.
    set({ config, linkProblems: problems, linkedUpload: upload ?? null });
    const { dataset, datasetTask } = get();
    // A link to an upload keeps the data that is loaded (the page asks for the files); a link to a preset loads it in
    // place of an upload. Other split or click rules prepare the data that is loaded again.
    const loadPreset = !upload && (preset !== previousPreset || dataset?.source.kind === 'upload');
    const nothingLoaded = !dataset && !datasetTask;
    if (loadPreset || nothingLoaded) {
      set({ prep });
      void get().loadBuiltin(preset);
    } else if (!samePrep(prep, previousPrep)) void get().setPrep(prep);
  },
  dismissLinkProblems: () => set({ linkProblems: [] }),
});

export const createViewSlice: SliceCreator<ViewSlice> = (set, get) => ({
  viewUser: 0,
  fieldTarget: null,
  promptView: null,
  promptViewProblem: null,
  showPositions: false,
  showOtherPrompt: (direction) => {
    const { promptView, dataset, config } = get();
    if (!dataset) return;
    const current = promptView?.userIndex ?? get().viewUser;
    const next = findViewableUser(dataset.data, config.n, current + direction, direction);
    if (next !== null) set({ viewUser: next });
  },
  setFieldTarget: (target) => set({ fieldTarget: target }),
  setShowPositions: (show) => set({ showPositions: show }),
});
