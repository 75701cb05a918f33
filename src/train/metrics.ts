import type { Metrics } from './protocol';

/**
 * ROC AUC by the rank statistic (Mann-Whitney U), with tied scores sharing their average rank.
 * Returns NaN when one class is absent (AUC is undefined then, and the UI says so) or when a score is not finite
 * (NaN has no rank: sorting by it would give an order-dependent, plausible-looking number).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const count = scores.length;
  if (!allFinite(scores)) return NaN;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < count; ) {
    let end = start;
    while (end + 1 < count && scores[order[end + 1]] === scores[order[start]]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let j = start; j <= end; j++) {
      if (labels[order[j]] > 0.5) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = count - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Probabilities are clipped to [PROB_CLIP, 1 - PROB_CLIP] wherever a log of them is taken. */
const PROB_CLIP = 1e-7;
const clipProbability = (p: number) => Math.min(1 - PROB_CLIP, Math.max(PROB_CLIP, p));

/** Mean binary cross-entropy with probabilities clipped to [1e-7, 1 - 1e-7]; NaN when a probability is not finite. */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (!allFinite(probs)) return NaN;
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = clipProbability(probs[i]);
    sum -= labels[i] > 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return probs.length ? sum / probs.length : NaN;
}

/** Share of targets on the right side of 0.5; NaN when a prediction is not finite (it has no side). */
export function accuracy(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (!allFinite(probs)) return NaN;
  let correct = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] >= 0.5 === labels[i] > 0.5) correct++;
  return probs.length ? correct / probs.length : NaN;
}

export function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

function mean(values: ArrayLike<number>, of: (value: number) => number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += of(values[i]);
  return values.length ? sum / values.length : NaN;
}

const logit = (p: number) => {
  const q = clipProbability(p);
  return Math.log(q / (1 - q));
};

/**
 * The logistic recalibration fit label ~ sigmoid(intercept + slope·logit(P)) by maximum likelihood (Newton's method
 * with step halving). A calibrated model gives intercept 0 and slope 1; a slope above 1 says its predictions are too
 * timid, below 1 too confident. NaN for both when the fit does not exist: one class only, all predictions equal, or
 * predictions that separate the classes perfectly (the slope grows without bound).
 */
export function calibrationFit(probs: ArrayLike<number>, labels: ArrayLike<number>): { intercept: number; slope: number } {
  const none = { intercept: NaN, slope: NaN };
  const count = probs.length;
  const x = Float64Array.from({ length: count }, (_, i) => logit(probs[i]));
  const y = Float64Array.from({ length: count }, (_, i) => (labels[i] > 0.5 ? 1 : 0));
  const positives = y.reduce((a, b) => a + b, 0);
  if (positives === 0 || positives === count) return none;
  const logLikelihood = (a: number, b: number) => {
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const eta = a + b * x[i];
      // log(1 + e^eta) without overflow
      const softplus = eta > 0 ? eta + Math.log1p(Math.exp(-eta)) : Math.log1p(Math.exp(eta));
      sum += y[i] * eta - softplus;
    }
    return sum;
  };
  let a = Math.log(positives / (count - positives));
  let b = 0;
  let current = logLikelihood(a, b);
  for (let iteration = 0; iteration < 100; iteration++) {
    // Score and (negated) Hessian of the log-likelihood in (a, b).
    let g0 = 0;
    let g1 = 0;
    let h00 = 0;
    let h01 = 0;
    let h11 = 0;
    for (let i = 0; i < count; i++) {
      const mu = 1 / (1 + Math.exp(-(a + b * x[i])));
      const w = mu * (1 - mu);
      g0 += y[i] - mu;
      g1 += (y[i] - mu) * x[i];
      h00 += w;
      h01 += w * x[i];
      h11 += w * x[i] * x[i];
    }
    const det = h00 * h11 - h01 * h01;
    if (!(det > 1e-12 * h00 * h11)) return none; // all predictions (nearly) equal, or every weight vanished
    const da = (h11 * g0 - h01 * g1) / det;
    const db = (h00 * g1 - h01 * g0) / det;
    let step = 1;
    let next = logLikelihood(a + da, b + db);
    while (next < current && step > 1e-6) {
      step /= 2;
      next = logLikelihood(a + step * da, b + step * db);
    }
    a += step * da;
    b += step * db;
    current = next;
    if (!Number.isFinite(a) || !Number.isFinite(b) || Math.abs(b) > 1e6) return none;
    if (Math.abs(step * da) < 1e-10 * (1 + Math.abs(a)) && Math.abs(step * db) < 1e-10 * (1 + Math.abs(b))) return { intercept: a, slope: b };
  }
  return none; // no convergence: (near) separation
}

/**
 * Predicted over observed CTR (mean P over the click rate): 1 when the model predicts the right number of clicks on
 * average. NaN without clicks, and for metrics recorded before the lab measured these fields.
 */
export function predictedOverObserved(metrics: Pick<Metrics, 'meanPrediction' | 'clickRate'>): number {
  const { meanPrediction, clickRate } = metrics;
  return Number.isFinite(meanPrediction) && Number.isFinite(clickRate) && clickRate > 0 ? meanPrediction / clickRate : NaN;
}

export const NO_METRICS: Readonly<Metrics> = {
  auc: NaN,
  logLoss: NaN,
  accuracy: NaN,
  count: 0,
  meanPrediction: NaN,
  clickRate: NaN,
  calibrationSlope: NaN,
};

export function ctrMetrics(probs: ArrayLike<number>, labels: ArrayLike<number>): Metrics {
  return {
    auc: rocAuc(probs, labels),
    logLoss: logLoss(probs, labels),
    accuracy: accuracy(probs, labels),
    count: probs.length,
    meanPrediction: mean(probs, (p) => p),
    clickRate: mean(labels, (label) => (label > 0.5 ? 1 : 0)),
    calibrationSlope: calibrationFit(probs, labels).slope,
  };
}
