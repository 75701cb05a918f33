/** Dataset statistics for the UI. */
import { SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID, TOKEN_ITEM_UNK, TOKEN_UNK, type TokenizedDataset } from '../prompt/types';
import type { LabelRule, LabelSource, SplitRule } from './preprocess';

export interface Distribution {
  min: number;
  max: number;
  mean: number;
  median: number;
  p10: number;
  p90: number;
  /** Equal-width bins over [min, max]: count of values in [from, to) (the last bin includes max). */
  histogram: { from: number; to: number; count: number }[];
}

export interface DatasetStats {
  users: number;
  items: number;
  interactions: number;
  positiveRate: number;
  /** Users (and their interactions) dropped for having fewer than minHistory interactions. */
  droppedUsers: number;
  /** The fewest interactions a kept user has: the preprocessing's n + 1 (not the run's n: one dataset serves every n). */
  minHistory: number;
  droppedInteractions: number;
  /** Rows left out as exact copies of an earlier row (same user, item, rating or label, timestamp; timed data only). */
  duplicateRows: number;
  /** BookCrossing's implicit 0 ratings, left out (a book seen, not rated). */
  implicitRatings: number;
  historyLength: Distribution;
  /** Tokens of one rendered interaction: item tokens + [SUM] + label token. */
  tokensPerInteraction: Distribution;
  vocabSize: number;
  /** Items with their own item-id token (the others share [ITEM-UNK]). */
  itemIdTokens: number;
  /** Share of training interactions whose item has its own item-id token. */
  itemIdCoverage: number;
  /** Share of item tokens that are [UNK] (words past the vocabulary cap). */
  unknownTokenRate: number;
  splits: Record<'train' | 'valid' | 'test', { interactions: number; positiveRate: number }>;
  labelSource: LabelSource;
  /** The rule that made the labels (null when the data had 0/1 labels). */
  labelRule: LabelRule | null;
  hasTimestamps: boolean;
  split: SplitRule;
}

export interface StatsContext {
  droppedUsers: number;
  minHistory: number;
  droppedInteractions: number;
  duplicateRows: number;
  implicitRatings: number;
  labelSource: LabelSource;
  labelRule: LabelRule | null;
  hasTimestamps: boolean;
  split: SplitRule;
}

const HISTOGRAM_BINS = 10;

export function computeStats(dataset: TokenizedDataset, context: StatsContext): DatasetStats {
  const interactions = dataset.users.reduce((sum, user) => sum + user.items.length, 0);
  const perSplit = [SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST].map(() => ({ interactions: 0, positives: 0 }));
  const tokenLengths = new Float64Array(interactions);
  let positives = 0;
  let k = 0;
  let trainWithId = 0;
  for (const user of dataset.users) {
    for (let i = 0; i < user.items.length; i++) {
      positives += user.labels[i];
      if (user.split[i] === SPLIT_TRAIN && dataset.itemIds[user.items[i]] !== TOKEN_ITEM_UNK) trainWithId++;
      perSplit[user.split[i]].interactions++;
      perSplit[user.split[i]].positives += user.labels[i];
      tokenLengths[k++] = dataset.itemTokens[user.items[i]].length + 2;
    }
  }
  let itemTokenCount = 0;
  let unknown = 0;
  for (const tokens of dataset.itemTokens) {
    itemTokenCount += tokens.length;
    for (const id of tokens) if (id === TOKEN_UNK) unknown++;
  }
  const splitStats = (s: number) => ({
    interactions: perSplit[s].interactions,
    positiveRate: perSplit[s].interactions ? perSplit[s].positives / perSplit[s].interactions : 0,
  });
  return {
    users: dataset.users.length,
    items: dataset.itemTokens.length,
    interactions,
    positiveRate: interactions ? positives / interactions : 0,
    droppedUsers: context.droppedUsers,
    minHistory: context.minHistory,
    droppedInteractions: context.droppedInteractions,
    duplicateRows: context.duplicateRows,
    implicitRatings: context.implicitRatings,
    historyLength: distribution(Float64Array.from(dataset.users, (user) => user.items.length)),
    tokensPerInteraction: distribution(tokenLengths),
    vocabSize: dataset.vocab.tokens.length,
    itemIdTokens: dataset.itemIds.reduce((count, id) => count + (id === TOKEN_ITEM_UNK ? 0 : 1), 0),
    itemIdCoverage: perSplit[SPLIT_TRAIN].interactions ? trainWithId / perSplit[SPLIT_TRAIN].interactions : 0,
    unknownTokenRate: itemTokenCount ? unknown / itemTokenCount : 0,
    splits: { train: splitStats(SPLIT_TRAIN), valid: splitStats(SPLIT_VALID), test: splitStats(SPLIT_TEST) },
    labelSource: context.labelSource,
    labelRule: context.labelRule,
    hasTimestamps: context.hasTimestamps,
    split: context.split,
  };
}

/** Summary of values (sorted in place). */
function distribution(values: Float64Array): Distribution {
  if (values.length === 0) return { min: 0, max: 0, mean: 0, median: 0, p10: 0, p90: 0, histogram: [] };
  values.sort();
  const quantile = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  const min = values[0];
  const max = values[values.length - 1];
  const width = (max - min) / HISTOGRAM_BINS || 1;
  const bins = max === min ? 1 : HISTOGRAM_BINS;
  const histogram = Array.from({ length: bins }, (_, b) => ({ from: min + b * width, to: min + (b + 1) * width, count: 0 }));
  let sum = 0;
  for (const v of values) {
    sum += v;
    histogram[Math.min(bins - 1, Math.floor((v - min) / width))].count++;
  }
  return { min, max, mean: sum / values.length, median: quantile(0.5), p10: quantile(0.1), p90: quantile(0.9), histogram };
}
