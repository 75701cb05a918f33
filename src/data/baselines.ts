/**
 * Reference scorers over exactly the targets the model is evaluated on — target t of a user in `split` with t >= n
 * (the model needs n preceding interactions), users in dataset order then ascending history index — so the UI, the
 * run summary and the learnability test can show what beating each one means (AUC by rocAuc of src/train/metrics.ts).
 * What each reads:
 * - popularity: the item's smoothed positive rate over all training interactions (ignores the user);
 * - userRate: the user's smoothed positive rate over their training interactions (ignores the item);
 * - logistic: item + user logistic regression fitted on all training interactions (both main effects, no interaction);
 * - history: only what a sliding-window prompt shows the model — the n preceding interactions' tokens and
 *   labels, recent ones weighted more — scoring the target by the user's positive rate on history items that
 *   share tokens (genres, title words) with it, shrunk toward the user's overall rate in the window.
 * On the training split popularity, userRate and logistic have seen the targets' own labels; compare on valid or test.
 */
import { rocAuc } from '../train/metrics';
import { SPLIT_TRAIN, type TokenizedDataset } from '../prompt/types';

export interface ScoredTargets {
  scores: Float64Array;
  labels: Uint8Array;
}

/** AUC of each baseline on the targets the model scores in a split, and how many targets that is. */
export interface BaselineAucs {
  popularity: number;
  userRate: number;
  logistic: number;
  history: number;
  count: number;
}

/** Smoothing strength (pseudo-counts) of an item's rate, of a user's rate, and of the history's token-match rate. */
const ITEM_PRIOR_COUNT = 10;
const USER_PRIOR_COUNT = 2;
const MATCH_PRIOR_WEIGHT = 1;
/** Weight of a history interaction d steps back is RECENCY_DECAY^d. */
const RECENCY_DECAY = 0.85;
/** L2 penalty on the logistic user and item effects: keeps effects of rarely seen users and items near 0 and the fit finite. */
const LOGISTIC_L2 = 1;
/** Block-coordinate Newton sweeps of the logistic fit, at most; it stops earlier once no coefficient moves by LOGISTIC_TOLERANCE. */
const LOGISTIC_MAX_SWEEPS = 30;
const LOGISTIC_TOLERANCE = 1e-6;

type User = TokenizedDataset['users'][number];

/** Positives and interactions of the training split, overall (rate 0.5 when it is empty). */
export function trainingRate(dataset: TokenizedDataset): { positives: number; count: number; rate: number } {
  let positives = 0;
  let count = 0;
  for (const user of dataset.users) {
    for (let i = 0; i < user.items.length; i++) {
      if (user.split[i] !== SPLIT_TRAIN) continue;
      positives += user.labels[i];
      count++;
    }
  }
  return { positives, count, rate: count ? positives / count : 0.5 };
}

/** Item popularity over the targets with n interactions before them (n = 0: every target of the split). */
export function popularityScores(dataset: TokenizedDataset, split: number, n: number): ScoredTargets {
  const positives = new Float64Array(dataset.itemTokens.length);
  const counts = new Float64Array(dataset.itemTokens.length);
  for (const user of dataset.users) {
    for (let i = 0; i < user.items.length; i++) {
      if (user.split[i] !== SPLIT_TRAIN) continue;
      positives[user.items[i]] += user.labels[i];
      counts[user.items[i]]++;
    }
  }
  const prior = trainingRate(dataset).rate;
  return scoreTargets(dataset, split, n, (user, i) => {
    const item = user.items[i];
    return (positives[item] + prior * ITEM_PRIOR_COUNT) / (counts[item] + ITEM_PRIOR_COUNT);
  });
}

/** The user's click rate over their training interactions, shrunk toward the global training rate. */
export function userRateScores(dataset: TokenizedDataset, split: number, n: number): ScoredTargets {
  const prior = trainingRate(dataset).rate;
  const rates = dataset.users.map((user) => {
    let positives = 0;
    let count = 0;
    for (let i = 0; i < user.items.length; i++) {
      if (user.split[i] !== SPLIT_TRAIN) continue;
      positives += user.labels[i];
      count++;
    }
    return (positives + prior * USER_PRIOR_COUNT) / (count + USER_PRIOR_COUNT);
  });
  return scoreTargets(dataset, split, n, (_user, _t, u) => rates[u]);
}

