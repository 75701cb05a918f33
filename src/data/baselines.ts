/**
 * Two reference scorers over the same targets the model is evaluated on, so the UI (and the learnability test) can
 * show what "beating popularity" means (score them with rocAuc of src/train/metrics.ts):
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

/** `skip` > 0 reads the n interactions before the `skip` most recent ones instead (to show that recency matters). */
export function historyScores(dataset: TokenizedDataset, split: number, n: number, skip = 0): ScoredTargets {
  const tokenSets = dataset.itemTokens.map((tokens) => new Set(tokens));
  return scoreTargets(dataset, split, (user, t) => {
    const target = tokenSets[user.items[t]];
    let positives = 0;
    let count = 0;
    let matchPositive = 0;
    let matchWeight = 0;
    let recency = 1;
    for (let j = t - 1 - skip; j >= Math.max(0, t - skip - n); j--) {
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
