/** Hand-built TokenizedDatasets for the src/prompt tests. */
import type { Rng } from '../util/rng';
import { SPECIAL_TOKENS, SPLIT_TRAIN, TOKEN_ITEM_UNK, type TokenizedDataset } from './types';

/** First id free for item words. */
export const FIRST_WORD = SPECIAL_TOKENS.length;

export interface UserSpec {
  items: number[];
  labels: number[];
  /** SPLIT_* per interaction; default all train. */
  split?: number[];
}

export function makeDataset(itemTokens: number[][], users: UserSpec[]): TokenizedDataset {
  const words = Math.max(FIRST_WORD, ...itemTokens.flat().map((id) => id + 1));
  const tokens: string[] = [...SPECIAL_TOKENS];
  for (let id = FIRST_WORD; id < words; id++) tokens.push(`w${id}`);
  return {
    name: 'fixture',
    vocab: { tokens },
    itemTokens: itemTokens.map((ids) => Int32Array.from(ids)),
    itemIds: new Int32Array(itemTokens.length).fill(TOKEN_ITEM_UNK),
    itemTitles: itemTokens.map((_, i) => `item ${i}`),
    users: users.map((user, u) => ({
      userId: `u${u}`,
      items: Int32Array.from(user.items),
      labels: Uint8Array.from(user.labels),
      split: Uint8Array.from(user.split ?? user.items.map(() => SPLIT_TRAIN)),
    })),
  };
}

/** Items of 1..maxItemTokens distinct words each (item i's words identify it), users with histories of 0..maxHistory. */
export function randomDataset(
  rng: Rng,
  opts: { items: number; users: number; maxHistory: number; maxItemTokens: number; split?: (h: number, m: number) => number },
): TokenizedDataset {
  let next = FIRST_WORD;
  const itemTokens: number[][] = [];
  for (let i = 0; i < opts.items; i++) {
    const length = 1 + rng.int(opts.maxItemTokens);
    itemTokens.push(Array.from({ length }, () => next++));
  }
  const users: UserSpec[] = [];
  for (let u = 0; u < opts.users; u++) {
    const m = rng.int(opts.maxHistory + 1);
    const items = Array.from({ length: m }, () => rng.int(opts.items));
    const labels = items.map(() => rng.int(2));
    users.push({ items, labels, split: items.map((_, h) => (opts.split ? opts.split(h, m) : SPLIT_TRAIN)) });
  }
  return makeDataset(itemTokens, users);
}
