/** Vocabularies in short, to tell at a glance whether a stored model's token ids mean the same words as a dataset's. */
import type { VocabFingerprint } from './run-types';

/** Two 32-bit FNV-1a hashes (different offsets) over the tokens in order, separated by NUL. */
export function vocabFingerprint(tokens: readonly string[]): VocabFingerprint {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (const token of tokens) {
    for (let i = 0; i <= token.length; i++) {
      const c = i < token.length ? token.charCodeAt(i) : 0;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
  }
  const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
  return { size: tokens.length, hash: hex(a) + hex(b) };
}

export function sameVocab(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((token, i) => token === b[i]);
}

/** The vocabulary a model file names in its metadata (`vocab`, a JSON list of tokens), or null when it names none. */
export function savedVocab(extra: Record<string, string> | undefined): string[] | null {
  try {
    const vocab: unknown = JSON.parse(extra?.vocab ?? 'null');
    return Array.isArray(vocab) && vocab.every((t) => typeof t === 'string') ? vocab : null;
  } catch {
    return null;
  }
}
