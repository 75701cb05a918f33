import type { Metrics } from './protocol';

/**
 * ROC AUC by the rank statistic (Mann-Whitney U), with tied scores sharing their average rank.
 * Returns NaN when one class is absent (AUC is undefined then, and the UI says so).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const count = scores.length;
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

/** Mean binary cross-entropy with probabilities clipped to [1e-7, 1 - 1e-7]. */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, probs[i]));
    sum -= labels[i] > 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return probs.length ? sum / probs.length : NaN;
}

export function accuracy(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] >= 0.5 === labels[i] > 0.5) correct++;
  return probs.length ? correct / probs.length : NaN;
}

export function ctrMetrics(probs: ArrayLike<number>, labels: ArrayLike<number>): Metrics {
  return {
    auc: rocAuc(probs, labels),
    logLoss: logLoss(probs, labels),
    accuracy: accuracy(probs, labels),
    count: probs.length,
  };
}
