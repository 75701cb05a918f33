import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withItemText } from '../prompt/item-text';
import { SPECIAL_TOKENS, SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID } from '../prompt/types';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions, type SplitRule, preprocess } from './preprocess';
import type { RawDataset } from './raw';

/** A raw table where row r rates item r, so a history's items name the rows it came from. */
function rawOf(rows: { user: number; time: number | null; rating: number }[], withTimestamps: boolean): RawDataset {
  const users = Math.max(0, ...rows.map((row) => row.user + 1));
  return {
    name: 'test',
    // A format with a fixed rule (rating > 3): generic files whose ratings happen to be all 0/1 would read as labels.
    format: 'movielens-1m',
    count: rows.length,
    user: Int32Array.from(rows, (row) => row.user),
    item: Int32Array.from(rows, (_, r) => r),
    rating: Float32Array.from(rows, (row) => row.rating),
    label: null,
    timestamp: withTimestamps ? Float64Array.from(rows, (row) => row.time ?? 0) : null,
    userKeys: Array.from({ length: users }, (_, u) => `user${u}`),
    catalog: { keys: rows.map((_, r) => `${r}`), titles: rows.map((_, r) => `Title ${r}`), genres: rows.map(() => []) },
  };
}

const options = (n: number, split: SplitRule): PreprocessOptions => ({ ...DEFAULT_PREPROCESS_OPTIONS, n, split });

/** The raw row behind each history entry (rows are items, and titles "Title r" name them). */
const rowsOf = (titles: string[], items: Int32Array) => Array.from(items, (item) => Number(titles[item].slice(6)));

const rowsArbitrary = fc.array(
  fc.record({ user: fc.integer({ min: 0, max: 5 }), time: fc.integer({ min: 0, max: 30 }), rating: fc.integer({ min: 1, max: 5 }) }),
  { maxLength: 150 },
);

