import { describe, expect, it } from 'vitest';
import { SPLIT_TEST } from '../prompt/types';
import { rocAuc } from '../train/metrics';
import { historyScores, popularityScores } from './baselines';
import { GENRES, PRESETS, generateDataset } from './generator';
import { loadBuiltin } from './index';

describe('generator', () => {
  it('is deterministic: same preset and seed, same data; another seed, other data', () => {
    const a = generateDataset('small', 3);
    const b = generateDataset('small', 3);
    expect(b).toEqual(a);
    const c = generateDataset('small', 4);
    expect(Array.from(c.rating!.slice(0, 200))).not.toEqual(Array.from(a.rating!.slice(0, 200)));
  });

  it.each(['small', 'medium'] as const)('%s: sizes, lengths, ratings and catalog as specified', (preset) => {
    const options = PRESETS[preset];
    const raw = generateDataset(preset, 1);
    expect(raw.userKeys.length).toBe(options.users);
    expect(raw.catalog.keys.length).toBe(options.items);
    const seenBy = new Map<number, Set<number>>();
    let repeats = 0;
    let outOfScale = 0;
    let backInTime = 0;
    for (let i = 0; i < raw.count; i++) {
      const seen = seenBy.get(raw.user[i]) ?? new Set<number>();
      // A user never meets the same item twice (so a test target can never reappear as a training target).
      if (seen.has(raw.item[i])) repeats++;
      seen.add(raw.item[i]);
      seenBy.set(raw.user[i], seen);
      if (!(raw.rating![i] >= 1 && raw.rating![i] <= 5 && Number.isInteger(raw.rating![i]))) outOfScale++;
      if (i > 0 && raw.timestamp![i] < raw.timestamp![i - 1]) backInTime++;
    }
    expect([repeats, outOfScale, backInTime]).toEqual([0, 0, 0]);
    const lengths = [...seenBy.values()].map((seen) => seen.size);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(options.minHistory);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(options.maxHistory);
    for (let i = 0; i < raw.catalog.keys.length; i++) {
      const words = raw.catalog.titles[i].split(' ').length;
      expect(words).toBeGreaterThanOrEqual(1);
      expect(words).toBeLessThanOrEqual(3);
      expect(raw.catalog.genres[i].length).toBeGreaterThanOrEqual(1);
      expect(raw.catalog.genres[i].length).toBeLessThanOrEqual(3);
      for (const genre of raw.catalog.genres[i]) expect(GENRES).toContain(genre);
    }
  });

  it('renders an interaction to a handful of tokens, with a realistic positive rate and popularity skew', () => {
    const { stats, dataset } = loadBuiltin('medium');
    expect(stats.tokensPerInteraction.mean).toBeGreaterThan(4);
    expect(stats.tokensPerInteraction.mean).toBeLessThan(6.5);
    expect(stats.positiveRate).toBeGreaterThan(0.5);
    expect(stats.positiveRate).toBeLessThan(0.7);
    const uses = new Array<number>(dataset.itemTokens.length).fill(0);
    for (const user of dataset.users) for (const item of user.items) uses[item]++;
    uses.sort((x, y) => y - x);
    const top10Percent = uses.slice(0, uses.length / 10).reduce((a, b) => a + b, 0);
    expect(top10Percent / stats.interactions).toBeGreaterThan(0.3);
  });

  // The lab's claim needs data where reading the history pays: a scorer that sees only a sliding-window prompt's
  // n = 10 interactions must beat the item-popularity baseline clearly, and popularity must beat chance.
  it.each(['small', 'medium'] as const)('%s is learnable: history beats popularity on the test split, recent history most', (preset) => {
    const { dataset } = loadBuiltin(preset);
    const score = ({ scores, labels }: { scores: Float64Array; labels: Uint8Array }) => rocAuc(scores, labels);
    const popularity = score(popularityScores(dataset, SPLIT_TEST, 10));
    const history = score(historyScores(dataset, SPLIT_TEST, 10));
    const olderHistory = score(historyScores(dataset, SPLIT_TEST, 10, 10));
    expect(popularity).toBeGreaterThan(0.55);
    expect(history).toBeGreaterThan(popularity + 0.08);
    // Tastes drift: the 10 most recent interactions say more than the 10 before them.
    expect(history).toBeGreaterThan(olderHistory + 0.02);
  });
});
