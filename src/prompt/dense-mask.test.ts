import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { CELL_REASONS, allowedCellCount, denseMask, denseMaskReasons, receptiveField } from './dense-mask';
import { packPrompt, packPrompts } from './pack';
import { FIRST_WORD, makeDataset, randomDataset } from './test-fixtures';
import { type IsolationLevel, type PackedPrompt } from './types';

const W = FIRST_WORD;

/**
 * n = 1, three interactions of 2 item tokens each: tokens 0-3, 4-7, 8-11, each `item item [SUM] label`.
 * [SUM] tokens sit at 2, 6 and 10.
 */
const tiny = packPrompt(
  makeDataset([[W, W + 1], [W + 2, W + 3], [W + 4, W + 5]], [{ items: [0, 1, 2], labels: [1, 0, 1] }]),
  0,
  0,
  1,
  2,
);

/** Hand-written expected masks, one row per query token; '1' = allowed. */
const EXPECTED: Record<IsolationLevel, string[]> = {
  'full-causal': [
    '1...........',
    '11..........',
    '111.........',
    '1111........',
    '11111.......',
    '111111......',
    '1111111.....',
    '11111111....',
    '111111111...',
    '1111111111..',
    '11111111111.',
    '111111111111',
  ],
  // Interaction 2 no longer sees interaction 0.
  window: [
    '1...........',
    '11..........',
    '111.........',
    '1111........',
    '11111.......',
    '111111......',
    '1111111.....',
    '11111111....',
    '....11111...',
    '....111111..',
    '....1111111.',
    '....11111111',
  ],
  // As window, minus the [SUM] keys of other interactions (columns 2 and 6).
  'sum-isolated': [
    '1...........',
    '11..........',
    '111.........',
    '1111........',
    '11.11.......',
    '11.111......',
    '11.1111.....',
    '11.11111....',
    '....11.11...',
    '....11.111..',
    '....11.1111.',
    '....11.11111',
  ],
  // Item/label rows see only their own item/label tokens; [SUM] rows also see the window's item/label tokens.
  strict: [
    '1...........',
    '11..........',
    '111.........',
    '11.1........',
    '....1.......',
    '....11......',
    '11.1111.....',
    '....11.1....',
    '........1...',
    '........11..',
    '....11.1111.',
    '........11.1',
  ],
};

function maskRows(mask: Uint8Array, L: number): string[] {
  return Array.from({ length: L }, (_, q) =>
    Array.from(mask.subarray(q * L, (q + 1) * L), (cell) => (cell ? '1' : '.')).join(''),
  );
}

function fieldTokens(field: Uint8Array): number[] {
  return [...field.keys()].filter((t) => field[t]);
}

describe('denseMask on a hand-checked prompt', () => {
  it('is built on the 12-token layout of the hand-written matrices', () => {
    expect(Array.from(tiny.interactionStart)).toEqual([0, 4, 8, 12]);
    expect(tiny.targets.map((t) => t.sumPos)).toEqual([6, 10]);
  });

  for (const level of Object.keys(EXPECTED) as IsolationLevel[]) {
    it(`${level} matches the hand-written matrix`, () => {
      expect(maskRows(denseMask(tiny, 1, level), 12)).toEqual(EXPECTED[level]);
      const ones = EXPECTED[level].join('').split('').filter((c) => c === '1').length;
      expect(allowedCellCount(tiny, 1, level)).toBe(ones);
    });
  }

  it('explains blocked cells', () => {
    const reasonAt = (level: IsolationLevel, q: number, p: number) => CELL_REASONS[denseMaskReasons(tiny, 1, level)[q * 12 + p]];
    expect(reasonAt('strict', 0, 1)).toBe('future');
    expect(reasonAt('strict', 10, 3)).toBe('outside-window');
    expect(reasonAt('strict', 6, 2)).toBe('other-sum');
    expect(reasonAt('sum-isolated', 7, 6)).toBe('allowed');
    expect(reasonAt('sum-isolated', 8, 6)).toBe('other-sum');
    expect(reasonAt('strict', 3, 2)).toBe('isolated');
    expect(reasonAt('strict', 7, 3)).toBe('isolated');
    expect(reasonAt('window', 11, 4)).toBe('allowed');
  });
});

