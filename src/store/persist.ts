/**
 * Runs and trained models in IndexedDB, so that a reload loses nothing. Raw indexedDB (no wrapper library):
 * one database, two object stores; every call opens its own transaction and resolves when it completes.
 */
import { upgradeConfig } from '../train/config';
import type { RunRecord, StoredModel } from './run-types';

const DB_VERSION = 1;
const RUNS = 'runs';
const MODELS = 'models';

export interface RunStorage {
  loadRuns(): Promise<RunRecord[]>;
  saveRun(run: RunRecord): Promise<void>;
  deleteRun(id: string): Promise<void>;
  saveModel(model: StoredModel): Promise<void>;
  loadModel(runId: string): Promise<StoredModel | undefined>;
}

function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export function indexedDbStorage(factory: IDBFactory, name = 'dti-lab'): RunStorage {
  let opened: Promise<IDBDatabase> | null = null;
  const db = (): Promise<IDBDatabase> => {
    opened ??= new Promise((resolve, reject) => {
      const request = factory.open(name, DB_VERSION);
      request.onupgradeneeded = () => {
        const database = request.result;
        if (!database.objectStoreNames.contains(RUNS)) database.createObjectStore(RUNS, { keyPath: 'id' });
        if (!database.objectStoreNames.contains(MODELS)) database.createObjectStore(MODELS, { keyPath: 'runId' });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version'));
    });
    return opened;
  };
  const write = async (stores: string[], action: (tx: IDBTransaction) => void) => {
    const tx = (await db()).transaction(stores, 'readwrite');
    action(tx);
    await transactionDone(tx);
  };
  return {
    async loadRuns() {
      const tx = (await db()).transaction(RUNS, 'readonly');
      const runs = await requestResult(tx.objectStore(RUNS).getAll() as IDBRequest<RunRecord[]>);
      // Runs and models saved by an earlier version of the lab come back in today's configuration fields.
      return runs.map((run) => ({ ...run, config: upgradeConfig(run.config) })).sort((a, b) => a.createdAt - b.createdAt);
    },
    saveRun: (run) => write([RUNS], (tx) => tx.objectStore(RUNS).put(run)),
    deleteRun: (id) =>
      write([RUNS, MODELS], (tx) => {
        tx.objectStore(RUNS).delete(id);
        tx.objectStore(MODELS).delete(id);
      }),
    saveModel: (model) => write([MODELS], (tx) => tx.objectStore(MODELS).put(model)),
    async loadModel(runId) {
      const tx = (await db()).transaction(MODELS, 'readonly');
      const model = await requestResult(tx.objectStore(MODELS).get(runId) as IDBRequest<StoredModel | undefined>);
      return model && { ...model, config: upgradeConfig(model.config) };
    },
  };
}

/** Storage for when IndexedDB is missing (some private modes): runs live until the page closes. */
export function memoryStorage(): RunStorage {
  const runs = new Map<string, RunRecord>();
  const models = new Map<string, StoredModel>();
  return {
    loadRuns: async () => [...runs.values()].sort((a, b) => a.createdAt - b.createdAt),
    saveRun: async (run) => void runs.set(run.id, structuredClone(run)),
    deleteRun: async (id) => {
      runs.delete(id);
      models.delete(id);
    },
    saveModel: async (model) => void models.set(model.runId, model),
    loadModel: async (runId) => models.get(runId),
  };
}