describe('temporal split without leakage', () => {
  it.each(['per-user', 'global-time'] as const)('%s: histories are chronological and splits never go back in time', (kind) => {
    fc.assert(
      fc.property(rowsArbitrary, fc.integer({ min: 1, max: 6 }), (rows, n) => {
        const raw = rawOf(rows, true);
        const counts = new Map<number, number>();
        for (const row of rows) counts.set(row.user, (counts.get(row.user) ?? 0) + 1);
        const keptUsers = [...counts.values()].filter((count) => count >= n + 1).length;
        if (keptUsers === 0) {
          expect(() => preprocess(raw, options(n, { kind, valid: 0.1, test: 0.1 }))).toThrow(/no user has/);
          return;
        }
        let result: ReturnType<typeof preprocess>;
        try {
          result = preprocess(raw, options(n, { kind, valid: 0.1, test: 0.1 }));
        } catch (error) {
          // Only a global cut that equal timestamps make impossible is refused, and what it says of them is true.
          expect(kind).toBe('global-time');
          const said = /leaves no (?:training|validation) interactions: (\d+) of the (\d+) interactions share the timestamp (\d+),/.exec((error as Error).message);
          expect(said).not.toBeNull();
          const keptTimes = rows.filter((row) => counts.get(row.user)! >= n + 1).map((row) => row.time);
          expect(Number(said![2])).toBe(keptTimes.length);
          expect(Number(said![1])).toBe(keptTimes.filter((time) => time === Number(said![3])).length);
          expect(Number(said![1])).toBeGreaterThan(1);
          return;
        }
        const { dataset, stats } = result;
        expect(dataset.users.length).toBe(keptUsers);
        expect(stats.droppedUsers).toBe(counts.size - keptUsers);
        expect(stats.minHistory).toBe(n + 1);
        expect(Math.min(...dataset.users.map((user) => user.items.length))).toBeGreaterThanOrEqual(stats.minHistory);
        const trainTimes: number[] = [];
        const testTimes: number[] = [];
        for (const user of dataset.users) {
          const rowIndices = rowsOf(dataset.itemTitles, user.items);
          expect(rowIndices.length).toBeGreaterThanOrEqual(n + 1);
          for (let i = 1; i < rowIndices.length; i++) {
            const [before, after] = [rows[rowIndices[i - 1]], rows[rowIndices[i]]];
            // Time order; equal timestamps keep file order.
            expect(before.time < after.time || (before.time === after.time && rowIndices[i - 1] < rowIndices[i])).toBe(true);
            // Splits never decrease along a history: every test target's context lies before it in time,
            // and no interaction after a test target is a training target.
            expect(user.split[i]).toBeGreaterThanOrEqual(user.split[i - 1]);
          }
          rowIndices.forEach((row, i) => {
            expect(user.labels[i]).toBe(rows[row].rating > 3 ? 1 : 0);
            if (user.split[i] === SPLIT_TRAIN) trainTimes.push(rows[row].time);
            if (user.split[i] === SPLIT_TEST) testTimes.push(rows[row].time);
          });
          if (kind === 'per-user') {
            const m = user.items.length;
            const test = user.split.filter((s) => s === SPLIT_TEST).length;
            expect(test).toBe(Math.max(1, Math.floor(m * 0.1)));
            expect(user.split.filter((s) => s === SPLIT_VALID).length).toBe(Math.min(m - test - 1, Math.max(1, Math.floor(m * 0.1))));
            expect(user.split[0]).toBe(SPLIT_TRAIN);
          }
        }
        if (kind === 'global-time') {
          // One cut for everybody: every training target is older than every test target.
          if (trainTimes.length && testTimes.length) expect(Math.max(...trainTimes)).toBeLessThan(Math.min(...testTimes));
          // A split is empty only when the interactions are too few for its cut to fall on one of them.
          const total = stats.interactions;
          if (Math.floor(total * 0.8) > 0) expect(stats.splits.train.interactions).toBeGreaterThan(0);
          if (Math.floor(total * 0.8) < Math.floor(total * 0.9)) expect(stats.splits.valid.interactions).toBeGreaterThan(0);
        }
        expect(stats.splits.test.interactions).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps file order when there are no timestamps', () => {
    const rows = [5, 1, 4, 2, 3, 9].map((time) => ({ user: 0, time, rating: 4 }));
    const { dataset } = preprocess(rawOf(rows, false), options(2, DEFAULT_PREPROCESS_OPTIONS.split));
    expect(rowsOf(dataset.itemTitles, dataset.users[0].items)).toEqual([0, 1, 2, 3, 4, 5]);
    const timed = preprocess(rawOf(rows, true), options(2, DEFAULT_PREPROCESS_OPTIONS.split));
    expect(rowsOf(timed.dataset.itemTitles, timed.dataset.users[0].items)).toEqual([1, 3, 4, 2, 0, 5]);
  });

  it('drops users with fewer than n + 1 interactions and counts them', () => {
    const rows = [
      ...Array.from({ length: 11 }, (_, t) => ({ user: 0, time: t, rating: 5 })),
      ...Array.from({ length: 10 }, (_, t) => ({ user: 1, time: t, rating: 5 })),
    ];
    const { dataset, stats } = preprocess(rawOf(rows, true), options(10, DEFAULT_PREPROCESS_OPTIONS.split));
    expect(dataset.users.map((user) => user.userId)).toEqual(['user0']);
    expect([stats.droppedUsers, stats.droppedInteractions]).toEqual([1, 10]);
    // By default every user with two interactions or more stays (a target with one before it): each run's n picks.
    const everyone = preprocess(rawOf([...rows, { user: 2, time: 0, rating: 4 }], true), DEFAULT_PREPROCESS_OPTIONS);
    expect(everyone.dataset.users.map((user) => user.userId)).toEqual(['user0', 'user1']);
    expect([everyone.stats.droppedUsers, everyone.stats.minHistory]).toEqual([1, 2]);
  });

  it('explains impossible requests', () => {
    const raw = rawOf([{ user: 0, time: 1, rating: 4 }], false);
    expect(() => preprocess(raw, options(3, { kind: 'global-time', valid: 0.1, test: 0.1 }))).toThrow(
      "test has no timestamps, so a global timestamp cut is impossible; expected the 'per-user' split",
    );
    expect(() => preprocess(raw, options(3, DEFAULT_PREPROCESS_OPTIONS.split))).toThrow(
      'no user has 4 or more interactions (1 users, 1 interactions); expected users with at least 4 interactions (3 before a target, then the target)',
    );
  });
});

describe('labels', () => {
  const rows = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0].map((rating, time) => ({ user: 0, time, rating }));

  it('follow the rule: above the threshold, or at least it when inclusive', () => {
    const labels = (rule: PreprocessOptions['labelRule']) =>
      Array.from(preprocess({ ...rawOf(rows, true), format: 'movielens-1m' }, { ...options(2, DEFAULT_PREPROCESS_OPTIONS.split), labelRule: rule }).dataset.users[0].labels);
    expect(labels(null)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(labels({ threshold: 5, inclusive: true })).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]);
    expect(labels({ threshold: 8, inclusive: false })).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0]);
  });

  it('default by format: BookCrossing >= 5; generic files on a 10-point scale >= 5', () => {
    const stats = (format: RawDataset['format']) => preprocess({ ...rawOf(rows, true), format }, options(2, DEFAULT_PREPROCESS_OPTIONS.split)).stats;
    expect(stats('bookcrossing').labelRule).toEqual({ threshold: 5, inclusive: true });
    expect(stats('csv').labelRule).toEqual({ threshold: 5, inclusive: true });
    expect(stats('movielens-100k').labelRule).toEqual({ threshold: 3, inclusive: false });
  });
});

