/**
 * From a raw interaction table to the TokenizedDataset the packer reads (method doc §1, §5):
 * labels, per-user chronological order, the minimum-history filter, the temporal split, and the tokenizer.
 *
 * Split rules (method doc §5):
 * - 'per-user' (default): for each user, the last `test` fraction of their interactions (at least 1) are test targets,
 *   the `valid` fraction before them (at least 1) validation, the rest training. Works without timestamps.
 * - 'global-time': one timestamp cut for everybody at the (1 - valid - test) and (1 - test) quantiles of all
 *   timestamps (80/10/10 by default). Needs timestamps; refused when so many interactions share a cut's timestamp
 *   that the training or validation split would be empty.
 * Either way a user's splits are non-decreasing along the history, so no test interaction is ever a training target
 * and a test target's context holds only interactions before it.
 */
import { SPECIAL_TOKENS, SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID, TOKEN_ITEM_UNK, type TokenizedDataset, type UserHistory } from '../prompt/types';
import { DataError } from './errors';
import type { FormatId, RawDataset } from './raw';
import { type DatasetStats, computeStats } from './stats';
import {
  DEFAULT_ITEM_ID_MIN_COUNT,
  DEFAULT_MAX_ITEM_IDS,
  DEFAULT_MAX_ITEM_TOKENS,
  DEFAULT_VOCAB_CAP,
  Tokenizer,
  buildVocabulary,
  itemIdToken,
  itemWords,
  itemsWithIds,
} from './tokenizer';

/** click = rating > threshold, or rating >= threshold when inclusive. */
export interface LabelRule {
  threshold: number;
  inclusive: boolean;
}

export interface SplitRule {
  kind: 'per-user' | 'global-time';
  valid: number;
  test: number;
}

export interface PreprocessOptions {
  /** Context interactions per target (the training n): users with fewer than n + 1 interactions are dropped. */
  n: number;
  /** null: the format's default (see defaultLabelRule). */
  labelRule: LabelRule | null;
  split: SplitRule;
  /** Word vocabulary size, special tokens included (item-id tokens come on top). */
  vocabCap: number;
  /** Training interactions an item needs for its own item-id token (rarer items share [ITEM-UNK]). */
  itemIdMinCount: number;
  /** Most item-id tokens (the most frequent items keep theirs). */
  maxItemIds: number;
  /** Most tokens one item renders to (before [SUM] and the label token). */
  maxItemTokens: number;
}

export const DEFAULT_PREPROCESS_OPTIONS: PreprocessOptions = {
  // Every user with a target at some n: each run's n then decides which targets it trains on and scores, and one
  // dataset (users, vocabulary, split) serves every n.
  n: 1,
  labelRule: null,
  split: { kind: 'per-user', valid: 0.1, test: 0.1 },
  vocabCap: DEFAULT_VOCAB_CAP,
  itemIdMinCount: DEFAULT_ITEM_ID_MIN_COUNT,
  maxItemIds: DEFAULT_MAX_ITEM_IDS,
  maxItemTokens: DEFAULT_MAX_ITEM_TOKENS,
};

/** Where the 0/1 labels came from. */
export type LabelSource = 'labels' | 'binary-ratings' | 'threshold';

const MOVIELENS_RULE: LabelRule = { threshold: 3, inclusive: false };
const BOOKCROSSING_RULE: LabelRule = { threshold: 5, inclusive: true };

/**
 * MovieLens and the built-in data: rating > 3; BookCrossing: rating >= 5 (of 10). Generic files: rating > 3 on a
 * scale up to 5, otherwise rating >= half the scale's top (BookCrossing's convention carried to other scales). One
 * typo (50 on a 1–5 scale) must not move the rule: see scaleTop.
 */