/** Coefficients of logit P(click) = intercept + users[u] + items[i]. */
export interface LogisticFit {
  intercept: number;
  users: Float64Array;
  items: Float64Array;
}

/**
 * Fits the item + user logistic regression on every training interaction (penalized maximum likelihood, LOGISTIC_L2
 * on the user and item effects, none on the intercept) by block-coordinate Newton: the intercept, then all users
 * (independent given the items), then all items, each a 1-D Newton step that never raises the objective. After each
 * block its mean moves into the intercept: that leaves every prediction alone and only lowers the penalty (at the
 * optimum both means are 0), and it removes the slow mode in which the intercept and a block trade a common shift.
 * Users and items without training interactions keep 0.
 */
export function logisticFit(dataset: TokenizedDataset): LogisticFit {
  const itemCount = dataset.itemTokens.length;
  const userCount = dataset.users.length;
  const fit: LogisticFit = { intercept: 0, users: new Float64Array(userCount), items: new Float64Array(itemCount) };
  const { positives, count } = trainingRate(dataset);
  if (count === 0) return fit;
  // Without both classes the intercept's MLE is infinite; a smoothed constant ranks all targets alike anyway.
  fit.intercept = Math.log((positives + 0.5) / (count - positives + 0.5));
  if (positives === 0 || positives === count) return fit;

  // Training interactions in flat arrays, grouped by user (rows 0..count-1 as stored) and by item (byItem).
  const itemOf = new Int32Array(count);
  const label = new Float64Array(count);
  const userStart = new Int32Array(userCount + 1);
  let k = 0;
  dataset.users.forEach((user, u) => {
    userStart[u] = k;
    for (let i = 0; i < user.items.length; i++) {
      if (user.split[i] !== SPLIT_TRAIN) continue;
      itemOf[k] = user.items[i];
      label[k] = user.labels[i] > 0.5 ? 1 : 0;
      k++;
    }
  });
  userStart[userCount] = count;
  const itemStart = new Int32Array(itemCount + 1);
  for (let j = 0; j < count; j++) itemStart[itemOf[j] + 1]++;
  for (let i = 0; i < itemCount; i++) itemStart[i + 1] += itemStart[i];
  const byItem = new Int32Array(count);
  const fill = itemStart.slice(0, itemCount);
  for (let j = 0; j < count; j++) byItem[fill[itemOf[j]]++] = j;
  const byUser = Int32Array.from({ length: count }, (_, j) => j);

  /** Linear predictor of every training interaction, kept in step with the coefficients. */
  const eta = new Float64Array(count).fill(fit.intercept);
  /** The block's penalized negative log-likelihood at x + shift (eta holds the predictors at x). */
  const objective = (x: number, shift: number, l2: number, rows: Int32Array, from: number, to: number): number => {
    const value = x + shift;
    let sum = (l2 * value * value) / 2;
    for (let r = from; r < to; r++) {
      const j = rows[r];
      sum += softplus(eta[j] + shift) - label[j] * (eta[j] + shift);
    }
    return sum;
  };
  /**
   * One Newton step on the coefficient x shared by interactions rows[from..to), penalized by l2/2·x²; updates eta and
   * returns the new value. The step needs no check when the curvature h is at least half its bound l2 + m/4 (m rows,
   * p(1 - p) <= 1/4): then the quadratic upper bound already proves it lowers the objective. Otherwise it is halved
   * until it does.
   */
  const newton = (x: number, l2: number, rows: Int32Array, from: number, to: number): number => {
    let gradient = -l2 * x;
    let curvature = l2;
    for (let r = from; r < to; r++) {
      const j = rows[r];
      const p = sigmoid(eta[j]);
      gradient += label[j] - p;
      curvature += p * (1 - p);
    }
    if (!(curvature > 0)) return x;
    let step = gradient / curvature;
    if (2 * curvature < l2 + (to - from) / 4) {
      const current = objective(x, 0, l2, rows, from, to);
      while (Math.abs(step) > 1e-12 && objective(x, step, l2, rows, from, to) > current) step /= 2;
      if (Math.abs(step) <= 1e-12) return x;
    }
    for (let r = from; r < to; r++) eta[rows[r]] += step;
    return x + step;
  };
  /** Moves the mean effect of the block's entities with interactions into the intercept (predictions unchanged). */
  const recenter = (effects: Float64Array, start: Int32Array) => {
    let sum = 0;
    let present = 0;
    for (let e = 0; e < effects.length; e++) {
      if (start[e] === start[e + 1]) continue;
      sum += effects[e];
      present++;
    }
    const shift = present ? sum / present : 0;
    for (let e = 0; e < effects.length; e++) if (start[e] !== start[e + 1]) effects[e] -= shift;
    fit.intercept += shift;
  };

  for (let sweep = 0; sweep < LOGISTIC_MAX_SWEEPS; sweep++) {
    let change = 0;
    const intercept = newton(fit.intercept, 0, byUser, 0, count);
    change = Math.max(change, Math.abs(intercept - fit.intercept));
    fit.intercept = intercept;
    for (let u = 0; u < userCount; u++) {
      if (userStart[u] === userStart[u + 1]) continue;
      const value = newton(fit.users[u], LOGISTIC_L2, byUser, userStart[u], userStart[u + 1]);
      change = Math.max(change, Math.abs(value - fit.users[u]));
      fit.users[u] = value;
    }
    recenter(fit.users, userStart);
    for (let i = 0; i < itemCount; i++) {
      if (itemStart[i] === itemStart[i + 1]) continue;
      const value = newton(fit.items[i], LOGISTIC_L2, byItem, itemStart[i], itemStart[i + 1]);
      change = Math.max(change, Math.abs(value - fit.items[i]));
      fit.items[i] = value;
    }
    recenter(fit.items, itemStart);
    if (change < LOGISTIC_TOLERANCE) break;
  }
  return fit;
}

