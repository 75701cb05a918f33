import { describe, expect, it } from 'vitest';
import { FIRST_WORD, makeDataset, type UserSpec } from '../prompt/test-fixtures';
import { SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID, type TokenizedDataset } from '../prompt/types';
import { rocAuc } from '../train/metrics';
import { Rng } from '../util/rng';
import {
  type ScoredTargets,
  baselineAucs,
  historyScores,
  logisticFit,
  logisticScores,
  popularityScores,
  userRateScores,
} from './baselines';

const T = SPLIT_TRAIN;
const V = SPLIT_VALID;
const X = SPLIT_TEST;
const W = FIRST_WORD;

/** Four items of one word each, three users with mixed splits (user 2 has no training interactions). */
function smallDataset(): TokenizedDataset {
  return makeDataset(
    [[W], [W + 1], [W + 2], [W + 3]],
    [
      { items: [0, 1, 2, 3, 0, 1, 2], labels: [1, 1, 0, 1, 0, 1, 1], split: [T, T, T, T, V, X, X] },
      { items: [3, 2, 1, 0], labels: [0, 0, 1, 0], split: [T, X, X, X] },
      { items: [1, 2, 3], labels: [1, 0, 1], split: [X, X, X] },
    ],
  );
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Labels drawn from logit P = intercept + user effect + item effect; splits temporal (70 % train, 10 % valid, 20 % test). */
function logisticDataset(seed: number, opts: { users: number; items: number; perUser: number; userSd: number; itemSd: number }) {
  const rng = new Rng(seed);
  const intercept = 0.3;
  const userEffects = Float64Array.from({ length: opts.users }, () => opts.userSd * rng.normal());
  const itemEffects = Float64Array.from({ length: opts.items }, () => opts.itemSd * rng.normal());
  const users: UserSpec[] = [];
  for (let u = 0; u < opts.users; u++) {
    const items = Array.from({ length: opts.perUser }, () => rng.int(opts.items));
    const labels = items.map((i) => (rng.next() < sigmoid(intercept + userEffects[u] + itemEffects[i]) ? 1 : 0));
    const split = items.map((_, h) => (h < 0.7 * opts.perUser ? T : h < 0.8 * opts.perUser ? V : X));
    users.push({ items, labels, split });
  }
  const itemTokens = Array.from({ length: opts.items }, (_, i) => [W + i]);
  return { dataset: makeDataset(itemTokens, users), intercept, userEffects, itemEffects };
}

function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const auc = ({ scores, labels }: ScoredTargets) => rocAuc(scores, labels);

describe('baseline targets', () => {
  it('are exactly the split targets with t >= n, users in order then by history index', () => {
    const dataset = smallDataset();
    // Test targets with t >= 2: user 0 at 5, 6; user 1 at 2, 3; user 2 at 2.
    const expectedLabels = [1, 1, 1, 0, 1];
    // userRate's score identifies the user: user 0 (3 + 2·prior)/(4 + 2), user 1 (0 + 2·prior)/(1 + 2), user 2 the prior.
    const prior = 3 / 5;
    const rate0 = (3 + prior * 2) / (4 + 2);
    const rate1 = (0 + prior * 2) / (1 + 2);
    const scorers = [
      popularityScores(dataset, X, 2),
      userRateScores(dataset, X, 2),
      logisticScores(dataset, X, 2),
      historyScores(dataset, X, 2),
    ];
    for (const scored of scorers) {
      expect(Array.from(scored.labels)).toEqual(expectedLabels);
      expect(scored.scores.length).toBe(5);
    }
    const userRate = Array.from(scorers[1].scores);
    [rate0, rate0, rate1, rate1, prior].forEach((rate, j) => expect(userRate[j]).toBeCloseTo(rate, 12));
    expect(baselineAucs(dataset, X, 2).count).toBe(5);
    // n = 0 scores every target of the split; n beyond every history scores none.
    expect(Array.from(popularityScores(dataset, X, 0).labels)).toEqual([1, 1, 0, 1, 0, 1, 0, 1]);
    expect(popularityScores(dataset, V, 0).labels.length).toBe(1);
    expect(popularityScores(dataset, V, 5).labels.length).toBe(0);
    expect(baselineAucs(dataset, X, 10)).toEqual({ popularity: NaN, userRate: NaN, logistic: NaN, history: NaN, count: 0 });
  });

  it('popularity is the item smoothed rate over training interactions', () => {
    const dataset = smallDataset();
    const prior = 3 / 5;
    // Item 1 is in training once (clicked), item 2 once (not), item 3 twice (1 and 0).
    const rate = (positives: number, count: number) => (positives + prior * 10) / (count + 10);
    const { scores } = popularityScores(dataset, X, 2);
    // Targets: user 0 items 1, 2; user 1 items 1, 0; user 2 item 3.
    [rate(1, 1), rate(0, 1), rate(1, 1), rate(1, 1), rate(1, 2)].forEach((expected, j) => expect(scores[j]).toBeCloseTo(expected, 12));
  });
});

describe('userRateScores', () => {
  it('is the user training click rate shrunk toward the global training rate', () => {
    const dataset = makeDataset(
      [[W], [W + 1]],
      [
        { items: [0, 1, 0, 1, 0, 1], labels: [1, 1, 1, 1, 1, 0], split: [T, T, T, T, X, X] },
        { items: [1, 0, 1, 0], labels: [0, 0, 1, 1], split: [T, T, X, X] },
      ],
    );
    const prior = 4 / 6;
    const { scores, labels } = userRateScores(dataset, X, 1);
    expect(Array.from(labels)).toEqual([1, 0, 1, 1]);
    const user0 = (4 + 2 * prior) / (4 + 2);
    const user1 = (0 + 2 * prior) / (2 + 2);
    [user0, user0, user1, user1].forEach((expected, j) => expect(scores[j]).toBeCloseTo(expected, 12));
  });
});

describe('logisticScores', () => {
  const generated = logisticDataset(21, { users: 300, items: 40, perUser: 60, userSd: 0.8, itemSd: 1.5 });

  it('recovers the coefficients of a known item + user model', () => {
    const { dataset, userEffects, itemEffects } = generated;
    const fit = logisticFit(dataset);
    expect(correlation(fit.items, itemEffects)).toBeGreaterThan(0.9);
    expect(correlation(fit.users, userEffects)).toBeGreaterThan(0.6);
  });

  it('solves the penalized score equations at the fit', () => {
    const { dataset } = generated;
    const fit = logisticFit(dataset);
    let interceptGradient = 0;
    // λ = 1: the penalty's part of each user and item equation is -b.
    const userGradient = Float64Array.from(fit.users, (b) => -b);
    const itemGradient = Float64Array.from(fit.items, (b) => -b);
    let trainCount = 0;
    dataset.users.forEach((user, u) => {
      for (let t = 0; t < user.items.length; t++) {
        if (user.split[t] !== T) continue;
        const residual = user.labels[t] - sigmoid(fit.intercept + fit.users[u] + fit.items[user.items[t]]);
        interceptGradient += residual;
        userGradient[u] += residual;
        itemGradient[user.items[t]] += residual;
        trainCount++;
      }
    });
    // Each equation sums residuals over up to trainCount interactions; the fit solves them to well below one residual.
    expect(trainCount).toBeGreaterThan(10_000);
    expect(Math.abs(interceptGradient)).toBeLessThan(1e-4);
    for (const g of userGradient) expect(Math.abs(g)).toBeLessThan(1e-4);
    for (const g of itemGradient) expect(Math.abs(g)).toBeLessThan(1e-4);
  });

  it('gives 0 to users and items without training interactions', () => {
    const dataset = makeDataset(
      [[W], [W + 1], [W + 2]],
      [
        { items: [0, 1, 0, 1], labels: [1, 0, 0, 1], split: [T, T, T, X] },
        { items: [2, 0], labels: [1, 0], split: [X, X] },
      ],
    );
    const fit = logisticFit(dataset);
    expect(fit.users[1]).toBe(0);
    expect(fit.items[2]).toBe(0);
    expect(Number.isFinite(fit.intercept)).toBe(true);
  });

  it('beats userRate and popularity where both users and items matter', () => {
    const { dataset } = logisticDataset(22, { users: 300, items: 60, perUser: 80, userSd: 1, itemSd: 1.5 });
    const aucs = baselineAucs(dataset, X, 10);
    expect(aucs.logistic).toBeGreaterThan(aucs.popularity + 0.02);
    expect(aucs.logistic).toBeGreaterThan(aucs.userRate + 0.02);
    expect(aucs.popularity).toBeGreaterThan(0.6);
    expect(aucs.userRate).toBeGreaterThan(0.6);
  });
});

describe('baselineAucs', () => {
  it('is rocAuc of each scorer on the same targets, and deterministic', () => {
    const { dataset } = logisticDataset(23, { users: 50, items: 20, perUser: 30, userSd: 1, itemSd: 1 });
    const aucs = baselineAucs(dataset, X, 5);
    expect(aucs).toEqual({
      popularity: auc(popularityScores(dataset, X, 5)),
      userRate: auc(userRateScores(dataset, X, 5)),
      logistic: auc(logisticScores(dataset, X, 5)),
      history: auc(historyScores(dataset, X, 5)),
      count: popularityScores(dataset, X, 5).labels.length,
    });
    expect(aucs.count).toBeGreaterThan(0);
    expect(baselineAucs(dataset, X, 5)).toEqual(aucs);
    expect(logisticFit(dataset)).toEqual(logisticFit(dataset));
    expect(logisticScores(dataset, V, 3)).toEqual(logisticScores(dataset, V, 3));
  });
});
