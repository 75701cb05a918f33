/**
 * The prompt packer. One packer serves both paradigms: sliding window (SW) is DTI with k = 1.
 * Every interaction is rendered the same way wherever it appears: `item tokens… [SUM] label-token`
 * (method doc §3), so a target's own label follows its [SUM] and later targets see it as history.
 */
import {
  type PackedPrompt,
  type PromptTarget,
  type Role,
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
  packMeta,
} from './types';

export type SplitName = 'train' | 'valid' | 'test';

export const SPLIT_CODE: Record<SplitName, number> = { train: SPLIT_TRAIN, valid: SPLIT_VALID, test: SPLIT_TEST };

export interface PackOptions {
  /** Context interactions per target. */
  n: number;
  /** Targets per prompt: SW is k = 1 (how validation and test targets are served, unless packing them is exact). */
  k: number;
  /** Targets between the first targets of consecutive prompts; default k, less than k overlaps groups. */
  stride?: number;
  split: SplitName;
  /** Only these users' prompts (indices into dataset.users, in the order given); default every user. */
  users?: readonly number[];
}

/** Tokens of one rendered interaction: its item tokens, [SUM] and the label token. */
export function interactionLength(dataset: TokenizedDataset, itemIndex: number): number {
  const tokens = dataset.itemTokens[itemIndex];
  if (!tokens) throw new RangeError(`item ${itemIndex} has no tokens (dataset has ${dataset.itemTokens.length} items)`);
  return tokens.length + 2;
}

/** interactionLength of every item, for loops over all interactions (a typed lookup instead of a call each). */
export function interactionLengths(dataset: TokenizedDataset): Int32Array {
  return Int32Array.from(dataset.itemTokens, (tokens) => tokens.length + 2);
}

/**
 * Prefix sums of one history's interaction lengths, written into `prefix` (at least items.length + 1 long):
 * prefix[h] is the tokens of interactions 0 .. h - 1. One buffer serves every user of a loop.
 */
export function interactionPrefix(lengths: Int32Array, items: Int32Array, prefix: Int32Array): void {
  prefix[0] = 0;
  for (let h = 0; h < items.length; h++) {
    const length = lengths[items[h]];
    if (length === undefined) throw new RangeError(`item ${items[h]} has no tokens (dataset has ${lengths.length} items)`);
    prefix[h + 1] = prefix[h] + length;
  }
}

/** A prefix buffer long enough for every history of the dataset (interactionPrefix). */
export function prefixBuffer(dataset: TokenizedDataset): Int32Array {
  let longest = 0;
  for (const user of dataset.users) longest = Math.max(longest, user.items.length);
  return new Int32Array(longest + 1);
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min} (got ${value})`);
}

/**
 * Packs interactions [firstHistoryIndex, firstHistoryIndex + contextCount + targetCount) of one user's history:
 * the first contextCount are context, the last targetCount are targets. Positions are token indices (0-based).
 */
export function packPrompt(
  dataset: TokenizedDataset,
  userIndex: number,
  firstHistoryIndex: number,
  contextCount: number,
  targetCount: number,
): PackedPrompt {
  const user = dataset.users[userIndex];
  if (!user) throw new RangeError(`user ${userIndex} does not exist (dataset has ${dataset.users.length} users)`);
  checkInteger('firstHistoryIndex', firstHistoryIndex, 0);
  checkInteger('contextCount', contextCount, 0);
  checkInteger('targetCount', targetCount, 1);
  const count = contextCount + targetCount;
  if (firstHistoryIndex + count > user.items.length) {
    throw new RangeError(
      `interactions ${firstHistoryIndex}..${firstHistoryIndex + count - 1} exceed user ${userIndex}'s history of ${user.items.length}`,
    );
  }

  const interactionStart = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) {
    interactionStart[i + 1] = interactionStart[i] + interactionLength(dataset, user.items[firstHistoryIndex + i]);
  }
  const length = interactionStart[count];
  const tokens = new Int32Array(length);
  const interaction = new Int32Array(length);
  const role = new Uint8Array(length);
  const position = new Int32Array(length);
  const targets: PromptTarget[] = [];

  for (let i = 0; i < count; i++) {
    const historyIndex = firstHistoryIndex + i;
    const item = dataset.itemTokens[user.items[historyIndex]];
    const label: 0 | 1 = user.labels[historyIndex] ? 1 : 0;
    const start = interactionStart[i];
    tokens.set(item, start);
    const sumPos = start + item.length;
    tokens[sumPos] = TOKEN_SUM;
    role[sumPos] = ROLE_SUM;
    tokens[sumPos + 1] = label === 1 ? TOKEN_LIKE : TOKEN_DISLIKE;
    role[sumPos + 1] = ROLE_LABEL;
    for (let t = start; t <= sumPos + 1; t++) {
      interaction[t] = i;
      position[t] = t;
      if (t < sumPos) role[t] = ROLE_ITEM;
    }
    if (i >= contextCount) targets.push({ interaction: i, sumPos, label, historyIndex });
  }

  return { userIndex, firstHistoryIndex, tokens, interaction, role, position, interactionStart, targets };
}

