import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { accuracy, calibrationFit, ctrMetrics, logLoss, predictedOverObserved, rocAuc } from './metrics';
import type { Metrics } from './protocol';

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

  it('a prediction that is not finite makes AUC, log loss and accuracy undefined, whatever the order', () => {
    const labels = [1, 0, 0, 1, 0];
    for (const probs of [[NaN, NaN, 0.2, 0.9, 0.1], [0.2, NaN, 0.9, NaN, 0.1], [0.3, 0.2, Infinity, 0.9, 0.1]]) {
      const metrics = ctrMetrics(probs, labels);
      expect(metrics.auc).toBeNaN();
      expect(metrics.logLoss).toBeNaN();
      expect(metrics.accuracy).toBeNaN();
    }
  });

  it('log loss and accuracy', () => {
    expect(logLoss([0.5, 0.5], [1, 0])).toBeCloseTo(Math.log(2), 12);
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    expect(accuracy([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 0])).toBe(0.75);
  });

  it('mean prediction, click rate and their ratio', () => {
    const m = ctrMetrics([0.9, 0.2, 0.6, 0.5], [1, 0, 0, 1]);
    expect(m.meanPrediction).toBeCloseTo(0.55, 12);
    expect(m.clickRate).toBe(0.5);
    expect(predictedOverObserved(m)).toBeCloseTo(1.1, 12);
    expect(predictedOverObserved(ctrMetrics([0.3, 0.4], [0, 0]))).toBeNaN();
    // Runs saved before these fields existed lack them: no number rather than a wrong one.
    expect(predictedOverObserved({} as Metrics)).toBeNaN();
  });
});

/** Labels drawn from sigmoid(a + b·logit(p)) for predictions p spread around 0.5. */
function recalibrated(rng: Rng, count: number, a: number, b: number): { probs: number[]; labels: number[] } {
  const probs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const x = 1.5 * rng.normal();
    probs.push(1 / (1 + Math.exp(-x)));
    labels.push(rng.next() < 1 / (1 + Math.exp(-(a + b * x))) ? 1 : 0);
  }
  return { probs, labels };
}

describe('calibration fit', () => {
  it('solves the likelihood equations (score 0 at the fit)', () => {
    const rng = new Rng(11);
    const { probs, labels } = recalibrated(rng, 500, 0.4, 1.7);
    const { intercept, slope } = calibrationFit(probs, labels);
    let score0 = 0;
    let score1 = 0;
    for (let i = 0; i < probs.length; i++) {
      const x = Math.log(probs[i] / (1 - probs[i]));
      const residual = labels[i] - 1 / (1 + Math.exp(-(intercept + slope * x)));
      score0 += residual;
      score1 += residual * x;
    }
    expect(Math.abs(score0)).toBeLessThan(1e-8);
    expect(Math.abs(score1)).toBeLessThan(1e-8);
  });

  it('recovers the slope of the process that drew the labels: 1 calibrated, 2.5 timid, 0.5 overconfident', () => {
    const rng = new Rng(3);
    for (const b of [1, 2.5, 0.5]) {
      const { probs, labels } = recalibrated(rng, 20000, -0.2, b);
      // Standard error at this size is about 0.02-0.05; 0.12 leaves room without admitting a wrong fit.
      expect(Math.abs(calibrationFit(probs, labels).slope - b)).toBeLessThan(0.12);
      expect(ctrMetrics(probs, labels).calibrationSlope).toBe(calibrationFit(probs, labels).slope);
    }
  });

  it('is undefined (NaN) with one class, equal predictions, or perfectly separating predictions', () => {
    expect(calibrationFit([0.2, 0.7, 0.4], [1, 1, 1]).slope).toBeNaN();
    expect(calibrationFit([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]).slope).toBeNaN();
    expect(calibrationFit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).slope).toBeNaN();
    // Overlapping classes are fine, even with few targets.
    expect(Number.isFinite(calibrationFit([0.1, 0.6, 0.4, 0.9], [0, 0, 1, 1]).slope)).toBe(true);
  });
});