export function defaultLabelRule(format: FormatId, ratings: Float32Array): LabelRule {
  switch (format) {
    case 'bookcrossing':
      return BOOKCROSSING_RULE;
    case 'csv':
    case 'jsonl': {
      const top = scaleTop(ratings);
      return top <= 5 ? MOVIELENS_RULE : { threshold: top / 2, inclusive: true };
    }
    default:
      return MOVIELENS_RULE;
  }
}

const SCALE_TOP_SHARE = 0.001;

/**
 * The top of the rating scale: the largest rating at most twice a high rating that 0.1 % of the ratings (and at least
 * two) reach. A lone 10 on a 0–10 scale stays the top; a lone 50 among 1–5 ratings does not.
 */
function scaleTop(ratings: Float32Array): number {
  let max = -Infinity;
  for (const rating of ratings) if (rating > max) max = rating;
  if (max <= 5) return max;
  const sorted = Float32Array.from(ratings).sort();
  const high = sorted[Math.max(0, sorted.length - Math.max(2, Math.ceil(sorted.length * SCALE_TOP_SHARE)))];
  const limit = 2 * Math.max(high, 0);
  let top = sorted.length - 1;
  while (sorted[top] > limit) top--;
  return sorted[top];
}

export interface PreprocessResult {
  dataset: TokenizedDataset;
  stats: DatasetStats;
}

export function preprocess(raw: RawDataset, options: PreprocessOptions = DEFAULT_PREPROCESS_OPTIONS): PreprocessResult {
  validateOptions(raw, options);
  const { labels, source, rule } = makeLabels(raw, options.labelRule);
  const { order, duplicateRows, implicitRatings } = withoutUnusableRows(raw, chronologicalOrder(raw));

  // Keep users with at least n + 1 interactions (n context + 1 target), in order of first appearance.
  const kept: { user: number; start: number; end: number }[] = [];
  let droppedUsers = 0;
  let droppedInteractions = 0;
  for (let u = 0; u < raw.userKeys.length; u++) {
    const length = order.starts[u + 1] - order.starts[u];
    if (length >= options.n + 1) kept.push({ user: u, start: order.starts[u], end: order.starts[u + 1] });
    else if (length > 0) {
      droppedUsers++;
      droppedInteractions += length;
    }
  }
  if (kept.length === 0) {
    throw new DataError(
      `no user has ${options.n + 1} or more interactions (${droppedUsers} users, ${droppedInteractions} interactions)`,
      `users with at least ${options.n + 1} interactions (${options.n} before a target, then the target)`,
    );
  }

  const splitOf = assignSplits(raw, order.order, kept, options.split);

  // Compact item indices to the items that kept users touch (catalog order), counting training uses for the vocabulary.
  const newIndex = new Int32Array(raw.catalog.keys.length).fill(-1);
  for (const { start, end } of kept) for (let p = start; p < end; p++) newIndex[raw.item[order.order[p]]] = 0;
  const usedItems: number[] = [];
  newIndex.forEach((mark, item) => {
    if (mark === 0) newIndex[item] = usedItems.push(item) - 1;
  });
  const trainUses = new Float64Array(usedItems.length).fill(1);
  for (const { start, end } of kept) {
    for (let p = start; p < end; p++) if (splitOf[p] === SPLIT_TRAIN) trainUses[newIndex[raw.item[order.order[p]]]]++;
  }

  const words = usedItems.map((item) =>
    itemWords(raw.catalog.keys[item], raw.catalog.titles[item], raw.catalog.genres[item], options.maxItemTokens),
  );
  const trainCounts = trainUses.map((uses) => uses - 1);
  const idItems = itemsWithIds(
    trainCounts,
    usedItems.map((item) => raw.catalog.keys[item]),
    options.itemIdMinCount,
    options.maxItemIds,
  );
  const idTokens = idItems.map((item) => itemIdToken(raw.catalog.keys[usedItems[item]]));
  const tokenizer = new Tokenizer(buildVocabulary(words, trainUses, options.vocabCap, idTokens));
  // Only the items chosen above have their own id token (a rare item without text may have its key as a word).
  const idTokenOf = new Int32Array(usedItems.length).fill(TOKEN_ITEM_UNK);
  idItems.forEach((item, i) => (idTokenOf[item] = tokenizer.encodeWords([idTokens[i]])[0]));

  // Every user's arrays are views of three buffers (and every item's tokens of one): posting the dataset from the data
  // worker then moves a handful of buffers, whatever the number of users (postMessage's cost grows with the square of
  // the buffers it transfers: a buffer per user hung the page on millions of users).
  const total = kept.reduce((sum, { start, end }) => sum + end - start, 0);
  const allItems = new Int32Array(total);
  const allLabels = new Uint8Array(total);
  const allSplits = new Uint8Array(total);
  let offset = 0;
  const users: UserHistory[] = kept.map(({ user, start, end }) => {
    const from = offset;
    for (let p = start; p < end; p++, offset++) {
      const row = order.order[p];
      allItems[offset] = newIndex[raw.item[row]];
      allLabels[offset] = labels[row];
      allSplits[offset] = splitOf[p];
    }
    return {
      userId: raw.userKeys[user],
      items: allItems.subarray(from, offset),
      labels: allLabels.subarray(from, offset),
      split: allSplits.subarray(from, offset),
    };
  });
  const dataset: TokenizedDataset = {
    name: raw.name,
    vocab: tokenizer.vocab,
    itemTokens: viewsOfOneBuffer(words.map((list) => tokenizer.encodeWords(list))),
    itemIds: idTokenOf,
    itemTitles: usedItems.map((item) => displayTitle(raw.catalog.titles[item] || `item ${raw.catalog.keys[item]}`)),
    users,
  };
  const stats = computeStats(dataset, {
    droppedUsers,
    minHistory: options.n + 1,
    droppedInteractions,
    duplicateRows,
    implicitRatings,
    labelSource: source,
    labelRule: rule,
    hasTimestamps: raw.timestamp !== null,
    split: options.split,
  });
  return { dataset, stats };
}

