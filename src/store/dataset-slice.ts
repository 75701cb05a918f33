import type { DataErrorInfo } from '../data';
import type { DataProgress, DatasetSlice, LoadedDataset, SliceCreator } from './types';
import { NO_UPLOAD_CHOICES, type UploadChoices } from './upload-choices';

/** Any rejection as the DataErrorInfo the panel shows (the data port rejects with one; anything else is a bug). */
function asDataError(error: unknown): DataErrorInfo {
  if (error && typeof error === 'object' && 'problem' in error && 'message' in error) return error as DataErrorInfo;
  const message = error instanceof Error ? error.message : String(error);
  return { message, file: null, line: null, problem: message, expected: 'a file the lab can read' };
}

export const createDatasetSlice: SliceCreator<DatasetSlice> = (set, get, deps) => {
  /** Loads are numbered so that a slow load finishing after a newer one cannot overwrite it. */
  let loadNumber = 0;
  /** Aborts the load in progress, ending its worker: a newer load or Cancel replaces it. */
  let current: AbortController | null = null;
  /** The files and choices of the upload the lab holds (not of a later attempt that failed), to prepare it again. */
  let heldUpload: { files: File[]; choices: UploadChoices } | null = null;

  const startTask = (kind: 'builtin' | 'upload', label: string) => {
    current?.abort();
    current = new AbortController();
    set({ datasetTask: { kind, label, progress: { message: 'Starting', fraction: 0 } }, datasetError: null });
    return { mine: ++loadNumber, signal: current.signal };
  };
  const progressOf = (mine: number) => (progress: DataProgress) => {
    if (mine === loadNumber) set((s) => (s.datasetTask ? { datasetTask: { ...s.datasetTask, progress } } : {}));
  };
  const finish = (mine: number, outcome: { loaded: LoadedDataset; upload?: { files: File[]; choices: UploadChoices } } | { error: unknown }) => {
    if (mine !== loadNumber) return;
    current = null;
    if ('loaded' in outcome) {
      heldUpload = outcome.upload ?? null;
      const { source, prep } = outcome.loaded;
      // The preset (and with it the link) names the built-in data only once that data is what the lab holds.
      const preset = source.kind === 'builtin' ? { preset: source.preset } : {};
      set({ dataset: outcome.loaded, datasetTask: null, viewUser: 0, fieldTarget: null, prep, ...preset });
      return;
    }
    // The previous dataset stays: a bad upload must not cost the person what they had; so do the rules it was
    // prepared with (the controls and the link show the data that is loaded).
    const held = get().dataset;
    set({ datasetTask: null, datasetError: asDataError(outcome.error), ...(held ? { prep: held.prep } : {}) });
  };

  /** Loads the data the lab holds again, with the current preparation: its built-in preset, or its upload. */
  const reloadData = async () => {
    const { dataset } = get();
    if (dataset?.source.kind === 'upload' && heldUpload) await get().uploadFiles(heldUpload.files, heldUpload.choices);
    else if (dataset?.source.kind === 'builtin') await get().loadBuiltin(dataset.source.preset);
    else await get().loadBuiltin(get().preset);
  };

  return {
    dataset: null,
    datasetTask: null,
    datasetError: null,
    uploadPreviews: null,
    uploadedFiles: null,
    uploadedChoices: NO_UPLOAD_CHOICES,
    datasetVocab: null,
    datasetChecksum: null,
    loadBuiltin: async (preset) => {
      const { mine, signal } = startTask('builtin', `Generating the built-in ${preset} dataset`);
      try {
        finish(mine, { loaded: await deps.data.loadBuiltin(preset, progressOf(mine), get().prep, signal) });
      } catch (error) {
        finish(mine, { error });
      }
    },
    uploadFiles: async (files, given = {}) => {
      if (files.length === 0) return;
      const choices: UploadChoices = { ...NO_UPLOAD_CHOICES, ...given };
      // The same files read with other choices keep their previews (and the mapping form its edits) until the new ones come.
      const again = files === get().uploadedFiles;
      const { mine, signal } = startTask('upload', `Reading ${files.map((f) => f.name).join(', ')}`);
      set({ uploadPreviews: again ? get().uploadPreviews : null, uploadedFiles: files, uploadedChoices: choices });
      try {
        const previews = await deps.data.previewFiles(files, choices, signal);
        if (mine !== loadNumber) return;
        set({ uploadPreviews: previews });
        const broken = previews.find((p) => p.error);
        if (broken?.error) {
          finish(mine, { error: broken.error });
          return;
        }
        finish(mine, { loaded: await deps.data.loadFiles(files, progressOf(mine), choices, get().prep, signal), upload: { files, choices } });
      } catch (error) {
        finish(mine, { error });
      }
    },
    setPrep: async (prep) => {
      set({ prep });
      await reloadData();
    },
    dismissDatasetError: () => {
      if (get().datasetError) set({ datasetError: null });
    },
    cancelDatasetLoad: () => {
      if (!get().datasetTask) return;
      current?.abort();
      current = null;
      loadNumber++; // whatever the cancelled load still answers is ignored
      // The data and the rules it was prepared with stay, as after a failed load.
      const held = get().dataset;
      set({ datasetTask: null, ...(held ? { prep: held.prep } : {}) });
    },
  };
};
