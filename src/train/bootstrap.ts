/**
 * Bootstrap confidence intervals for ROC AUC over targets, so a run's AUC (and the gap between two scorers on the
 * same targets) comes with how much of it the finite test set could explain.
 *
 * Each resample draws multinomial counts (how often each target is picked, n draws with replacement) and computes the
 * count-weighted Mann–Whitney AUC in one pass over an order sorted once: O(n) per resample instead of a sort.
 */
import { Rng } from '../util/rng';
import { allFinite, rocAuc } from './metrics';

/** A point estimate and its percentile interval (95 % by default). */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Seed of the resampling stream (default 1): the same seed gives the same interval. */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

const DEFAULT_RESAMPLES = 1000;
const DEFAULT_SEED = 1;
const DEFAULT_LEVEL = 0.95;

const NO_INTERVAL: Readonly<Interval> = { estimate: NaN, low: NaN, high: NaN };

/** A scorer's targets in ascending score order, cut into groups of tied scores. */
interface Ranking {
  /** Target indices in ascending score order. */
  order: Int32Array;
  /** Whether order[j] is a positive. */
  positive: Uint8Array;
  /** Tie group g is order[groupStart[g]] .. order[groupStart[g + 1] - 1]; length = groups + 1. */
  groupStart: Int32Array;
}

function rank(scores: ArrayLike<number>, labels: ArrayLike<number>): Ranking {
  const count = scores.length;
  const order = Int32Array.from({ length: count }, (_, i) => i).sort((x, y) => scores[x] - scores[y]);
  const positive = Uint8Array.from(order, (i) => (labels[i] > 0.5 ? 1 : 0));
  const starts: number[] = [];
  for (let j = 0; j < count; j++) if (j === 0 || scores[order[j]] !== scores[order[j - 1]]) starts.push(j);
  starts.push(count);
  return { order, positive, groupStart: Int32Array.from(starts) };
}

/**
 * AUC with target i counted weights[i] times: the weighted share of (positive, negative) pairs ranked right, a tied
 * pair counting one half. NaN when either class has zero total weight.
 */
function rankedWeightedAuc(ranking: Ranking, weights: ArrayLike<number>): number {
  const { order, positive, groupStart } = ranking;
  let negativesBelow = 0;
  let positivesTotal = 0;
  let pairsRight = 0;
  for (let g = 0; g + 1 < groupStart.length; g++) {
    let groupPositives = 0;
    let groupNegatives = 0;
    for (let j = groupStart[g]; j < groupStart[g + 1]; j++) {
      const w = weights[order[j]];
      if (positive[j]) groupPositives += w;
      else groupNegatives += w;
    }
    pairsRight += groupPositives * (negativesBelow + 0.5 * groupNegatives);
    negativesBelow += groupNegatives;
    positivesTotal += groupPositives;
  }
  if (positivesTotal === 0 || negativesBelow === 0) return NaN;
  return pairsRight / (positivesTotal * negativesBelow);
}

/** The AUC of scores with target i counted weights[i] times (ties averaged); with unit weights it is rocAuc. */
export function weightedRocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, weights: ArrayLike<number>): number {
  if (scores.length !== labels.length || weights.length !== scores.length || !allFinite(scores)) return NaN;
  return rankedWeightedAuc(rank(scores, labels), weights);
}

/** Both classes present, scores finite, lengths matching: the AUC exists. */
function aucDefined(labels: ArrayLike<number>, ...scorers: ArrayLike<number>[]): boolean {
  if (!scorers.every((scores) => scores.length === labels.length && allFinite(scores))) return false;
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > 0.5) positives++;
  return positives > 0 && positives < labels.length;
}

/**
 * Runs the bootstrap: for each resample, draws multinomial counts over the targets and hands every ranking's weighted
 * AUC to `record`. Returns how many resamples had both classes (the others are skipped).
 */
