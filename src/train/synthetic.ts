import {
  SPECIAL_TOKENS,
  SPLIT_TEST,
  SPLIT_TRAIN,
  SPLIT_VALID,
  TOKEN_ITEM_UNK,
  type TokenizedDataset,
  type UserHistory,
} from '../prompt/types';
import { Rng } from '../util/rng';

/**
 * Small tasks whose labels are a function of the history, for engine tests. Items are `item<i> genre<g>`; the last
 * two interactions of each user are test targets, the two before them validation.
 *
 * - 'genre-matching': every user likes a hidden half of the genres and an interaction is a click iff its genre is
 *   liked. No item carries global signal: the model must match the target's genre against the context's genre/label
 *   pairs (a two-layer circuit; slow to discover for tiny models).
 * - 'propensity': every user clicks with probability `high` or `low` (half the users each), whatever the item. The
 *   model must read the labels in the context (one attention layer suffices).
 */
export function syntheticDataset(options: {
  task: 'genre-matching' | 'propensity';
  users: number;
  historyLength: number;
  genres?: number;
  itemsPerGenre?: number;
  /** genre-matching: probability that a label is flipped. */
  noise?: number;
  /** propensity: click rates of the two kinds of users. */
  high?: number;
  low?: number;
  seed: number;
}): TokenizedDataset {
  const { users, historyLength, genres = 4, itemsPerGenre = 3, noise = 0.02, high = 0.95, low = 0.05, seed } = options;
  const rng = new Rng(seed);
  const base = SPECIAL_TOKENS.length;
  const tokens: string[] = [...SPECIAL_TOKENS];
  for (let g = 0; g < genres; g++) tokens.push(`genre${g}`);
  for (let i = 0; i < genres * itemsPerGenre; i++) tokens.push(`item${i}`);
  const itemTokens: Int32Array[] = [];
  const itemTitles: string[] = [];
  for (let i = 0; i < genres * itemsPerGenre; i++) {
    const genre = i % genres;
    itemTokens.push(Int32Array.from([base + genres + i, base + genre]));
    itemTitles.push(`item${i} (genre${genre})`);
  }
  const histories: UserHistory[] = [];
  for (let u = 0; u < users; u++) {
    const liked = rng.shuffle(Array.from({ length: genres }, (_, g) => g)).slice(0, genres / 2);
    const rate = rng.next() < 0.5 ? high : low;
    const items = new Int32Array(historyLength);
    const labels = new Uint8Array(historyLength);
    const split = new Uint8Array(historyLength);
    for (let t = 0; t < historyLength; t++) {
      items[t] = rng.int(itemTokens.length);
      if (options.task === 'propensity') {
        labels[t] = rng.next() < rate ? 1 : 0;
      } else {
        const clicked = liked.includes(items[t] % genres);
        labels[t] = (rng.next() < noise ? !clicked : clicked) ? 1 : 0;
      }
      split[t] = t >= historyLength - 2 ? SPLIT_TEST : t >= historyLength - 4 ? SPLIT_VALID : SPLIT_TRAIN;
    }
    histories.push({ userId: `u${u}`, items, labels, split });
  }
  const itemIds = new Int32Array(itemTokens.length).fill(TOKEN_ITEM_UNK);
  return { name: options.task, vocab: { tokens }, itemTokens, itemIds, itemTitles, users: histories };
}
