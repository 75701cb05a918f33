import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { type SplitName, maxPromptLength, packPrompt, packPrompts, promptCost } from './pack';
import { FIRST_WORD, makeDataset, randomDataset } from './test-fixtures';
import {
  type PackedPrompt,
  type TokenizedDataset,
  ROLE_ITEM,
  ROLE_LABEL,
  ROLE_SUM,
  SPLIT_TEST,
  SPLIT_TRAIN,
  SPLIT_VALID,
  TOKEN_DISLIKE,
  TOKEN_LIKE,
  TOKEN_SUM,
} from './types';

const W = FIRST_WORD;
const T = SPLIT_TRAIN;
const V = SPLIT_VALID;
const X = SPLIT_TEST;

/** Items of 2, 1 and 3 words: rendered interactions are 4, 3 and 5 tokens long. */
function layoutDataset(): TokenizedDataset {
  return makeDataset([[W, W + 1], [W + 2], [W + 3, W + 4, W + 5]], [{ items: [0, 1, 2, 1], labels: [1, 0, 1, 1] }]);
}

/** The tokens of one interaction as the dataset defines it, independent of the packer. */
function renderFromDataset(dataset: TokenizedDataset, userIndex: number, h: number): string {
  const user = dataset.users[userIndex];
  return [...dataset.itemTokens[user.items[h]], TOKEN_SUM, user.labels[h] ? TOKEN_LIKE : TOKEN_DISLIKE].join(',');
}

/**
 * (target, context window) pairs read from packed prompts: key `user/historyIndex`, value = the tokens of the n
 * interactions the target can attend before it, then the target's own interaction. A list per key counts duplicates.
 */
function windowsOfPrompts(prompts: PackedPrompt[], n: number): Map<string, string[]> {
  const windows = new Map<string, string[]>();
  for (const prompt of prompts) {
    for (const target of prompt.targets) {
      expect(target.interaction).toBeGreaterThanOrEqual(n);
      expect(target.historyIndex).toBe(prompt.firstHistoryIndex + target.interaction);
      const parts: string[] = [];
      for (let i = target.interaction - n; i <= target.interaction; i++) {
        parts.push(Array.from(prompt.tokens.subarray(prompt.interactionStart[i], prompt.interactionStart[i + 1])).join(','));
      }
      const key = `${prompt.userIndex}/${target.historyIndex}`;
      windows.set(key, [...(windows.get(key) ?? []), parts.join(' | ')]);
    }
  }
  return windows;
}

/** The same pairs computed straight from the dataset: every interaction of the split with n predecessors. */
function expectedWindows(dataset: TokenizedDataset, n: number, split: number): Map<string, string[]> {
  const windows = new Map<string, string[]>();
  dataset.users.forEach((user, u) => {
    for (let h = n; h < user.items.length; h++) {
      if (user.split[h] !== split) continue;
      const parts: string[] = [];
      for (let i = h - n; i <= h; i++) parts.push(renderFromDataset(dataset, u, i));
      windows.set(`${u}/${h}`, [parts.join(' | ')]);
    }
  });
  return windows;
}

