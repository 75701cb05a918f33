/**
 * The store as the page uses it: the real ports (data worker, training worker, IndexedDB, navigator.gpu), the React
 * hooks components read it with, and the URL-hash binding.
 */
import { createContext, createElement, type ReactNode, useContext } from 'react';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { TrainerEvent } from '../train/protocol';
import { workerDataPort } from './data-port';
import { workerShardExporter } from './shard-port';
import { type LabStore, createLabStore } from './lab-store';
import { indexedDbStorage, memoryStorage } from './persist';
import { browserTabSync } from './tabs';
import type { CompareSelection, LabState, SelectionStore, TrainerPort, WebGpuSupport } from './types';
import { encodeHash } from './url-hash';

export type { LabStore } from './lab-store';
export type * from './types';

function workerTrainer(): TrainerPort {
  const worker = new Worker(new URL('../train/worker.ts', import.meta.url), { type: 'module' });
  let handler: (event: TrainerEvent) => void = () => {};
  worker.onmessage = (message: MessageEvent<TrainerEvent>) => handler(message.data);
  worker.onerror = (event) =>
    handler({ type: 'error', kind: 'internal', message: `The training worker failed to run: ${event.message || 'no details'}` });
  return {
    post: (command) => worker.postMessage(command),
    listen: (listener) => {
      handler = listener;
    },
    terminate: () => worker.terminate(),
  };
}

export const ENABLE_WEBGPU_HELP =
  'Use a recent Chrome or Edge (WebGPU is on by default on Windows, macOS and ChromeOS), Safari 26+, or Firefox 141+ on Windows. ' +
  'On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu (and Vulkan); check chrome://gpu for "WebGPU: Hardware accelerated".';

async function detectWebGpu(): Promise<WebGpuSupport> {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return { available: false, message: 'This browser does not offer WebGPU (navigator.gpu is missing).' };
  try {
    // The same request as the worker's (src/gpu/device.ts), whose device asks for this adapter's buffer limits.
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { available: false, message: 'WebGPU is present but no GPU adapter was found (the GPU may be blocklisted or disabled).' };
    const info = adapter.info;
    return {
      available: true,
      message: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'WebGPU adapter',
      limits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
    };
  } catch (error) {
    return { available: false, message: `Asking for a WebGPU adapter failed: ${(error as Error)?.message ?? error}` };
  }
}

const SELECTION_KEY = 'dti-lab:compare-selection';

/** The comparison's selection in localStorage; where that is unavailable (private modes, tests) it is not kept. */
function localStorageSelection(): SelectionStore {
  return {
    load: () => {
      try {
        const parsed = JSON.parse(globalThis.localStorage?.getItem(SELECTION_KEY) ?? 'null') as CompareSelection | null;
        const ids = parsed?.compareIds;
        return Array.isArray(ids) && ids.every((id) => typeof id === 'string') ? { compareIds: ids, baselineId: typeof parsed?.baselineId === 'string' ? parsed.baselineId : null } : null;
      } catch {
        return null; // unreadable or unavailable: start with nothing ticked
      }
    },
    save: (selection) => {
      try {
        globalThis.localStorage?.setItem(SELECTION_KEY, JSON.stringify(selection));
      } catch {
        // Full or forbidden storage: the selection is simply not kept.
      }
    },
  };
}

function newId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function createAppStore(): LabStore {
  return createLabStore({
    data: workerDataPort,
    storage: globalThis.indexedDB ? indexedDbStorage(globalThis.indexedDB) : memoryStorage(),
    selection: localStorageSelection(),
    tabs: browserTabSync(),
    createTrainer: workerTrainer,
    exportShards: workerShardExporter,
    detectWebGpu,
    now: () => Date.now(),
    newId,
  });
}

/** Keeps the URL hash equal to the configuration, and applies a hash the person pastes or navigates to. */
export function bindUrlHash(store: LabStore, win: Window): () => void {
  const write = () => {
    const { config, preset, prep, dataset, datasetChecksum } = store.getState();
    const upload = dataset?.source.kind === 'upload' ? { files: dataset.source.files, checksum: datasetChecksum ?? '' } : null;
    const hash = encodeHash({ config, preset, prep, upload });
    // replaceState: editing a field must not add a history entry per keystroke (and fires no hashchange).
    if (win.location.hash.slice(1) !== hash) win.history.replaceState(null, '', `#${hash}`);
  };
  const unsubscribe = store.subscribe((s, prev) => {
    if (s.config !== prev.config || s.preset !== prev.preset || s.prep !== prev.prep || s.dataset !== prev.dataset || s.datasetChecksum !== prev.datasetChecksum) write();
  });
  const onHashChange = () => store.getState().applyHash(win.location.hash);
  win.addEventListener('hashchange', onHashChange);
  write();
  return () => {
    unsubscribe();
    win.removeEventListener('hashchange', onHashChange);
  };
}

/** Reports the page's visibility to the store (which pauses a run while hidden only when the person chose so). */
export function bindPageVisibility(store: LabStore, doc: Document): () => void {
  const onChange = () => store.getState().pageVisibilityChanged(doc.visibilityState === 'hidden');
  doc.addEventListener('visibilitychange', onChange);
  return () => doc.removeEventListener('visibilitychange', onChange);
}

const LabStoreContext = createContext<LabStore | null>(null);

export function LabStoreProvider({ store, children }: { store: LabStore; children: ReactNode }) {
  return createElement(LabStoreContext.Provider, { value: store }, children);
}

/** The store itself, for bindings to the page (events the components do not own). */
export function useLabStore(): LabStore {
  const store = useContext(LabStoreContext);
  if (!store) throw new Error('useLab needs a <LabStoreProvider> above it');
  return store;
}

/** One value of the lab's state (or an action). */
export function useLab<T>(selector: (state: LabState) => T): T {
  return useStore(useLabStore(), selector);
}

/** Several values at once (an object or array, compared field by field so it does not re-render on every change). */
export function useLabShallow<T extends object>(selector: (state: LabState) => T): T {
  return useStore(useLabStore(), useShallow(selector));
}