/** Titles are shown whole in the page: a longer one (a damaged file) is cut, so it cannot stretch the page. */
const MAX_TITLE_CHARS = 200;

function displayTitle(title: string): string {
  return title.length <= MAX_TITLE_CHARS ? title : `${title.slice(0, MAX_TITLE_CHARS - 1)}…`;
}

/** The arrays copied end to end into one buffer, each given back as a view of it. */
function viewsOfOneBuffer(arrays: readonly Int32Array[]): Int32Array[] {
  const all = new Int32Array(arrays.reduce((sum, array) => sum + array.length, 0));
  let offset = 0;
  return arrays.map((array) => {
    all.set(array, offset);
    offset += array.length;
    return all.subarray(offset - array.length, offset);
  });
}

function validateOptions(raw: RawDataset, options: PreprocessOptions): void {
  checkPreprocessOptions(options);
  if (options.split.kind === 'global-time' && raw.timestamp === null) {
    throw new DataError(`${raw.name} has no timestamps, so a global timestamp cut is impossible`, "the 'per-user' split");
  }
}

/** The checks of the options alone (no data needed), so a caller can fail before reading any file. */
export function checkPreprocessOptions(options: PreprocessOptions): void {
  if (!Number.isInteger(options.n) || options.n < 1) {
    throw new DataError(`n = ${options.n} is not a positive integer`, 'n >= 1 context interactions');
  }
  const { valid, test } = options.split;
  if (!(valid >= 0 && test > 0 && valid + test < 1)) {
    throw new DataError(`split fractions valid ${valid}, test ${test}`, 'valid >= 0, test > 0 and valid + test < 1');
  }
  if (!(options.vocabCap > SPECIAL_TOKENS.length)) {
    throw new DataError(`vocabulary cap ${options.vocabCap}`, `at least ${SPECIAL_TOKENS.length + 1} tokens (the ${SPECIAL_TOKENS.length} special tokens and a word)`);
  }
  if (options.maxItemTokens < 1) throw new DataError(`max item tokens ${options.maxItemTokens}`, 'at least 1');
  if (!(options.itemIdMinCount >= 1)) throw new DataError(`item-id minimum count ${options.itemIdMinCount}`, 'at least 1');
  if (!(options.maxItemIds >= 0)) throw new DataError(`item-id cap ${options.maxItemIds}`, '0 or more');
}