describe('statistics', () => {
  it('count users, items, interactions, positives, history lengths and tokens', () => {
    const rows = [
      ...Array.from({ length: 4 }, (_, t) => ({ user: 0, time: t, rating: t < 2 ? 5 : 1 })),
      ...Array.from({ length: 6 }, (_, t) => ({ user: 1, time: t, rating: 5 })),
    ];
    const { stats } = preprocess(rawOf(rows, true), options(3, DEFAULT_PREPROCESS_OPTIONS.split));
    expect([stats.users, stats.items, stats.interactions]).toEqual([2, 10, 10]);
    expect(stats.positiveRate).toBeCloseTo(0.8);
    expect([stats.historyLength.min, stats.historyLength.max, stats.historyLength.mean]).toEqual([4, 6, 5]);
    expect(stats.historyLength.histogram.reduce((sum, bin) => sum + bin.count, 0)).toBe(2);
    // "Title r" renders to two tokens, plus [SUM] and the label token.
    expect(stats.tokensPerInteraction.mean).toBe(4);
    expect(stats.splits.test.interactions + stats.splits.valid.interactions + stats.splits.train.interactions).toBe(10);
  });
});

describe('item-id tokens', () => {
  // Items 0..3 by training interactions: item 0 five times, item 1 three, item 2 twice, item 3 (no text) once.
  const itemRows = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3];
  const raw: RawDataset = {
    name: 'ids',
    format: 'movielens-1m',
    // One long history per user (two users) so the last 10 % + 10 % of each are few.
    count: 2 * (itemRows.length + 2),
    user: Int32Array.from({ length: 2 * (itemRows.length + 2) }, (_, r) => (r < itemRows.length + 2 ? 0 : 1)),
    item: Int32Array.from([...itemRows, 0, 1, ...itemRows, 0, 1]),
    rating: Float32Array.from({ length: 2 * (itemRows.length + 2) }, (_, r) => 1 + (r % 5)),
    label: null,
    timestamp: null,
    userKeys: ['a', 'b'],
    catalog: { keys: ['m0', 'm1', 'm2', 'm3'], titles: ['Zero', 'One', 'Two', ''], genres: [['Drama'], ['Drama'], [], []] },
  };

  it('gives its own token to items seen at least the minimum count in training; the rest share [ITEM-UNK]', () => {
    const { dataset, stats } = preprocess(raw, { ...DEFAULT_PREPROCESS_OPTIONS, itemIdMinCount: 6 });
    const tokenOf = (item: number) => dataset.vocab.tokens[dataset.itemIds[dataset.itemTitles.indexOf(item === 3 ? 'item m3' : ['Zero', 'One', 'Two'][item])]];
    // Training counts (both users): item 0 ten times, item 1 six, item 2 four, item 3 twice.
    expect([0, 1, 2, 3].map(tokenOf)).toEqual(['item_m0', 'item_m1', '[ITEM-UNK]', '[ITEM-UNK]']);
    expect(stats.itemIdTokens).toBe(2);
    // Ids come right after the special tokens, the most frequent first; the textless item keeps its key as its word.
    expect(dataset.vocab.tokens.slice(SPECIAL_TOKENS.length, SPECIAL_TOKENS.length + 2)).toEqual(['item_m0', 'item_m1']);
    expect(dataset.vocab.tokens).toContain('item_m3');
    expect(stats.itemIdCoverage).toBeGreaterThan(0.6);
    expect(stats.itemIdCoverage).toBeLessThan(1);
  });

  it('writes items as words, ids or both for a run', () => {
    const { dataset } = preprocess(raw, DEFAULT_PREPROCESS_OPTIONS);
    const zero = dataset.itemTitles.indexOf('Zero');
    const textless = dataset.itemTitles.indexOf('item m3');
    const text = (itemText: 'words' | 'id' | 'both', item: number) => Array.from(withItemText(dataset, itemText).itemTokens[item], (id) => dataset.vocab.tokens[id]);
    expect(text('words', zero)).toEqual(['zero', 'drama']);
    expect(text('id', zero)).toEqual(['item_m0']);
    expect(text('both', zero)).toEqual(['item_m0', 'zero', 'drama']);
    // A rare item without text: [ITEM-UNK] as its id, its key as its word.
    expect(text('id', textless)).toEqual(['[ITEM-UNK]']);
    expect(text('both', textless)).toEqual(['[ITEM-UNK]', 'item_m3']);
    // Frequent enough for its own id, its id is its only token in every form.
    const everyItem = preprocess(raw, { ...DEFAULT_PREPROCESS_OPTIONS, itemIdMinCount: 1 }).dataset;
    const own = (itemText: 'words' | 'id' | 'both') => Array.from(withItemText(everyItem, itemText).itemTokens[textless], (id) => everyItem.vocab.tokens[id]);
    expect([own('words'), own('id'), own('both')]).toEqual([['item_m3'], ['item_m3'], ['item_m3']]);
    expect(withItemText(dataset, 'id')).toBe(withItemText(dataset, 'id'));
  });
});
