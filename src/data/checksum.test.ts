import { describe, expect, it } from 'vitest';
import { datasetChecksum } from './checksum';
import { loadBuiltin } from './index';

describe('datasetChecksum', () => {
  it('agrees for the same content and changes with one label, in one block or many', async () => {
    const dataset = loadBuiltin('small').dataset;
    for (const block of [64, 2 ** 24]) {
      const same = await datasetChecksum(dataset, block);
      expect(same).toMatch(/^[0-9a-f]{64}$/);
      expect(await datasetChecksum({ ...dataset, users: dataset.users.map((u) => ({ ...u, items: u.items.slice() })) }, block)).toBe(same);
      const changed = dataset.users.map((u, i) => (i === 3 ? { ...u, labels: u.labels.map((y, h) => (h === 0 ? 1 - y : y)) } : u));
      expect(await datasetChecksum({ ...dataset, users: changed }, block)).not.toBe(same);
      const moved = dataset.users.map((u, i) => (i === 3 ? { ...u, userId: `${u.userId}x` } : u));
      expect(await datasetChecksum({ ...dataset, users: moved }, block)).not.toBe(same);
    }
  });
});
