/**
 * Several tabs of the lab share one IndexedDB. Each run is its own record (never the whole list), so tabs cannot
 * overwrite each other's runs; what they must not do is take another tab's live run for one cut short by a reload.
 * A tab holds a Web Lock named after its live run while it trains (released by the browser when the tab closes or
 * reloads), and tells the other tabs about every run it saves or deletes over a BroadcastChannel.
 */
import type { RunRecord } from './run-types';

export type TabMessage = { type: 'run-saved'; run: RunRecord } | { type: 'run-deleted'; id: string };

export interface TabSync {
  /** Marks a run as live in this tab until the returned function is called (or the tab goes away). */
  holdRun(runId: string): () => void;
  /** Ids of the runs some tab holds live now. */
  liveRuns(): Promise<Set<string>>;
  /** Tells the other tabs (not this one). */
  publish(message: TabMessage): void;
  subscribe(handler: (message: TabMessage) => void): () => void;
}

const LOCK_PREFIX = 'dti-lab-run:';
const CHANNEL = 'dti-lab-runs';

/** Web Locks and BroadcastChannel where the browser has them; without them a tab simply knows only its own runs. */
export function browserTabSync(scope: { navigator?: Navigator; BroadcastChannel?: typeof BroadcastChannel } = globalThis): TabSync {
  const locks = scope.navigator?.locks;
  const channel = scope.BroadcastChannel ? new scope.BroadcastChannel(CHANNEL) : null;
  return {
    holdRun(runId) {
      if (!locks) return () => {};
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      locks.request(`${LOCK_PREFIX}${runId}`, () => held).catch(() => {});
      return release;
    },
    async liveRuns() {
      if (!locks) return new Set();
      const snapshot = await locks.query();
      const names = (snapshot.held ?? []).map((lock) => lock.name ?? '');
      return new Set(names.filter((name) => name.startsWith(LOCK_PREFIX)).map((name) => name.slice(LOCK_PREFIX.length)));
    },
    publish(message) {
      channel?.postMessage(message);
    },
    subscribe(handler) {
      if (!channel) return () => {};
      const listener = (event: MessageEvent<TabMessage>) => handler(event.data);
      channel.addEventListener('message', listener);
      return () => channel.removeEventListener('message', listener);
    },
  };
}

/** Tabs in one process, for tests: every TabSync made by one hub sees the others' locks and messages. */
export function memoryTabHub() {
  /** Lock name -> the tab holding it. */
  const held = new Map<string, number>();
  const listeners = new Set<{ owner: number; handler: (message: TabMessage) => void }>();
  const owners = new WeakMap<TabSync, number>();
  let tabs = 0;
  return {
    tab(): TabSync {
      const owner = ++tabs;
      const sync: TabSync = {
        holdRun(runId) {
          held.set(runId, owner);
          return () => {
            if (held.get(runId) === owner) held.delete(runId);
          };
        },
        liveRuns: async () => new Set(held.keys()),
        publish(message) {
          for (const listener of listeners) if (listener.owner !== owner) listener.handler(structuredClone(message));
        },
        subscribe(handler) {
          const listener = { owner, handler };
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      };
      owners.set(sync, owner);
      return sync;
    },
    /** A tab closed or reloaded: the browser drops its locks, and it hears no more messages. */
    close(sync: TabSync) {
      const owner = owners.get(sync);
      for (const [name, holder] of held) if (holder === owner) held.delete(name);
      for (const listener of listeners) if (listener.owner === owner) listeners.delete(listener);
    },
  };
}
