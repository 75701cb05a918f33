import { PRESETS_ORDER, type Preset } from '../data';
import { readSafetensors, writeSafetensors } from '../model/safetensors';
import { upgradeConfig } from '../train/config';
import { shardProvenance } from './data-prep';
import { exportRuns } from './export';
import { importOutcome, readRunsFile } from './runs-import';
import type { RunRecord, RunResult } from './run-types';
import type { TabMessage } from './tabs';
import type { GetLab, LabDeps, RunsSlice, SetLab, SliceCreator } from './types';
import { cloneConfig } from './url-hash';
import { savedVocab, vocabFingerprint } from './vocab';

/** How often runs shown as live in another tab are checked (that tab may have been closed or reloaded meanwhile). */
export const FOREIGN_RUN_CHECK_MS = 4000;

/**
 * Saves a run, reporting (not throwing) a storage failure: the run stays in memory either way. Other tabs are told,
 * so their lists follow (every run is its own record: tabs never write each other's runs).
 */
export async function saveRun(set: SetLab, deps: LabDeps, run: RunRecord): Promise<void> {
  try {
    await deps.storage.saveRun(run);
  } catch (error) {
    set({ storageProblem: `Runs cannot be saved in this browser (${(error as Error)?.message ?? error}); they last until the page closes.` });
    return;
  }
  deps.tabs.publish({ type: 'run-saved', run });
}

async function liveElsewhere(deps: LabDeps): Promise<Set<string>> {
  try {
    return await deps.tabs.liveRuns();
  } catch {
    return new Set();
  }
}

/** Replaces one run in the list (runs are immutable records). */
export function updateRun(set: SetLab, get: GetLab, id: string, change: (run: RunRecord) => RunRecord): RunRecord | null {
  const run = get().runs.find((r) => r.id === id);
  if (!run) return null;
  const next = change(run);
  set((s) => ({ runs: s.runs.map((r) => (r.id === id ? next : r)) }));
  return next;
}

/** A run saved as running that nothing trains any more was cut short: it shows as such, never as live. */
const interrupted = (run: RunRecord): RunRecord => ({ ...run, status: 'interrupted' });

const inCreationOrder = (runs: RunRecord[]) => runs.sort((a, b) => a.createdAt - b.createdAt);

const fileSafe = (name: string) => name.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'model';

