import {
  SPECIAL_TOKENS,
  SPLIT_TEST,
  SPLIT_TRAIN,
  SPLIT_VALID,
  type TokenizedDataset,
  type UserHistory,
} from '../prompt/types';
import { Rng } from '../util/rng';

/**
 * A small task whose labels are a learnable function of the history, for engine tests: every user likes a hidden half
 * of the genres, and an interaction is a click iff its genre is liked (with `noise` label flips). Items carry no
 * global signal (each genre is liked by half the users), so only reading the context's genre/label pairs predicts a
 * target: the model must match the target's genre token against the context.
 */
export function genreMatchingDataset(options: {
  users: number;
  historyLength: number;
  genres?: number;
  itemsPerGenre?: number;
  noise?: number;
  seed: number;
}): TokenizedDataset {
  const { users, historyLength, genres = 4, itemsPerGenre = 3, noise = 0.02, seed } = options;
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
    const items = new Int32Array(historyLength);
    const labels = new Uint8Array(historyLength);
    const split = new Uint8Array(historyLength);
    for (let t = 0; t < historyLength; t++) {
      items[t] = rng.int(itemTokens.length);
      const clicked = liked.includes(items[t] % genres);
      labels[t] = (rng.next() < noise ? !clicked : clicked) ? 1 : 0;
      split[t] = t >= historyLength - 2 ? SPLIT_TEST : t >= historyLength - 4 ? SPLIT_VALID : SPLIT_TRAIN;
    }
    histories.push({ userId: `u${u}`, items, labels, split });
  }
  return { name: 'genre-matching', vocab: { tokens }, itemTokens, itemTitles, users: histories };
}