function sorted(map: Map<string, string[]>): [string, string[]][] {
  return [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
}

describe('packPrompt', () => {
  it('renders every interaction as item tokens, [SUM], label token with token-index positions', () => {
    const prompt = packPrompt(layoutDataset(), 0, 1, 2, 1);
    expect(prompt.firstHistoryIndex).toBe(1);
    expect(Array.from(prompt.tokens)).toEqual([
      W + 2, TOKEN_SUM, TOKEN_DISLIKE,
      W + 3, W + 4, W + 5, TOKEN_SUM, TOKEN_LIKE,
      W + 2, TOKEN_SUM, TOKEN_LIKE,
    ]);
    const [I, S, L] = [ROLE_ITEM, ROLE_SUM, ROLE_LABEL];
    expect(Array.from(prompt.role)).toEqual([I, S, L, I, I, I, S, L, I, S, L]);
    expect(Array.from(prompt.interaction)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2]);
    expect(Array.from(prompt.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from(prompt.interactionStart)).toEqual([0, 3, 8, 11]);
    expect(prompt.targets).toEqual([{ interaction: 2, sumPos: 9, label: 1, historyIndex: 3 }]);
  });

  it('marks the last targetCount interactions as targets, earlier targets keeping their labels as history', () => {
    const prompt = packPrompt(layoutDataset(), 0, 0, 1, 3);
    expect(prompt.targets).toEqual([
      { interaction: 1, sumPos: 5, label: 0, historyIndex: 1 },
      { interaction: 2, sumPos: 10, label: 1, historyIndex: 2 },
      { interaction: 3, sumPos: 13, label: 1, historyIndex: 3 },
    ]);
    expect(prompt.tokens[6]).toBe(TOKEN_DISLIKE);
  });

  it('rejects spans outside the history, empty target lists and unknown users', () => {
    const dataset = layoutDataset();
    expect(() => packPrompt(dataset, 0, 2, 2, 1)).toThrow(/exceed/);
    expect(() => packPrompt(dataset, 0, 0, 2, 0)).toThrow(/targetCount/);
    expect(() => packPrompt(dataset, 1, 0, 1, 1)).toThrow(/user 1/);
  });
});

describe('packPrompts: SW and DTI see the same (target, window) pairs', () => {
  const n = 3;
  const dataset = randomDataset(new Rng(7), { items: 40, users: 30, maxHistory: 30, maxItemTokens: 4 });
  const targetCounts = dataset.users.map((user) => Math.max(0, user.items.length - n));
  const truth = expectedWindows(dataset, n, SPLIT_TRAIN);

  it('SW (k = 1) yields exactly one prompt per target, with the dataset window', () => {
    const sw = packPrompts(dataset, { n, k: 1, split: 'train' });
    expect(sw.length).toBe(truth.size);
    expect(sw.every((prompt) => prompt.targets.length === 1 && prompt.interactionStart.length === n + 2)).toBe(true);
    expect(sorted(windowsOfPrompts(sw, n))).toEqual(sorted(truth));
  });

  for (const k of [5, 4, 7]) {
    it(`DTI k = ${k} covers every target once with the same window, in ceil(targets / k) prompts per user`, () => {
      // The case the test is about: some user's target count is above k and not a multiple of it.
      expect(targetCounts.some((count) => count > k && count % k !== 0)).toBe(true);
      const dti = packPrompts(dataset, { n, k, split: 'train' });
      expect(sorted(windowsOfPrompts(dti, n))).toEqual(sorted(truth));
      expect(dti.length).toBe(targetCounts.reduce((sum, count) => sum + Math.ceil(count / k), 0));
      for (const prompt of dti) {
        // n context interactions, then only targets.
        expect(prompt.targets[0].interaction).toBe(n);
        expect(prompt.interactionStart.length - 1).toBe(n + prompt.targets.length);
        expect(prompt.targets.length).toBeLessThanOrEqual(k);
      }
    });
  }
});

describe('packPrompts: stride', () => {
  const n = 2;
  const dataset = randomDataset(new Rng(3), { items: 20, users: 12, maxHistory: 20, maxItemTokens: 3 });
  const truth = expectedWindows(dataset, n, SPLIT_TRAIN);

  it('starts groups every stride targets and stops at the first group that reaches the end', () => {
    // 9 targets (h = 2..10), k = 4, stride = 2: groups at targets 0, 2, 4, 6 of sizes 4, 4, 4, 3.
    const items = Array.from({ length: 11 }, (_, h) => h % 3);
    const small = makeDataset([[W], [W + 1], [W + 2]], [{ items, labels: items.map((item) => item % 2) }]);
    const prompts = packPrompts(small, { n, k: 4, stride: 2, split: 'train' });
    expect(prompts.map((p) => p.firstHistoryIndex)).toEqual([0, 2, 4, 6]);
    expect(prompts.map((p) => p.targets.map((t) => t.historyIndex))).toEqual([
      [2, 3, 4, 5],
      [4, 5, 6, 7],
      [6, 7, 8, 9],
      [8, 9, 10],
    ]);
  });

  it('overlapping groups still give every target its own window', () => {
    const prompts = packPrompts(dataset, { n, k: 5, stride: 3, split: 'train' });
    const windows = windowsOfPrompts(prompts, n);
    expect([...windows.keys()].sort()).toEqual([...truth.keys()].sort());
    for (const [key, list] of windows) {
      expect(new Set(list)).toEqual(new Set(truth.get(key)));
    }
    // Overlap re-scores some targets.
    expect([...windows.values()].some((list) => list.length > 1)).toBe(true);
  });

  it('rejects a stride outside [1, k]', () => {
    expect(() => packPrompts(dataset, { n, k: 4, stride: 5, split: 'train' })).toThrow(/stride/);
    expect(() => packPrompts(dataset, { n, k: 4, stride: 0, split: 'train' })).toThrow(/stride/);
  });
});

describe('packPrompts: splits', () => {
  const n = 2;
  const dataset = makeDataset(
    [[W], [W + 1, W + 2], [W + 3]],
    [
      // Two consecutive valid targets: served one per prompt whatever k.
      { items: [0, 1, 2, 0, 1, 2, 0, 1], labels: [1, 0, 1, 0, 1, 0, 1, 0], split: [T, T, T, T, T, V, V, X] },
      // No interaction has n predecessors.
      { items: [0, 1], labels: [1, 1], split: [T, V] },
      { items: [2, 1, 0], labels: [0, 1, 1], split: [T, T, V] },
      // Interleaved splits: train targets form the runs [2] and [4, 5, 6].
      { items: [0, 1, 2, 1, 0, 2, 1], labels: [1, 1, 0, 0, 1, 1, 0], split: [T, T, T, V, T, T, T] },
      // The valid interaction at h = 0 has no predecessors, so it is no target.
      { items: [1, 2, 0], labels: [1, 0, 1], split: [V, T, T] },
    ],
  );
  const targetsOf = (prompts: PackedPrompt[]) =>
    prompts.flatMap((p) => p.targets.map((t) => `${p.userIndex}/${t.historyIndex}`)).sort();

  it('valid and test targets are exactly the split interactions with n predecessors, one per SW prompt or k per DTI prompt', () => {
    for (const [split, expected] of [
      ['valid', ['0/5', '0/6', '2/2', '3/3']],
      ['test', ['0/7']],
    ] as [SplitName, string[]][]) {
      const prompts = packPrompts(dataset, { n, k: 1, split });
      expect(targetsOf(prompts)).toEqual(expected);
      for (const prompt of prompts) {
        expect(prompt.targets).toHaveLength(1);
        expect(prompt.targets[0].interaction).toBe(n);
        expect(prompt.firstHistoryIndex).toBe(prompt.targets[0].historyIndex - n);
      }
      // Packed k at a time (exact evaluation): the same targets, in the same canonical order.
      const packed = packPrompts(dataset, { n, k: 5, split });
      expect(packed.flatMap((p) => p.targets.map((t) => `${p.userIndex}/${t.historyIndex}`))).toEqual(
        prompts.flatMap((p) => p.targets.map((t) => `${p.userIndex}/${t.historyIndex}`)),
      );
      expect(packed.length).toBeLessThanOrEqual(prompts.length);
    }
    expect(packPrompts(dataset, { n, k: 5, split: 'valid' }).map((p) => p.targets.length)).toEqual([2, 1, 1]);
    // A subset of users, in the order given.
    expect(packPrompts(dataset, { n, k: 1, split: 'valid', users: [3, 0] }).map((p) => p.userIndex)).toEqual([3, 0, 0]);
  });

  it('train targets never include valid/test interactions and never span another split', () => {
    const prompts = packPrompts(dataset, { n, k: 5, split: 'train' });
    expect(targetsOf(prompts)).toEqual(['0/2', '0/3', '0/4', '3/2', '3/4', '3/5', '3/6', '4/2'].sort());
    expect(prompts.filter((p) => p.userIndex === 3).map((p) => [p.firstHistoryIndex, p.targets.length])).toEqual([
      [0, 1],
      [2, 3],
    ]);
    const evalTargets = new Set([
      ...targetsOf(packPrompts(dataset, { n, k: 1, split: 'valid' })),
      ...targetsOf(packPrompts(dataset, { n, k: 1, split: 'test' })),
    ]);
    expect(targetsOf(prompts).filter((key) => evalTargets.has(key))).toEqual([]);
  });

  it('users with histories of at most n interactions yield no prompts', () => {
    for (const split of ['train', 'valid', 'test'] as SplitName[]) {
      expect(packPrompts(dataset, { n, k: 3, split }).filter((p) => p.userIndex === 1)).toEqual([]);
    }
    expect(packPrompts(dataset, { n: 8, k: 3, split: 'train' })).toEqual([]);
  });
});

describe('maxPromptLength', () => {
  it('matches hand-computed spans', () => {
    // Interaction lengths of the layout user: 4, 3, 5, 3.
    const dataset = layoutDataset();
    expect(maxPromptLength(dataset, 1, 2)).toBe(12);
    expect(maxPromptLength(dataset, 2, 1)).toBe(12);
    expect(maxPromptLength(dataset, 1, 1)).toBe(8);
    expect(maxPromptLength(dataset, 3, 1)).toBe(15);
    expect(maxPromptLength(dataset, 4, 1)).toBe(0);
  });

  it('bounds every packed prompt, and is attained for k = 1 over the three splits', () => {
    const splitOf = (h: number, m: number) => (h === m - 1 ? SPLIT_TEST : h === m - 2 ? SPLIT_VALID : SPLIT_TRAIN);
    const dataset = randomDataset(new Rng(11), { items: 30, users: 25, maxHistory: 25, maxItemTokens: 5, split: splitOf });
    const n = 3;
    for (const k of [1, 3, 6]) {
      const bound = maxPromptLength(dataset, n, k);
      for (const stride of new Set([1, k])) {
        const train = packPrompts(dataset, { n, k, stride, split: 'train' });
        for (const prompt of train) expect(prompt.tokens.length).toBeLessThanOrEqual(bound);
      }
    }
    const all = (['train', 'valid', 'test'] as SplitName[]).flatMap((split) => packPrompts(dataset, { n, k: 1, split }));
    expect(Math.max(...all.map((p) => p.tokens.length))).toBe(maxPromptLength(dataset, n, 1));
  });
});

describe('promptCost', () => {
  it('counts prompts, targets, tokens and re-encoded context tokens', () => {
    // Interaction lengths 4, 3, 5, 3; targets h = 1, 2, 3 with n = 1.
    const dataset = layoutDataset();
    expect(promptCost(packPrompts(dataset, { n: 1, k: 2, split: 'train' }))).toEqual({
      prompts: 2,
      targets: 3,
      tokens: 12 + 8,
      contextTokens: 4 + 5,
      tokensPerTarget: 20 / 3,
    });
    expect(promptCost(packPrompts(dataset, { n: 1, k: 1, split: 'train' }))).toEqual({
      prompts: 3,
      targets: 3,
      tokens: 7 + 8 + 8,
      contextTokens: 4 + 3 + 5,
      tokensPerTarget: 23 / 3,
    });
    expect(promptCost([])).toEqual({ prompts: 0, targets: 0, tokens: 0, contextTokens: 0, tokensPerTarget: 0 });
  });
});