export const createRunsSlice: SliceCreator<RunsSlice> = (set, get, deps) => {
  let foreignCheck: ReturnType<typeof setTimeout> | null = null;

  /** Runs another tab saved as running (this tab is not training them). */
  const foreignRunning = () => get().runs.filter((r) => r.status === 'running' && r.id !== get().session.runId);

  /** A run that was live in another tab whose lock is gone was cut short there (closed or reloaded): say so. */
  const checkForeignRuns = async () => {
    foreignCheck = null;
    if (foreignRunning().length === 0) return;
    const live = await liveElsewhere(deps);
    for (const run of foreignRunning()) {
      if (live.has(run.id)) continue;
      const cutShort = updateRun(set, get, run.id, interrupted);
      if (cutShort) await saveRun(set, deps, cutShort);
    }
    scheduleForeignCheck();
  };
  const scheduleForeignCheck = () => {
    if (foreignCheck === null && foreignRunning().length > 0) foreignCheck = setTimeout(() => void checkForeignRuns(), FOREIGN_RUN_CHECK_MS);
  };

  const onTabMessage = (message: TabMessage) => {
    if (message.type === 'run-deleted') {
      set((s) => ({ runs: s.runs.filter((r) => r.id !== message.id), compareIds: s.compareIds.filter((c) => c !== message.id) }));
      return;
    }
    const { run } = message;
    if (run.id === get().session.runId) return; // this tab's live run: its own record is the newer one
    set((s) => {
      const known = s.runs.some((r) => r.id === run.id);
      const runs = known ? s.runs.map((r) => (r.id === run.id ? run : r)) : inCreationOrder([...s.runs, run]);
      return { runs };
    });
    scheduleForeignCheck();
  };
  deps.tabs.subscribe(onTabMessage);

  return {
    runs: [],
    runsLoaded: false,
    storageProblem: null,
    compareIds: [],
    baselineId: null,
    runsMessage: null,
    shardExport: null,
    exportForPyTorch: async () => {
      const { dataset, config, check, shardExport } = get();
      if (shardExport) return null;
      if (!dataset) {
        set({ runsMessage: { kind: 'error', text: 'Load a dataset first: the export holds its prompts under this configuration.' } });
        return null;
      }
      if (check.errors.length) {
        set({ runsMessage: { kind: 'error', text: `This configuration cannot be exported: ${check.errors.join('; ')}` } });
        return null;
      }
      set({ shardExport: { fraction: 0 }, runsMessage: null });
      try {
        const archive = await deps.exportShards(dataset.data, config, shardProvenance(dataset.source, dataset.prep, dataset.stats), (fraction) =>
          set({ shardExport: { fraction } }),
        );
        set({
          runsMessage: {
            kind: 'info',
            text: `Exported ${archive.filename} (${(archive.bytes.length / 2 ** 20).toFixed(1)} MB): unpack it with tar -xf and train it with python/train.py (README: When you outgrow the browser).`,
          },
        });
        return archive;
      } catch (error) {
        set({ runsMessage: { kind: 'error', text: `The export to PyTorch failed: ${(error as Error)?.message ?? error}` } });
        return null;
      } finally {
        set({ shardExport: null });
      }
    },
    loadRuns: async () => {
      let stored: RunRecord[];
      try {
        stored = await deps.storage.loadRuns();
      } catch (error) {
        set({ runsLoaded: true, storageProblem: `Saved runs could not be read (${(error as Error)?.message ?? error}).` });
        return;
      }
      // A run still marked running was cut short by a reload or a closed tab, unless another tab holds it live now:
      // say so rather than show it as live (and never restart it on its own).
      const liveNow = stored.some((r) => r.status === 'running') ? await liveElsewhere(deps) : new Set<string>();
      const cutShort = stored.filter((r) => r.status === 'running' && !liveNow.has(r.id)).map(interrupted);
      const byId = new Map(cutShort.map((r) => [r.id, r]));
      const runs = stored.map((r) => byId.get(r.id) ?? r);
      const live = get().runs.filter((r) => !runs.some((s) => s.id === r.id));
      // The selection of the last visit, among the runs that still exist (and what was ticked since, if anything).
      const saved = deps.selection.load();
      const exists = (id: string) => runs.some((r) => r.id === id);
      const compareIds = [...new Set([...(saved?.compareIds.filter(exists) ?? []), ...get().compareIds])];
      const baselineId = get().baselineId ?? (saved?.baselineId && exists(saved.baselineId) ? saved.baselineId : null);
      set({ runs: [...runs, ...live], runsLoaded: true, compareIds, baselineId });
      for (const run of cutShort) await saveRun(set, deps, run);
      scheduleForeignCheck();
      // Runs saved before models carried a vocabulary fingerprint: read it once from the stored model.
      for (const run of runs.filter((r) => r.hasModel && r.modelVocab === undefined)) {
        const model = await deps.storage.loadModel(run.id).catch(() => undefined);
        if (!model) continue;
        const modelVocab = model.vocab.length === model.vocabSize ? vocabFingerprint(model.vocab) : null;
        const updated = updateRun(set, get, run.id, (r) => ({ ...r, modelVocab }));
        if (updated) await saveRun(set, deps, updated);
      }
    },
    deleteRun: async (id) => {
      // The live run is stopped first, then deleted; a run live in another tab is that tab's to stop.
      if (get().session.runId === id || get().runs.find((r) => r.id === id)?.status === 'running') return;
      set((s) => ({
        runs: s.runs.filter((r) => r.id !== id),
        compareIds: s.compareIds.filter((c) => c !== id),
        baselineId: s.baselineId === id ? null : s.baselineId,
      }));
      try {
        await deps.storage.deleteRun(id);
      } catch (error) {
        set({ storageProblem: `The run could not be deleted from storage (${(error as Error)?.message ?? error}).` });
        return;
      }
      deps.tabs.publish({ type: 'run-deleted', id });
    },
    renameRun: async (id, name) => {
      const run = updateRun(set, get, id, (r) => ({ ...r, name: name.trim() || r.name }));
      if (run) await saveRun(set, deps, run);
    },
    toggleCompare: (id) =>
      set((s) => ({ compareIds: s.compareIds.includes(id) ? s.compareIds.filter((c) => c !== id) : [...s.compareIds, id] })),
    setBaseline: (id) => set({ baselineId: id }),
    exportRuns: (format, ids) => {
      const runs = ids ? get().runs.filter((r) => ids.includes(r.id)) : get().runs;
      return exportRuns(runs, format);
    },
    exportModel: async (id) => {
      const run = get().runs.find((r) => r.id === id);
      const model = run?.hasModel ? await deps.storage.loadModel(id) : undefined;
      if (!run || !model) {
        set({ runsMessage: { kind: 'error', text: 'This run has no saved model (only finished runs keep their weights).' } });
        return null;
      }
      const bytes = writeSafetensors({
        config: model.config,
        params: model.params,
        vocabSize: model.vocabSize,
        maxSeqLen: model.maxSeqLen,
        extra: {
          run_id: run.id,
          run_name: run.name,
          dataset: run.dataset.name,
          dataset_preset: run.dataset.preset ?? '',
          vocab: JSON.stringify(model.vocab),
          // The summary without its per-target predictions (megabytes on large data; they pair runs of this lab only).
          ...(run.result ? { result: JSON.stringify({ ...run.result, testPredictions: undefined, testLabels: undefined }) } : {}),
        },
      });
      set({ runsMessage: null });
      return { filename: `${fileSafe(run.name)}.safetensors`, bytes };
    },
    importModel: async (name, bytes) => {
      let model;
      try {
        const read = readSafetensors(bytes);
        model = { ...read, config: upgradeConfig(read.config) };
      } catch (error) {
        set({ runsMessage: { kind: 'error', text: `${name}: ${(error as Error).message}` } });
        return;
      }
      const extra = model.extra ?? {};
      const parse = <T>(text: string | undefined, fallback: T): T => {
        try {
          return text ? (JSON.parse(text) as T) : fallback;
        } catch {
          return fallback;
        }
      };
      const preset = PRESETS_ORDER.includes(extra.dataset_preset as Preset) ? (extra.dataset_preset as Preset) : null;
      const tokens = savedVocab(extra) ?? [];
      const run: RunRecord = {
        id: deps.newId(),
        name: `${extra.run_name ?? name} (imported)`,
        createdAt: deps.now(),
        config: model.config,
        dataset: { name: extra.dataset ?? 'unknown', preset, users: 0, interactions: 0 },
        status: 'imported',
        steps: [],
        evals: [],
        result: parse<RunResult | null>(extra.result, null),
        error: null,
        adapter: null,
        hasModel: true,
        // A vocabulary of another size than the model's embedding table cannot be the one it was trained with.
        modelVocab: tokens.length === model.vocabSize ? vocabFingerprint(tokens) : null,
        evaluations: [],
      };
      // The weights first: the run appears with its model ready to export or evaluate.
      let hasModel = true;
      try {
        await deps.storage.saveModel({
          runId: run.id,
          config: model.config,
          params: model.params,
          vocabSize: model.vocabSize,
          maxSeqLen: model.maxSeqLen,
          vocab: tokens,
          datasetName: run.dataset.name,
        });
      } catch (error) {
        hasModel = false;
        set({ storageProblem: `The imported model could not be saved (${(error as Error)?.message ?? error}).` });
      }
      const saved = { ...run, hasModel };
      set((s) => ({ runs: [...s.runs, saved], runsMessage: { kind: 'info', text: `Imported ${name} as "${saved.name}".` } }));
      await saveRun(set, deps, saved);
    },
    importRuns: async (file) => {
      // Before the saved runs are listed, a run of the file could overwrite one of them in storage.
      if (!get().runsLoaded) {
        set({ runsMessage: { kind: 'error', text: `${file.name} was not imported: the saved runs are still loading. Try again once they are listed.` } });
        return;
      }
      let text: string;
      try {
        text = await file.text();
      } catch (error) {
        set({ runsMessage: { kind: 'error', text: `${file.name} could not be read (${(error as Error)?.message ?? error}).` } });
        return;
      }
      const reading = readRunsFile(file.name, text);
      if ('problem' in reading) {
        set({ runsMessage: { kind: 'error', text: reading.problem } });
        return;
      }
      const known = new Set(get().runs.map((r) => r.id));
      const fresh = reading.runs.filter((r) => !known.has(r.id));
      const cutShort = fresh.filter((r) => r.status === 'running').length;
      // The file carries no weights, and a run that was training when exported is trained by no tab here.
      const added = fresh.map((r) => ({ ...(r.status === 'running' ? interrupted(r) : r), hasModel: false }));
      set((s) => ({
        runs: inCreationOrder([...s.runs, ...added]),
        runsMessage: { kind: 'info', text: importOutcome(file.name, reading.runs.length, added.length, cutShort) },
      }));
      for (const run of added) await saveRun(set, deps, run);
    },
    applyRunConfig: (id) => {
      const run = get().runs.find((r) => r.id === id);
      if (!run) return;
      set({ config: cloneConfig(run.config) });
      const preset = run.dataset.preset as Preset | null;
      if (preset && preset !== get().preset) void get().loadBuiltin(preset);
    },
  };
};