function makeLabels(
  raw: RawDataset,
  requested: LabelRule | null,
): { labels: Uint8Array; source: LabelSource; rule: LabelRule | null } {
  if (raw.label) return { labels: raw.label, source: 'labels', rule: null };
  const ratings = raw.rating!;
  let binary = true;
  for (let i = 0; i < raw.count && binary; i++) binary = ratings[i] === 0 || ratings[i] === 1;
  // A generic file whose "ratings" are all 0/1 already holds click labels.
  if (binary && requested === null && (raw.format === 'csv' || raw.format === 'jsonl')) {
    return { labels: Uint8Array.from(ratings), source: 'binary-ratings', rule: null };
  }
  const rule = requested ?? defaultLabelRule(raw.format, ratings);
  const labels = new Uint8Array(raw.count);
  for (let i = 0; i < raw.count; i++) {
    labels[i] = (rule.inclusive ? ratings[i] >= rule.threshold : ratings[i] > rule.threshold) ? 1 : 0;
  }
  return { labels, source: 'threshold', rule };
}

/**
 * Row indices grouped by user (users in index order), each user's rows in time order: by timestamp, equal timestamps
 * (and files without timestamps) in file order. starts[u]..starts[u+1] is user u's range.
 */
function chronologicalOrder(raw: RawDataset): { order: Int32Array; starts: Int32Array } {
  const starts = new Int32Array(raw.userKeys.length + 1);
  for (let i = 0; i < raw.count; i++) starts[raw.user[i] + 1]++;
  for (let u = 0; u < raw.userKeys.length; u++) starts[u + 1] += starts[u];
  const next = starts.slice(0, raw.userKeys.length);
  const order = new Int32Array(raw.count);
  // A counting sort visits rows in file order, so each user's rows start out in file order.
  for (let i = 0; i < raw.count; i++) order[next[raw.user[i]]++] = i;
  const time = raw.timestamp;
  if (time) {
    for (let u = 0; u < raw.userKeys.length; u++) {
      const rows = order.subarray(starts[u], starts[u + 1]);
      // Logs are usually written in time order already: sort only the users whose rows are not.
      let sorted = true;
      for (let i = 1; i < rows.length && sorted; i++) sorted = time[rows[i - 1]] <= time[rows[i]];
      if (!sorted) rows.sort((a, b) => time[a] - time[b] || a - b);
    }
  }
  return { order, starts };
}

/**
 * The order without the rows that are not interactions: exact copies of an earlier row (same user, item, rating or
 * label, and timestamp: a copy of a test target could sit in its own context) and BookCrossing's implicit 0 ratings
 * (a book seen, not rated: the paper's reference code drops them too). Without timestamps a copy cannot be told from
 * the same item shown again (click logs repeat items), so rows are kept.
 */