describe('receptiveField on the hand-checked prompt (target [SUM] at token 10)', () => {
  it('follows the mask layer by layer', () => {
    expect(fieldTokens(receptiveField(tiny, 1, 'strict', 0, 10))).toEqual([10]);
    expect(fieldTokens(receptiveField(tiny, 1, 'strict', 1, 10))).toEqual([4, 5, 7, 8, 9, 10]);
    expect(fieldTokens(receptiveField(tiny, 1, 'strict', 2, 10))).toEqual([4, 5, 7, 8, 9, 10]);
    expect(fieldTokens(receptiveField(tiny, 1, 'window', 1, 10))).toEqual([4, 5, 6, 7, 8, 9, 10]);
    // Two layers: interaction 1's tokens already read interaction 0, which lies outside the target's window.
    expect(fieldTokens(receptiveField(tiny, 1, 'window', 2, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(fieldTokens(receptiveField(tiny, 1, 'sum-isolated', 1, 10))).toEqual([4, 5, 7, 8, 9, 10]);
    // Label 7 reads its own [SUM] 6, so an earlier target's summary still reaches this one through its label token.
    expect(fieldTokens(receptiveField(tiny, 1, 'sum-isolated', 2, 10))).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('rejects a target outside the prompt', () => {
    expect(() => receptiveField(tiny, 1, 'strict', 1, 12)).toThrow(/targetSumPos/);
  });
});

describe('DTI against SW, target by target', () => {
  const n = 3;
  const k = 6;
  const dataset = randomDataset(new Rng(5), { items: 25, users: 10, maxHistory: 22, maxItemTokens: 3 });
  const dti = packPrompts(dataset, { n, k, split: 'train' }).filter((prompt) => prompt.targets.length > 1);

  /** Each target of the multi-target prompts with its token span (window + itself) and its own SW prompt. */
  const cases = dti.flatMap((prompt) =>
    prompt.targets.map((target) => ({
      prompt,
      target,
      offset: prompt.interactionStart[target.interaction - n],
      end: prompt.interactionStart[target.interaction + 1],
      sw: packPrompt(dataset, prompt.userIndex, target.historyIndex - n, n, 1),
    })),
  );

  function restrict(prompt: PackedPrompt, level: IsolationLevel, offset: number, end: number): Uint8Array {
    const L = prompt.tokens.length;
    const full = denseMask(prompt, n, level);
    const size = end - offset;
    const restricted = new Uint8Array(size * size);
    for (let q = 0; q < size; q++) restricted.set(full.subarray((offset + q) * L + offset, (offset + q) * L + end), q * size);
    return restricted;
  }

  it('has multi-target prompts to compare', () => {
    expect(cases.length).toBeGreaterThan(20);
  });

  it('one layer: the mask restricted to a target window equals its SW mask (except full-causal)', () => {
    for (const { prompt, target, offset, end, sw } of cases) {
      expect(Array.from(prompt.tokens.subarray(offset, end))).toEqual(Array.from(sw.tokens));
      for (const level of ['window', 'sum-isolated', 'strict'] as IsolationLevel[]) {
        expect(restrict(prompt, level, offset, end)).toEqual(denseMask(sw, n, level));
      }
      // Full-causal lets the target read interactions before its window already in one layer.
      const leaks = fieldTokens(receptiveField(prompt, n, 'full-causal', 1, target.sumPos)).some((t) => t < offset);
      expect(leaks).toBe(target.interaction > n);
    }
  });

  it('strict: over any depth the target sees exactly what its SW prompt shows it', () => {
    for (const { prompt, target, offset, sw } of cases) {
      for (const layers of [1, 2, 3]) {
        const field = fieldTokens(receptiveField(prompt, n, 'strict', layers, target.sumPos));
        const swField = fieldTokens(receptiveField(sw, n, 'strict', layers, sw.targets[0].sumPos));
        expect(field.map((t) => t - offset)).toEqual(swField);
      }
    }
  });

  it('window and sum-isolated: two layers leak interactions beyond the window into every target but the first', () => {
    for (const level of ['window', 'sum-isolated'] as IsolationLevel[]) {
      for (const { prompt, target, offset } of cases) {
        const field = fieldTokens(receptiveField(prompt, n, level, 2, target.sumPos));
        expect(field.some((t) => t < offset)).toBe(target.interaction > n);
        // One layer stays inside the window: the leak comes from composing layers.
        expect(fieldTokens(receptiveField(prompt, n, level, 1, target.sumPos)).every((t) => t >= offset)).toBe(true);
      }
    }
  });
});
