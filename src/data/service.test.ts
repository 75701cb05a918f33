import { describe, expect, it } from 'vitest';
import { datasetFromMessage } from './dataset-message';
import { DataError } from './errors';
import { parseFiles } from './index';
import type { DataEvent, DataRequest } from './protocol';
import { handleDataRequest } from './service';
import { csvFiles, file, fixtureWorld } from './test-fixtures';

async function run(request: DataRequest): Promise<{ events: DataEvent[]; transfers: Transferable[][] }> {
  const events: DataEvent[] = [];
  const transfers: Transferable[][] = [];
  await handleDataRequest(request, (event, transfer = []) => {
    events.push(event);
    transfers.push(transfer);
  });
  return { events, transfers };
}

describe('data worker requests', () => {
  it('parse: reports progress, then the dataset with its few typed-array buffers listed once for transfer', async () => {
    const { ratings, movies } = csvFiles(fixtureWorld());
    const { events, transfers } = await run({ type: 'parse', files: [ratings, movies], options: { n: 3, chunkBytes: 256 } });
    const last = events.at(-1)!;
    expect(last.type).toBe('loaded');
    const progress = events.filter((event) => event.type === 'progress');
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.at(-1)).toMatchObject({ progress: { phase: 'preprocess' } });
    if (last.type !== 'loaded') return;
    const buffers = transfers.at(-1)!;
    expect(new Set(buffers).size).toBe(buffers.length);
    // History starts, items, labels, splits, user-id starts, item-token starts, item tokens and item-id tokens: one
    // buffer each, however many users (a buffer per user made postMessage take minutes on millions of users).
    expect(buffers.length).toBe(8);
    // What is listed for transfer is posted without a copy; the page rebuilds exactly the dataset the data layer made.
    const posted = structuredClone(last, { transfer: buffers as ArrayBuffer[] }).result.dataset;
    const direct = (await parseFiles([ratings, movies], { n: 3, chunkBytes: 256 })).dataset;
    expect(direct.users.length).toBeGreaterThan(5);
    expect(datasetFromMessage(posted)).toEqual(direct);
  });

  it('a DataError arrives as its message, file and line, and comes back as the same DataError', async () => {
    const { events } = await run({ type: 'parse', files: [file('empty.csv', '')], options: {} });
    expect(events).toHaveLength(1);
    const [event] = events;
    if (event.type !== 'error') throw new Error(`expected an error, got ${event.type}`);
    expect(event.error).toMatchObject({ file: 'empty.csv', line: null, problem: 'the file is empty (0 bytes)' });
    expect(DataError.fromInfo(event.error).message).toBe(event.error.message);
  });

  it('builtin and preview', async () => {
    const builtin = await run({ type: 'builtin', preset: 'small', options: { seed: 2 } });
    expect(builtin.events.at(-1)).toMatchObject({ type: 'loaded', result: { format: 'builtin', dataset: { name: 'Built-in (small, seed 2)' } } });
    const preview = await run({ type: 'preview', files: [file('notes.txt', 'hello')], options: {} });
    expect(preview.events[0]).toMatchObject({ type: 'preview', previews: [{ name: 'notes.txt', error: { line: 1 } }] });
  });
});
