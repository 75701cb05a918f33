/**
 * Two reference scorers over the same targets the model is evaluated on, so the UI (and the learnability test) can
 * show what "beating popularity" means:
 * - popularity: the item's smoothed positive rate among training targets (ignores the user);
 * - history: reads only what a sliding-window prompt shows the model — the n preceding interactions' tokens and
 *   labels, recent ones weighted more — and scores the target by the user's positive rate on history items that
 *   share tokens (genres, title words) with it, shrunk toward the user's overall rate in the window.
 */
import { SPLIT_TRAIN, type TokenizedDataset } from '../prompt/types';

export interface ScoredTargets {
  scores: Float64Array;
  labels: Uint8Array;
}

/** Smoothing strength (pseudo-counts) of both scorers. */
const ITEM_PRIOR_COUNT = 10;
const USER_PRIOR_COUNT = 2;
const MATCH_PRIOR_WEIGHT = 1;
/** Weight of a history interaction d steps back is RECENCY_DECAY^d. */
const RECENCY_DECAY = 0.85;

export function popularityScores(dataset: TokenizedDataset, split: number): ScoredTargets {
  const positives = new Float64Array(dataset.itemTokens.length);
  const counts = new Float64Array(dataset.itemTokens.length);
  let trainPositives = 0;
  let trainCount = 0;
  for (const user of dataset.users) {
    for (let i = 0; i < user.items.length; i++) {
      if (user.split[i] !== SPLIT_TRAIN) continue;
      positives[user.items[i]] += user.labels[i];
      counts[user.items[i]]++;
      trainPositives += user.labels[i];
      trainCount++;
    }
  }
  const prior = trainCount ? trainPositives / trainCount : 0.5;
  return scoreTargets(dataset, split, (user, i) => {
    const item = user.items[i];
    return (positives[item] + prior * ITEM_PRIOR_COUNT) / (counts[item] + ITEM_PRIOR_COUNT);
  });
}

export function historyScores(dataset: TokenizedDataset, split: number, n: number): ScoredTargets {
  const tokenSets = dataset.itemTokens.map((tokens) => new Set(tokens));
  return scoreTargets(dataset, split, (user, t) => {
    const target = tokenSets[user.items[t]];
    let positives = 0;
    let count = 0;
    let matchPositive = 0;
    let matchWeight = 0;
    let recency = 1;
    for (let j = t - 1; j >= Math.max(0, t - n); j--) {
      positives += user.labels[j];
      count++;
      let shared = 0;
      for (const token of tokenSets[user.items[j]]) if (target.has(token)) shared++;
      matchWeight += recency * shared;
      matchPositive += recency * shared * user.labels[j];
      recency *= RECENCY_DECAY;
    }
    const userRate = (positives + 0.5 * USER_PRIOR_COUNT) / (count + USER_PRIOR_COUNT);
    return (matchPositive + userRate * MATCH_PRIOR_WEIGHT) / (matchWeight + MATCH_PRIOR_WEIGHT);
  });
}

function scoreTargets(
  dataset: TokenizedDataset,
  split: number,
  score: (user: TokenizedDataset['users'][number], index: number) => number,
): ScoredTargets {
  const scores: number[] = [];
  const labels: number[] = [];
  for (const user of dataset.users) {
    for (let i = 0; i < user.items.length; i++) {
      if (user.split[i] !== split) continue;
      scores.push(score(user, i));
      labels.push(user.labels[i]);
    }
  }
  return { scores: Float64Array.from(scores), labels: Uint8Array.from(labels) };
}

/** Area under the ROC curve (Mann-Whitney, ties count half). NaN when one class is missing. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;
    // Tied scores share the average of their 1-based ranks start+1 .. end.
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) {
      if (labels[order[k]]) {
        positives++;
        rankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
