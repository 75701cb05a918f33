import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { aucInterval, pairedAucInterval, pairedMeanDifference, weightedRocAuc } from './bootstrap';
import { rocAuc } from './metrics';

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 for erf, error below 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Scores ~ N(mu·y, 1) with y ~ Bernoulli(0.5): the true AUC is Φ(mu / √2). */
function gaussianData(rng: Rng, count: number, mu: number): { scores: Float64Array; labels: Uint8Array } {
  const labels = Uint8Array.from({ length: count }, () => (rng.next() < 0.5 ? 1 : 0));
  const scores = Float64Array.from(labels, (y) => mu * y + rng.normal());
  return { scores, labels };
}

describe('weightedRocAuc', () => {
  it('equals rocAuc with unit weights on data with many ties', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 20; trial++) {
      const count = 50 + rng.int(500);
      const labels = Uint8Array.from({ length: count }, () => (rng.next() < 0.3 ? 1 : 0));
      // Few distinct values: most scores are tied with others of both classes.
      const scores = Float64Array.from(labels, (y) => Math.round(y + 2 * rng.normal()));
      const expected = rocAuc(scores, labels);
      expect(weightedRocAuc(scores, labels, new Int32Array(count).fill(1))).toBeCloseTo(expected, 12);
    }
  });

  it('counts a target of weight w as w copies of it', () => {
    const rng = new Rng(4);
    const count = 300;
    const labels = Uint8Array.from({ length: count }, () => rng.int(2));
    const scores = Float64Array.from(labels, (y) => Math.round(y + rng.normal()));
    const weights = Int32Array.from({ length: count }, () => rng.int(4));
    const copiesScores: number[] = [];
    const copiesLabels: number[] = [];
    for (let i = 0; i < count; i++) {
      for (let c = 0; c < weights[i]; c++) {
        copiesScores.push(scores[i]);
        copiesLabels.push(labels[i]);
      }
    }
    expect(weightedRocAuc(scores, labels, weights)).toBeCloseTo(rocAuc(copiesScores, copiesLabels), 12);
  });
});

