/**
 * Word-level tokenizer over item text. Deterministic: the same items and counts give the same vocabulary everywhere.
 * - Title words: lower-cased runs of letters and digits (inner apostrophes kept: "children's").
 * - Each genre is one token ("Sci-Fi" -> "sci-fi"), so genres survive intact.
 * - An item without any text becomes one item-id token, `item_<key>`.
 * - Item-id tokens: one per item with at least DEFAULT_ITEM_ID_MIN_COUNT training interactions (up to a cap, most
 *   frequent first); rarer items share [ITEM-UNK], since an embedding seen a few times learns nothing but noise.
 * - The vocabulary keeps the special tokens first, then the item-id tokens, then the most frequent words up to the
 *   word cap; other words map to [UNK].
 * Every token is free of whitespace, so a token sequence renders to text and parses back to the same ids.
 */
import { SPECIAL_TOKENS, TOKEN_DISLIKE, TOKEN_LIKE, TOKEN_SUM, TOKEN_UNK, type TokenizedDataset, type Vocabulary } from '../prompt/types';

export const DEFAULT_VOCAB_CAP = 4096;
export const DEFAULT_MAX_ITEM_TOKENS = 8;
export const DEFAULT_ITEM_ID_MIN_COUNT = 3;
export const DEFAULT_MAX_ITEM_IDS = 50_000;

export function titleWords(title: string): string[] {
  return title.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? [];
}

export function genreToken(genre: string): string {
  return genre.trim().toLowerCase().replace(/\s+/g, '-');
}

export function itemIdToken(key: string): string {
  return `item_${key.trim().replace(/\s+/g, '_')}`;
}

/** The words of one item: title words, then its genres (genres are kept when the cap bites), or its item-id token. */
export function itemWords(key: string, title: string, genres: readonly string[], maxItemTokens: number): string[] {
  const genreTokens = [...new Set(genres.map(genreToken).filter((token) => token !== ''))];
  const words = titleWords(title);
  if (words.length === 0 && genreTokens.length === 0) return [itemIdToken(key)];
  const keptGenres = genreTokens.slice(0, words.length > 0 ? Math.max(0, maxItemTokens - 1) : maxItemTokens);
  return [...words.slice(0, maxItemTokens - keptGenres.length), ...keptGenres];
}

/**
 * Special tokens, then the item-id tokens in the order given, then words by descending weight (ties in code-unit
 * order), with special tokens and words `cap` tokens in all. weights[i] is how much item i's words count; the data
 * layer passes 1 + the item's training interactions, so the cap keeps the words the model will see most without
 * looking at validation or test targets. A word that is also an item-id token (an item without text) is kept once.
 */
export function buildVocabulary(
  words: readonly string[][],
  weights: ArrayLike<number>,
  cap: number,
  idTokens: readonly string[] = [],
): Vocabulary {
  const ids = new Set(idTokens);
  const weightOf = new Map<string, number>();
  words.forEach((list, i) => {
    for (const word of new Set(list)) if (!ids.has(word)) weightOf.set(word, (weightOf.get(word) ?? 0) + weights[i]);
  });
  const ranked = [...weightOf.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([word]) => word);
  return { tokens: [...SPECIAL_TOKENS, ...ids, ...ranked.slice(0, Math.max(0, cap - SPECIAL_TOKENS.length))] };
}

/**
 * The items that get their own item-id token: at least minCount training interactions, the most frequent first (ties
 * by key in code-unit order, so the vocabulary does not depend on the order a file lists its items), at most maxIds.
 */
export function itemsWithIds(trainCounts: ArrayLike<number>, keys: readonly string[], minCount: number, maxIds: number): number[] {
  const eligible: number[] = [];
  for (let item = 0; item < trainCounts.length; item++) if (trainCounts[item] >= minCount) eligible.push(item);
  eligible.sort((a, b) => trainCounts[b] - trainCounts[a] || (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
  return eligible.slice(0, maxIds);
}

export class Tokenizer {
  private readonly ids: Map<string, number>;

  constructor(readonly vocab: Vocabulary) {
    this.ids = new Map(vocab.tokens.map((token, id) => [token, id]));
  }

  /** Ids of tokens already normalized (titleWords / genreToken / itemIdToken, or special tokens). */
  encodeWords(words: readonly string[]): Int32Array {
    return Int32Array.from(words, (word) => this.ids.get(word) ?? TOKEN_UNK);
  }

  /** Ids of rendered text: whitespace-separated tokens, as decode() writes them. */
  encode(text: string): Int32Array {
    const trimmed = text.trim();
    return this.encodeWords(trimmed === '' ? [] : trimmed.split(/\s+/));
  }

  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (id) => this.vocab.tokens[id] ?? SPECIAL_TOKENS[TOKEN_UNK]).join(' ');
  }
}

/** The token ids of one interaction as every prompt lays it out: item tokens, [SUM], then the label token. */
export function interactionTokens(dataset: TokenizedDataset, item: number, label: number): Int32Array {
  const itemTokens = dataset.itemTokens[item];
  const tokens = new Int32Array(itemTokens.length + 2);
  tokens.set(itemTokens);
  tokens[itemTokens.length] = TOKEN_SUM;
  tokens[itemTokens.length + 1] = label ? TOKEN_LIKE : TOKEN_DISLIKE;
  return tokens;
}

/** The text of one interaction, for a person: `silent river drama [SUM] [LIKE]`. */
export function renderInteraction(dataset: TokenizedDataset, item: number, label: number): string {
  return Array.from(interactionTokens(dataset, item, label), (id) => dataset.vocab.tokens[id]).join(' ');
}
