import { describe, expect, it } from 'vitest';
import { CELL_REASONS, denseMaskReasons } from '../prompt/dense-mask';
import { packPrompt } from '../prompt/pack';
import { makeDataset } from '../prompt/test-fixtures';
import { ISOLATION_LEVELS } from '../prompt/types';
import { cellReason, isAllowed } from '../prompt/mask';
import { promptMeta } from '../prompt/pack';
import { REASON_STYLE, describeToken, explainCell, forgettingNote, paintAttention, paintMask } from './mask-picture';

// Four interactions of two item words each (item, item, [SUM], label = 4 tokens each).
const dataset = makeDataset(
  [[8, 9], [10, 11], [12, 13], [14, 15]],
  [{ items: [0, 1, 2, 3], labels: [1, 0, 1, 1] }],
);
const prompt = packPrompt(dataset, 0, 0, 1, 3);
const L = prompt.tokens.length;

describe('mask picture', () => {
  it('paints each cell in the colour of its reason', () => {
    const reasons = denseMaskReasons(prompt, 1, 'window');
    const pixels = paintMask(reasons, L, null);
    for (const [q, p] of [[0, 0], [0, 5], [15, 0], [9, 6]]) {
      const reason = CELL_REASONS[reasons[q * L + p]];
      expect(Array.from(pixels.subarray((q * L + p) * 4, (q * L + p) * 4 + 3)), `${q},${p} ${reason}`).toEqual(REASON_STYLE[reason].rgb);
    }
  });

  it('stripes only the key tiles the kernel skips', () => {
    const reasons = denseMaskReasons(prompt, 1, 'window');
    const plain = paintMask(reasons, L, null);
    // Tiles of 4 tokens: query tile 3 (tokens 12..15) starts visiting at key tile 2.
    const skipped = paintMask(reasons, L, { tile: 4, firstVisitedTile: Int32Array.from([0, 0, 1, 2]) });
    const differs = (q: number, p: number) => plain[(q * L + p) * 4] !== skipped[(q * L + p) * 4];
    expect(differs(12, 0)).toBe(true); // (12 + 0) % 4 === 0: on a stripe, in a skipped tile
    expect(differs(13, 0)).toBe(false); // between stripes
    expect(differs(12, 8)).toBe(false); // key tile 2 is visited
    expect(differs(4, 0)).toBe(false); // query tile 1 visits everything
  });

  it('says which tokens a cell joins and why it is blocked', () => {
    const vocab = dataset.vocab.tokens;
    expect(describeToken(prompt, 1, vocab, 0)).toBe('token 0 (context 1, item word "w8")');
    expect(describeToken(prompt, 1, vocab, 6)).toBe('token 6 (target 1, [SUM])');
    expect(describeToken(prompt, 1, vocab, 7)).toBe('token 7 (target 1, label [DISLIKE])');
    expect(explainCell('outside-window', prompt, 1, 'window', 14, 0)).toBe('blocked: context 1 is more than n = 1 interaction before target 3');
    expect(explainCell('allowed', prompt, 1, 'window', 8, 5)).toBe('allowed: target 1 is one of the n = 1 interaction before target 2');
    expect(explainCell('future', prompt, 1, 'window', 0, 5)).toMatch(/causality/);
  });

  it('gives every cell of every level a reason that agrees with the rule', () => {
    const meta = promptMeta(prompt);
    const seen = new Set<string>();
    for (const level of ISOLATION_LEVELS) {
      for (let q = 0; q < L; q++) {
        for (let p = 0; p < L; p++) {
          const reason = cellReason(q, p, meta[q], meta[p], 1, level);
          const text = explainCell(reason, prompt, 1, level, q, p);
          expect(text.startsWith('allowed'), `${level} (${q}, ${p}): ${text}`).toBe(isAllowed(q, p, meta[q], meta[p], 1, level));
          const sameInteraction = prompt.interaction[q] === prompt.interaction[p];
          const keyRole = prompt.role[p];
          if (reason === 'isolated') {
            // Strict blocks a non-[SUM] query from its own interaction's [SUM], or from another interaction.
            expect(text, `${q}, ${p}`).toMatch(sameInteraction ? /never read a \[SUM\]/ : /only read their own interaction/);
            if (sameInteraction) expect(keyRole).toBe(1);
          }
          if (reason === 'other-sum') expect(keyRole).toBe(1);
          seen.add(`${level}:${reason}:${sameInteraction}`);
        }
      }
    }
    // The walk met both strict cases and every reason.
    expect(seen.has('strict:isolated:true') && seen.has('strict:isolated:false') && seen.has('window:outside-window:false')).toBe(true);
  });

  it('draws the model\'s attention on the allowed cells and fades the blocked ones', () => {
    const reasons = denseMaskReasons(prompt, 1, 'window');
    const attention = new Float32Array(L * L);
    attention[9 * L + 9] = 0.75; // row 9 attends itself most, token 8 less, and nothing else
    attention[9 * L + 8] = 0.25;
    const pixels = paintAttention(reasons, attention, L);
    const rgb = (q: number, p: number) => Array.from(pixels.subarray((q * L + p) * 4, (q * L + p) * 4 + 3));
    expect(rgb(9, 9)).toEqual([8, 48, 107]);
    const weaker = rgb(9, 8);
    expect(weaker[0]).toBeGreaterThan(8);
    expect(weaker[0]).toBeLessThan(222);
    expect(rgb(9, 4)).toEqual([222, 235, 247]); // allowed, weight 0
    expect(rgb(0, 5)[0]).toBeGreaterThan(REASON_STYLE.future.rgb[0]); // blocked (future), faded towards white
  });

  it('says how much distance-based forgetting weighs an allowed cell, per head', () => {
    // Slopes 2^(-8(h+1)/H): 1/4 and 1/256 for H = 4, 1/256 for H = 1; 3 interactions back: e^(-0.75), e^(-3/256).
    expect(forgettingNote(3, 4)).toBe('forgetting weighs it ×0.472 in head 1, ×0.988 in head 4 (3 interactions back)');
    expect(forgettingNote(1, 1)).toBe('forgetting weighs it ×0.996 (1 interaction back)');
    expect(forgettingNote(0, 4)).toBeNull();
  });
});
