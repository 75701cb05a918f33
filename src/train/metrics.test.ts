import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { accuracy, logLoss, rocAuc } from './metrics';

/** O(P·N) pair counting: the definition of AUC, to check the rank formula against. */
function pairwiseAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!labels[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j]) continue;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe('CTR metrics', () => {
  it('AUC matches pairwise counting, ties included', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const count = 5 + rng.int(60);
      const labels = Array.from({ length: count }, () => (rng.next() < 0.4 ? 1 : 0));
      labels[0] = 1;
      labels[1] = 0;
      // Coarse scores force ties.
      const scores = Array.from({ length: count }, () => Math.round(rng.next() * 6) / 6);
      expect(rocAuc(scores, labels)).toBeCloseTo(pairwiseAuc(scores, labels), 12);
    }
  });

  it('AUC is 1 for a perfect ranking, 0 for a reversed one and NaN with one class', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.3, 0.4], [1, 1])).toBeNaN();
  });

  it('log loss and accuracy', () => {
    expect(logLoss([0.5, 0.5], [1, 0])).toBeCloseTo(Math.log(2), 12);
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    expect(accuracy([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 0])).toBe(0.75);
  });
});