describe('aucInterval', () => {
  it('contains the plain AUC and narrows as 1/sqrt(n)', () => {
    const rng = new Rng(5);
    const widths: number[] = [];
    for (const count of [1000, 16000]) {
      const { scores, labels } = gaussianData(rng, count, 1);
      const interval = aucInterval(scores, labels, { resamples: 500 });
      expect(interval.estimate).toBe(rocAuc(scores, labels));
      expect(interval.low).toBeLessThan(interval.estimate);
      expect(interval.high).toBeGreaterThan(interval.estimate);
      widths.push(interval.high - interval.low);
    }
    // √16 = 4.
    expect(widths[0] / widths[1]).toBeGreaterThan(2.5);
    expect(widths[0] / widths[1]).toBeLessThan(6);
  });

  it('covers the true AUC about 95 % of the time', () => {
    const mu = 1;
    const truth = normalCdf(mu / Math.SQRT2);
    const rng = new Rng(6);
    const datasets = 100;
    let covered = 0;
    for (let d = 0; d < datasets; d++) {
      const { scores, labels } = gaussianData(rng, 500, mu);
      const { low, high } = aucInterval(scores, labels, { resamples: 300, seed: 100 + d });
      if (low <= truth && truth <= high) covered++;
    }
    expect(covered / datasets).toBeGreaterThanOrEqual(0.88);
    expect(covered / datasets).toBeLessThanOrEqual(0.99);
  });

  it('gets narrower with a lower level', () => {
    const { scores, labels } = gaussianData(new Rng(7), 1000, 1);
    const wide = aucInterval(scores, labels, { level: 0.95 });
    const narrow = aucInterval(scores, labels, { level: 0.5 });
    expect(narrow.high - narrow.low).toBeLessThan(0.6 * (wide.high - wide.low));
    expect(narrow.low).toBeGreaterThan(wide.low);
    expect(narrow.high).toBeLessThan(wide.high);
  });

  it('is deterministic for a seed and depends on it', () => {
    const { scores, labels } = gaussianData(new Rng(8), 2000, 0.5);
    const first = aucInterval(scores, labels, { seed: 42 });
    expect(aucInterval(scores, labels, { seed: 42 })).toEqual(first);
    const other = aucInterval(scores, labels, { seed: 43 });
    expect(other.estimate).toBe(first.estimate);
    expect(other.low).not.toBe(first.low);
  });

  it('is all NaN for non-finite scores, a single class or no targets', () => {
    const nan = { estimate: NaN, low: NaN, high: NaN };
    expect(aucInterval([0.1, NaN, 0.3], [0, 1, 1])).toEqual(nan);
    expect(aucInterval([0.1, Infinity, 0.3], [0, 1, 1])).toEqual(nan);
    expect(aucInterval([0.1, 0.2, 0.3], [1, 1, 1])).toEqual(nan);
    expect(aucInterval([0.1, 0.2, 0.3], [0, 0, 0])).toEqual(nan);
    expect(aucInterval([], [])).toEqual(nan);
    expect(aucInterval([0.1, 0.2], [0, 1, 1])).toEqual(nan);
    expect(pairedAucInterval([0.1, 0.2, 0.3], [0.1, NaN, 0.3], [0, 1, 1])).toEqual({ a: nan, b: nan, difference: nan });
    expect(pairedAucInterval([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [1, 1, 1])).toEqual({ a: nan, b: nan, difference: nan });
  });

  it('takes well under 2 s for 10,000 targets and 1,000 resamples', () => {
    const { scores, labels } = gaussianData(new Rng(9), 10_000, 1);
    const start = performance.now();
    const interval = aucInterval(scores, labels);
    const elapsed = performance.now() - start;
    expect(Number.isFinite(interval.low)).toBe(true);
    expect(elapsed).toBeLessThan(2000);
  });
});

describe('pairedAucInterval', () => {
  it('gives exactly [0, 0] for a scorer against itself', () => {
    const { scores, labels } = gaussianData(new Rng(10), 1000, 1);
    const paired = pairedAucInterval(scores, scores, labels);
    expect(paired.difference).toEqual({ estimate: 0, low: 0, high: 0 });
    expect(paired.a).toEqual(paired.b);
    expect(paired.a).toEqual(aucInterval(scores, labels));
  });

  it('is much narrower for the difference of correlated scorers than the single intervals imply', () => {
    const rng = new Rng(11);
    const { scores: a, labels } = gaussianData(rng, 2000, 1);
    const b = Float64Array.from(a, (s, i) => s + 0.1 * rng.normal() + 0.05 * labels[i]);
    const paired = pairedAucInterval(a, b, labels);
    expect(paired.difference.estimate).toBeCloseTo(rocAuc(b, labels) - rocAuc(a, labels), 12);
    expect(paired.difference.low).toBeLessThanOrEqual(paired.difference.estimate);
    expect(paired.difference.high).toBeGreaterThanOrEqual(paired.difference.estimate);
    const widthA = paired.a.high - paired.a.low;
    const widthB = paired.b.high - paired.b.low;
    // What comparing the two intervals as if independent would suggest.
    const unpaired = Math.hypot(widthA, widthB);
    expect(paired.difference.high - paired.difference.low).toBeLessThan(0.25 * unpaired);
    // b is a slightly better scorer; the paired interval sees it, the overlapping single intervals cannot.
    expect(paired.difference.low).toBeGreaterThan(0);
    expect(paired.a.high).toBeGreaterThan(paired.b.low);
  });

  it('is deterministic for a seed', () => {
    const rng = new Rng(12);
    const { scores: a, labels } = gaussianData(rng, 1000, 1);
    const b = Float64Array.from(a, (s) => s + rng.normal());
    expect(pairedAucInterval(a, b, labels, { seed: 5 })).toEqual(pairedAucInterval(a, b, labels, { seed: 5 }));
  });
});

describe('pairedMeanDifference', () => {
  it('is the paired difference for one pair, and the mean over pairs for several', () => {
    const rng = new Rng(13);
    const { scores: a, labels } = gaussianData(rng, 1000, 1);
    const b = Float64Array.from(a, (s) => s + 0.3 * rng.normal());
    const c = Float64Array.from(a, (s) => s + 0.5 * rng.normal());
    expect(pairedMeanDifference([{ a, b }], labels)).toEqual(pairedAucInterval(a, b, labels).difference);
    const mean = pairedMeanDifference([{ a, b }, { a, b: c }], labels);
    expect(mean.estimate).toBeCloseTo((rocAuc(b, labels) - rocAuc(a, labels) + rocAuc(c, labels) - rocAuc(a, labels)) / 2, 12);
    expect(mean.low).toBeLessThan(mean.estimate);
    expect(mean.high).toBeGreaterThan(mean.estimate);
    expect(pairedMeanDifference([{ a, b: a }, { a: b, b }], labels)).toEqual({ estimate: 0, low: 0, high: 0 });
  });

  it('is all NaN without pairs or with an undefined AUC', () => {
    const nan = { estimate: NaN, low: NaN, high: NaN };
    expect(pairedMeanDifference([], [0, 1])).toEqual(nan);
    expect(pairedMeanDifference([{ a: [0.1, 0.2], b: [NaN, 0.2] }], [0, 1])).toEqual(nan);
  });
});