function resample(count: number, rankings: Ranking[], options: BootstrapOptions, record: (aucs: number[]) => void): number {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const rng = new Rng(options.seed ?? DEFAULT_SEED);
  const counts = new Int32Array(count);
  const aucs = new Array<number>(rankings.length);
  let kept = 0;
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    for (let draw = 0; draw < count; draw++) counts[rng.int(count)]++;
    let defined = true;
    for (let k = 0; k < rankings.length; k++) {
      aucs[k] = rankedWeightedAuc(rankings[k], counts);
      if (Number.isNaN(aucs[k])) defined = false;
    }
    if (!defined) continue;
    record(aucs);
    kept++;
  }
  return kept;
}

/** Percentile interval of the kept resample values around `estimate`; NaN bounds when under half the resamples were kept. */
function percentileInterval(estimate: number, values: number[], resamples: number, level: number): Interval {
  if (values.length === 0 || values.length * 2 < resamples) return { estimate, low: NaN, high: NaN };
  const sorted = Float64Array.from(values).sort();
  const alpha = (1 - level) / 2;
  return { estimate, low: quantile(sorted, alpha), high: quantile(sorted, 1 - alpha) };
}

/** Quantile of sorted values by linear interpolation between order statistics. */
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

function checkOptions(options: BootstrapOptions): { resamples: number; level: number } {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const level = options.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  return { resamples, level };
}

/** CI of the AUC of one scorer over targets (resampling targets with replacement). */
export function aucInterval(scores: ArrayLike<number>, labels: ArrayLike<number>, options: BootstrapOptions = {}): Interval {
  const { resamples, level } = checkOptions(options);
  if (!aucDefined(labels, scores)) return { ...NO_INTERVAL };
  const values: number[] = [];
  resample(labels.length, [rank(scores, labels)], options, ([auc]) => values.push(auc));
  return percentileInterval(rocAuc(scores, labels), values, resamples, level);
}

/**
 * Paired bootstrap: the same resampled targets for both scorers, so their difference's interval accounts for the
 * correlation. Returns intervals for AUC(a), AUC(b) and AUC(b) - AUC(a).
 */
export function pairedAucInterval(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: BootstrapOptions = {},
): { a: Interval; b: Interval; difference: Interval } {
  const { resamples, level } = checkOptions(options);
  if (!aucDefined(labels, a, b)) return { a: { ...NO_INTERVAL }, b: { ...NO_INTERVAL }, difference: { ...NO_INTERVAL } };
  const valuesA: number[] = [];
  const valuesB: number[] = [];
  const differences: number[] = [];
  resample(labels.length, [rank(a, labels), rank(b, labels)], options, ([aucA, aucB]) => {
    valuesA.push(aucA);
    valuesB.push(aucB);
    differences.push(aucB - aucA);
  });
  const estimateA = rocAuc(a, labels);
  const estimateB = rocAuc(b, labels);
  return {
    a: percentileInterval(estimateA, valuesA, resamples, level),
    b: percentileInterval(estimateB, valuesB, resamples, level),
    difference: percentileInterval(estimateB - estimateA, differences, resamples, level),
  };
}

/**
 * Paired bootstrap of the mean AUC gain over several (a, b) pairs on the same targets (e.g. one pair per seed): each
 * resample uses the same targets for every scorer, so the interval of mean AUC(b) - AUC(a) reflects the test set's
 * sampling error without double-counting what the pairs share. All NaN without pairs, or when any AUC is undefined.
 */
export function pairedMeanDifference(
  pairs: readonly { a: ArrayLike<number>; b: ArrayLike<number> }[],
  labels: ArrayLike<number>,
  options: BootstrapOptions = {},
): Interval {
  const { resamples, level } = checkOptions(options);
  const scorers = pairs.flatMap(({ a, b }) => [a, b]);
  if (!pairs.length || !aucDefined(labels, ...scorers)) return { ...NO_INTERVAL };
  const meanDifference = (aucs: ArrayLike<number>) => {
    let sum = 0;
    for (let p = 0; p < pairs.length; p++) sum += aucs[2 * p + 1] - aucs[2 * p];
    return sum / pairs.length;
  };
  const differences: number[] = [];
  resample(labels.length, scorers.map((scores) => rank(scores, labels)), options, (aucs) => differences.push(meanDifference(aucs)));
  return percentileInterval(meanDifference(scorers.map((scores) => rocAuc(scores, labels))), differences, resamples, level);
}