function withoutUnusableRows(
  raw: RawDataset,
  { order, starts }: { order: Int32Array; starts: Int32Array },
): { order: { order: Int32Array; starts: Int32Array }; duplicateRows: number; implicitRatings: number } {
  const { item, rating, label, timestamp } = raw;
  const dropImplicit = raw.format === 'bookcrossing' && rating !== null;
  const same = (a: number, b: number) => item[a] === item[b] && (rating ? rating[a] === rating[b] : label![a] === label![b]);
  const kept = new Int32Array(order.length);
  const keptStarts = new Int32Array(starts.length);
  let duplicateRows = 0;
  let implicitRatings = 0;
  let count = 0;
  for (let u = 0; u + 1 < starts.length; u++) {
    keptStarts[u] = count;
    // The order is by time: a row's copies sit in its run of equal timestamps.
    let runStart = count;
    for (let p = starts[u]; p < starts[u + 1]; p++) {
      const row = order[p];
      if (dropImplicit && rating![row] === 0) {
        implicitRatings++;
        continue;
      }
      let copy = false;
      if (timestamp) {
        if (count > runStart && timestamp[kept[count - 1]] !== timestamp[row]) runStart = count;
        for (let q = runStart; q < count && !copy; q++) copy = same(kept[q], row);
      }
      if (copy) duplicateRows++;
      else kept[count++] = row;
    }
  }
  keptStarts[starts.length - 1] = count;
  return { order: { order: kept.subarray(0, count), starts: keptStarts }, duplicateRows, implicitRatings };
}

/** Split of each ordered row (indexed like `order`). */
function assignSplits(
  raw: RawDataset,
  order: Int32Array,
  kept: { start: number; end: number }[],
  rule: SplitRule,
): Uint8Array {
  const split = new Uint8Array(order.length);
  if (rule.kind === 'per-user') {
    for (const { start, end } of kept) {
      const length = end - start;
      const test = Math.max(1, Math.floor(length * rule.test));
      const valid = rule.valid > 0 ? Math.min(length - test - 1, Math.max(1, Math.floor(length * rule.valid))) : 0;
      split.fill(SPLIT_VALID, end - test - valid, end - test);
      split.fill(SPLIT_TEST, end - test, end);
    }
    return split;
  }
  const time = raw.timestamp!;
  const keptTimes = new Float64Array(kept.reduce((sum, { start, end }) => sum + end - start, 0));
  let k = 0;
  for (const { start, end } of kept) for (let p = start; p < end; p++) keptTimes[k++] = time[order[p]];
  keptTimes.sort();
  const validAt = Math.floor(keptTimes.length * (1 - rule.valid - rule.test));
  const testAt = Math.floor(keptTimes.length * (1 - rule.test));
  const validCut = keptTimes[validAt];
  const testCut = keptTimes[testAt];
  // Interactions of one timestamp cannot be split: when that many share the time a cut falls on, a split is empty.
  if (validAt > 0 && validCut === keptTimes[0]) throw tiedCut('training', keptTimes, validCut, testCut, rule);
  if (rule.valid > 0 && validAt < testAt && validCut === testCut) throw tiedCut('validation', keptTimes, validCut, testCut, rule);
  for (const { start, end } of kept) {
    for (let p = start; p < end; p++) {
      const t = time[order[p]];
      split[p] = t >= testCut ? SPLIT_TEST : t >= validCut ? SPLIT_VALID : SPLIT_TRAIN;
    }
  }
  return split;
}

/** Why a global time cut leaves the `empty` split without interactions: the many that share the validation cut's time. */
function tiedCut(empty: 'training' | 'validation', sortedTimes: Float64Array, validCut: number, testCut: number, rule: SplitRule): DataError {
  let tied = 0;
  for (const time of sortedTimes) if (time === validCut) tied++;
  const percent = (share: number) => `${Math.round(share * 100)} %`;
  const inOrder = (share: number) => `(at ${percent(share)} of the interactions in time order)`;
  const validation = `the validation cut ${inOrder(1 - rule.valid - rule.test)}`;
  const cuts =
    rule.valid === 0
      ? `the test cut ${inOrder(1 - rule.test)} falls`
      : testCut === validCut
        ? `both ${validation} and the test cut (at ${percent(1 - rule.test)}) fall`
        : `${validation} falls`;
  return new DataError(
    `the global time cut leaves no ${empty} interactions: ${tied} of the ${sortedTimes.length} interactions share the timestamp ${validCut}, where ${cuts}, and interactions of one time cannot be split`,
    "timestamps that differ around the cuts (or the 'per-user' split, which cuts each user's own history)",
  );
}
