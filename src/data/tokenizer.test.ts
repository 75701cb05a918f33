import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SPECIAL_TOKENS, TOKEN_UNK } from '../prompt/types';
import { loadBuiltin } from './index';
import { Tokenizer, buildVocabulary, interactionTokens, itemWords, renderInteraction, titleWords } from './tokenizer';

describe('words', () => {
  it('lower-cases titles into letter/digit words, keeping inner apostrophes and accents', () => {
    expect(titleWords('Amélie (2001)')).toEqual(['amélie', '2001']);
    expect(titleWords("Schindler's List, The")).toEqual(["schindler's", 'list', 'the']);
    expect(titleWords('Star Wars: Episode IV - A New Hope')).toEqual(['star', 'wars', 'episode', 'iv', 'a', 'new', 'hope']);
  });

  it('keeps each genre as one token, and genres first when the item token cap bites', () => {
    expect(itemWords('7', 'Toy Story (1995)', ['Animation', "Children's", 'Sci Fi'], 8)).toEqual([
      'toy', 'story', '1995', 'animation', "children's", 'sci-fi',
    ]);
    expect(itemWords('7', 'A Very Long Title Indeed', ['Drama', 'War'], 4)).toEqual(['a', 'very', 'drama', 'war']);
    expect(itemWords('7', '', [], 4)).toEqual(['item_7']);
    expect(itemWords('0345 X', '...', [], 4)).toEqual(['item_0345_X']);
  });
});

describe('vocabulary', () => {
  it('puts the special tokens first, then words by weight, ties in code-unit order, up to the cap', () => {
    const words = [['b', 'a'], ['c', 'a'], ['d']];
    const vocab = buildVocabulary(words, [1, 1, 5], SPECIAL_TOKENS.length + 3);
    expect(vocab.tokens).toEqual([...SPECIAL_TOKENS, 'd', 'a', 'b']);
    const tokenizer = new Tokenizer(vocab);
    expect(Array.from(tokenizer.encodeWords(['a', 'c', 'd']))).toEqual([SPECIAL_TOKENS.length + 1, TOKEN_UNK, SPECIAL_TOKENS.length]);
  });

  it('is the same whatever the order of the items', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.constantFrom('x', 'y', 'z', 'w', 'v'), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 }), (words) => {
        const weights = words.map((_, i) => 1 + (i % 3));
        const reversed = buildVocabulary([...words].reverse(), [...weights].reverse(), 10);
        expect(reversed.tokens).toEqual(buildVocabulary(words, weights, 10).tokens);
      }),
    );
  });
});

describe('round trip', () => {
  const tokenizer = new Tokenizer({ tokens: [...SPECIAL_TOKENS, 'silent', 'river', 'sci-fi', "children's", 'item_12'] });
  const ids = fc.array(fc.integer({ min: 0, max: tokenizer.vocab.tokens.length - 1 }), { maxLength: 30 });

  it('ids -> text -> ids is the identity', () => {
    fc.assert(
      fc.property(ids, (list) => {
        expect(Array.from(tokenizer.encode(tokenizer.decode(list)))).toEqual(list);
      }),
    );
  });

  it('text of known tokens -> ids -> text is the identity, unknown words become [UNK]', () => {
    fc.assert(
      fc.property(ids, (list) => {
        const text = list.map((id) => tokenizer.vocab.tokens[id]).join(' ');
        expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
      }),
    );
    expect(tokenizer.decode(tokenizer.encode('silent  ocean river'))).toBe('silent [UNK] river');
  });

  it('every item of the built-in data renders to text that encodes back to its tokens', () => {
    const { dataset } = loadBuiltin('small');
    const builtin = new Tokenizer(dataset.vocab);
    dataset.itemTokens.forEach((tokens, item) => {
      const text = renderInteraction(dataset, item, 1);
      expect(text.endsWith(' [SUM] [LIKE]')).toBe(true);
      expect(Array.from(builtin.encode(text))).toEqual(Array.from(interactionTokens(dataset, item, 1)));
      expect(tokens.length).toBeGreaterThan(0);
      expect(tokens.includes(TOKEN_UNK)).toBe(false);
    });
    expect(renderInteraction(dataset, 0, 0)).toMatch(/ \[SUM\] \[DISLIKE\]$/);
  });
});