/** Where one prompt of packPrompts lies in its user's history: n context interactions from firstHistoryIndex, then targetCount targets. */
export interface PromptSpan {
  userIndex: number;
  firstHistoryIndex: number;
  targetCount: number;
}

/**
 * The prompts of a split, as spans of their users' histories, in packPrompts' order, without building them (so cost
 * estimates over a large dataset build no prompt). A target is an interaction of the split with at least n
 * predecessors in its user's history. Prompts hold n context interactions then up to k consecutive targets (groups
 * start every `stride` targets). With stride = k every target is in exactly one prompt, and the prompts' targets in
 * order are the split's targets in canonical order: users in the order given, then by history index.
 */
export function* promptSpans(dataset: TokenizedDataset, options: PackOptions): Generator<PromptSpan> {
  const { n, k, split } = options;
  checkInteger('n', n, 0);
  checkInteger('k', k, 1);
  const stride = options.stride ?? k;
  // A stride beyond k would leave targets that no prompt ever scores.
  if (!Number.isInteger(stride) || stride < 1 || stride > k) {
    throw new RangeError(`stride must be an integer in [1, k = ${k}] (got ${stride})`);
  }
  const code = SPLIT_CODE[split];
  for (const userIndex of options.users ?? dataset.users.keys()) {
    const user = dataset.users[userIndex];
    if (!user) throw new RangeError(`user ${userIndex} does not exist (dataset has ${dataset.users.length} users)`);
    const m = user.items.length;
    let h = n;
    while (h < m) {
      if (user.split[h] !== code) {
        h++;
        continue;
      }
      // Chunk each run of consecutive targets separately, so a prompt is always exactly n context interactions then
      // its targets (an interaction of another split never sits between two targets of one prompt).
      let runEnd = h;
      while (runEnd < m && user.split[runEnd] === code) runEnd++;
      const runLength = runEnd - h;
      // Groups start every `stride` targets; the last one is the first group that reaches the end of the run.
      for (let s = 0; ; s += stride) {
        yield { userIndex, firstHistoryIndex: h + s - n, targetCount: Math.min(k, runLength - s) };
        if (s + k >= runLength) break;
      }
      h = runEnd;
    }
  }
}

/** Packs every prompt of a split (promptSpans says which). */
export function packPrompts(dataset: TokenizedDataset, options: PackOptions): PackedPrompt[] {
  return Array.from(promptSpans(dataset, options), (span) =>
    packPrompt(dataset, span.userIndex, span.firstHistoryIndex, options.n, span.targetCount),
  );
}

/**
 * An upper bound on the token length of any prompt packed with these n and k, for any split and stride (to size GPU
 * buffers): the longest span of n + k consecutive interactions (cut at the end of a history) whose (n+1)-th interaction
 * exists, i.e. could be a first target. Exact for k = 1, where every interaction with n predecessors is a target of
 * some split.
 */
export function maxPromptLength(dataset: TokenizedDataset, n: number, k: number): number {
  checkInteger('n', n, 0);
  checkInteger('k', k, 1);
  let longest = 0;
  const lengths = interactionLengths(dataset);
  const prefix = prefixBuffer(dataset);
  for (const user of dataset.users) {
    const m = user.items.length;
    if (m <= n) continue;
    interactionPrefix(lengths, user.items, prefix);
    // A prompt starts at s = firstTarget - n, with firstTarget <= m - 1.
    for (let s = 0; s + n < m; s++) longest = Math.max(longest, prefix[Math.min(m, s + n + k)] - prefix[s]);
  }
  return longest;
}

export interface PromptCost {
  prompts: number;
  targets: number;
  tokens: number;
  /** Tokens of interactions that are not targets of their prompt (re-encoded context). */
  contextTokens: number;
  /** tokens / targets (0 when there are no targets). */
  tokensPerTarget: number;
}

export function promptCost(prompts: readonly PackedPrompt[]): PromptCost {
  let targets = 0;
  let tokens = 0;
  let targetTokens = 0;
  for (const prompt of prompts) {
    targets += prompt.targets.length;
    tokens += prompt.tokens.length;
    for (const target of prompt.targets) {
      targetTokens += prompt.interactionStart[target.interaction + 1] - prompt.interactionStart[target.interaction];
    }
  }
  return {
    prompts: prompts.length,
    targets,
    tokens,
    contextTokens: tokens - targetTokens,
    tokensPerTarget: targets > 0 ? tokens / targets : 0,
  };
}

/** Per-token mask metadata of one prompt ((interaction << 2) | role), as in a batch row. */
export function promptMeta(prompt: PackedPrompt): Uint32Array {
  const meta = new Uint32Array(prompt.tokens.length);
  for (let t = 0; t < meta.length; t++) meta[t] = packMeta(prompt.interaction[t], prompt.role[t] as Role);
  return meta;
}
