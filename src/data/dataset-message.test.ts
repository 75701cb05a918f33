import { describe, expect, it } from 'vitest';
import { randomDataset } from '../prompt/test-fixtures';
import { Rng } from '../util/rng';
import { USERS_PER_SLICE, datasetFromMessage, datasetFromMessageInSlices, datasetToMessage, messageBuffers } from './dataset-message';
import { loadBuiltin } from './index';

describe('a dataset as a message between threads', () => {
  it('rebuilds every field of a dataset whose arrays lie in separate buffers (copied end to end)', () => {
    const dataset = randomDataset(new Rng(3), { items: 20, users: 30, maxHistory: 12, maxItemTokens: 4 });
    dataset.users[4].userId = 'user with a long, odd id: ∑';
    expect(dataset.users.some((u) => u.items.length === 0)).toBe(true);
    const message = datasetToMessage(dataset);
    expect(message.historyStarts).toHaveLength(31);
    expect(datasetFromMessage(structuredClone(message))).toEqual(dataset);
  });

  it("uses the data layer's flat buffers as they are, and a dataset rebuilt from a message posts that message again", () => {
    const { dataset } = loadBuiltin('small', { seed: 4 });
    const message = datasetToMessage(dataset);
    expect(message.items.buffer).toBe(dataset.users[0].items.buffer);
    expect(message.itemTokenIds.buffer).toBe(dataset.itemTokens[0].buffer);
    expect(messageBuffers(message)).toHaveLength(8);
    const rebuilt = datasetFromMessage(message);
    expect(datasetToMessage(rebuilt).userIdText).toBe(message.userIdText);
    expect(datasetToMessage(rebuilt).items).toBe(message.items);
    // A dataset derived from it (another user list) is flattened afresh.
    const firstTwo = { ...rebuilt, users: rebuilt.users.slice(0, 2) };
    expect(datasetFromMessage(datasetToMessage(firstTwo)).users).toEqual(rebuilt.users.slice(0, 2));
  });

  it('rebuilds in slices, pausing between them, to the same dataset', async () => {
    const dataset = randomDataset(new Rng(5), { items: 5, users: 2 * USERS_PER_SLICE + 7, maxHistory: 3, maxItemTokens: 2 });
    let pauses = 0;
    const rebuilt = await datasetFromMessageInSlices(datasetToMessage(dataset), async () => {
      pauses++;
    });
    expect(pauses).toBe(2);
    expect(rebuilt).toEqual(dataset);
  });

  it('stops rebuilding when a pause rejects (the load was cancelled)', async () => {
    const dataset = randomDataset(new Rng(6), { items: 5, users: USERS_PER_SLICE + 1, maxHistory: 3, maxItemTokens: 2 });
    const cancelled = new Error('cancelled');
    await expect(datasetFromMessageInSlices(datasetToMessage(dataset), () => Promise.reject(cancelled))).rejects.toBe(cancelled);
  });
});