/** P(click) of the item + user logistic regression (logisticFit) fitted on the training interactions. */
export function logisticScores(dataset: TokenizedDataset, split: number, n: number): ScoredTargets {
  const fit = logisticFit(dataset);
  return scoreTargets(dataset, split, n, (user, t, u) => sigmoid(fit.intercept + fit.users[u] + fit.items[user.items[t]]));
}

/** `skip` > 0 reads the n interactions before the `skip` most recent ones instead (to show that recency matters). */
export function historyScores(dataset: TokenizedDataset, split: number, n: number, skip = 0): ScoredTargets {
  const tokenSets = dataset.itemTokens.map((tokens) => new Set(tokens));
  return scoreTargets(dataset, split, n, (user, t) => {
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

/** AUC of every baseline on the targets the model scores (split, t >= n). */
export function baselineAucs(dataset: TokenizedDataset, split: number, n: number): BaselineAucs {
  const auc = ({ scores, labels }: ScoredTargets) => rocAuc(scores, labels);
  const popularity = popularityScores(dataset, split, n);
  return {
    popularity: auc(popularity),
    userRate: auc(userRateScores(dataset, split, n)),
    logistic: auc(logisticScores(dataset, split, n)),
    history: auc(historyScores(dataset, split, n)),
    count: popularity.scores.length,
  };
}

/** Scores every target the model scores — t >= n and in `split` — users in dataset order, then by history index. */
function scoreTargets(
  dataset: TokenizedDataset,
  split: number,
  n: number,
  score: (user: User, index: number, userIndex: number) => number,
): ScoredTargets {
  const scores: number[] = [];
  const labels: number[] = [];
  for (let u = 0; u < dataset.users.length; u++) {
    const user = dataset.users[u];
    for (let t = Math.max(0, n); t < user.items.length; t++) {
      if (user.split[t] !== split) continue;
      scores.push(score(user, t, u));
      labels.push(user.labels[t]);
    }
  }
  return { scores: Float64Array.from(scores), labels: Uint8Array.from(labels) };
}

function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
