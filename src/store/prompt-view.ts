/**
 * Everything the prompt and mask views draw, computed from one real packed prompt of the loaded data. Pure functions
 * (the store calls them when the data, n, k, the level or the chosen prompt change); one prompt is cheap to analyse.
 */
import { renderInteraction } from '../data';
import { ATTENTION_TILE, attentionFlops } from '../gpu/kernels/attention';
import { allowedCellCount, denseMaskReasons, receptiveField } from '../prompt/dense-mask';
import { interactionLengths, interactionPrefix, packPrompt, prefixBuffer, promptMeta, promptSpans } from '../prompt/pack';
import { type TileStats, attentionPlan, attentionWork, maskRanges, tileStats } from '../prompt/ranges';
import { type IsolationLevel, type PackedPrompt, SPLIT_TRAIN, type TokenizedDataset } from '../prompt/types';

/**
 * The mask picture is an L×L bitmap and the receptive field costs L²·layers mask evaluations, all on the page's
 * thread: beyond this many tokens neither is computed (the prompt and tile counts still are).
 */
const MAX_MASK_TOKENS = 2048;

export interface PromptViewRequest {
  n: number;
  /** Targets per prompt actually used (1 under SW). */
  k: number;
  level: IsolationLevel;
  layers: number;
  dModel: number;
  /** The user whose first train prompt is shown; the next user with enough history is used when it has too few. */
  userIndex: number;
  /** Index into the prompt's targets for the receptive-field overlay; null = no overlay. */
  fieldTarget: number | null;
}

export interface TileSummary extends TileStats {
  tile: number;
  /** Per query tile: the first key tile the kernel visits (key tiles before it are skipped). */
  firstVisitedTile: Int32Array;
  /** Share of the dense causal kernel's key tiles that this mask lets the kernel skip. */
  skippedFraction: number;
  /** Forward attention FLOPs per layer of the tiles visited, and of a dense causal kernel. */
  kernelFlops: number;
  causalFlops: number;
}

export interface ReceptiveFieldView {
  /** Index into prompt.targets. */
  target: number;
  /** Per token: 1 if its information reaches the target's [SUM] through the model's layers. */
  field: Uint8Array;
  /** Tokens in the field, and those of interactions before the target's own window (leakage). */
  reached: number;
  leaked: number;
}

export interface PromptView {
  /**
   * What it was drawn from: the views read the data, n, k, the level and the model's size here, not from the live
   * state, so a view drawn a moment late (a deferred render) is still consistent with itself.
   */
  dataset: TokenizedDataset;
  request: PromptViewRequest;
  prompt: PackedPrompt;
  userIndex: number;
  meta: Uint32Array;
  /** Rendered text of each prompt-local interaction (`silent river drama [SUM] [LIKE]`). */
  interactionText: string[];
  /** L×L cell reasons (codes of CELL_REASONS), or null when the prompt is too long to draw. */
  reasons: Uint8Array | null;
  allowedCells: number;
  tiles: TileSummary;
  field: ReceptiveFieldView | null;
  /** Position of each target's [SUM] in this prompt, and where it would sit in its own sliding-window prompt. */
  targetPositions: { dti: number; sw: number }[];
}

/** Train targets that start at history index n (the first prompt of a user), or 0. */
function firstTrainRun(split: Uint8Array, n: number): number {
  let run = 0;
  while (n + run < split.length && split[n + run] === SPLIT_TRAIN) run++;
  return run;
}

/** The first user from `start`, going in `direction` (wrapping), whose history has a train target after n interactions. */
export function findViewableUser(dataset: TokenizedDataset, n: number, start: number, direction: 1 | -1 = 1): number | null {
  const count = dataset.users.length;
  for (let offset = 0; offset < count; offset++) {
    const u = (((start + direction * offset) % count) + count) % count;
    if (firstTrainRun(dataset.users[u].split, n) > 0) return u;
  }
  return null;
}

export function buildPromptView(dataset: TokenizedDataset, request: PromptViewRequest): PromptView | null {
  const { n, k, level } = request;
  const userIndex = findViewableUser(dataset, n, request.userIndex);
  if (userIndex === null) return null;
  const user = dataset.users[userIndex];
  const targets = Math.min(k, firstTrainRun(user.split, n));
  const prompt = packPrompt(dataset, userIndex, 0, n, targets);
  const meta = promptMeta(prompt);
  const L = meta.length;
  const interactionText = Array.from({ length: n + targets }, (_, i) =>
    renderInteraction(dataset, user.items[i], user.labels[i]),
  );
  const allowedCells = allowedCellCount(prompt, n, level);
  const { keyStart, queryEnd } = maskRanges(meta, 1, L, n, level);
  const stats = tileStats(meta, keyStart, 1, L, ATTENTION_TILE, allowedCells);
  // FLOPs from the kernel's own plan (4×4 score blocks it computes), against the same tokens under a dense causal mask.
  const causal = maskRanges(meta, 1, L, n, 'full-causal');
  const kernelBlocks = attentionWork(attentionPlan(meta, keyStart, queryEnd, 1, L, level), 1, L, level, ATTENTION_TILE).forwardBlocks;
  const causalBlocks = attentionWork(attentionPlan(meta, causal.keyStart, causal.queryEnd, 1, L, 'full-causal'), 1, L, 'full-causal', ATTENTION_TILE).forwardBlocks;
  // The same bound tileStats uses: a query tile's smallest keyStart decides the first key tile it visits.
  const firstVisitedTile = new Int32Array(Math.ceil(L / ATTENTION_TILE));
  for (let qt = 0; qt < firstVisitedTile.length; qt++) {
    let lo = L;
    for (let q = qt * ATTENTION_TILE; q < Math.min(L, (qt + 1) * ATTENTION_TILE); q++) lo = Math.min(lo, keyStart[q]);
    firstVisitedTile[qt] = Math.floor(lo / ATTENTION_TILE);
  }
  const tiles: TileSummary = {
    ...stats,
    tile: ATTENTION_TILE,
    firstVisitedTile,
    skippedFraction: stats.causal ? 1 - stats.visited / stats.causal : 0,
    kernelFlops: attentionFlops(kernelBlocks * 16, request.dModel, 1),
    causalFlops: attentionFlops(causalBlocks * 16, request.dModel, 1),
  };
  let field: ReceptiveFieldView | null = null;
  const drawable = L <= MAX_MASK_TOKENS;
  if (drawable && request.fieldTarget !== null && prompt.targets.length > 0) {
    const target = Math.min(request.fieldTarget, prompt.targets.length - 1);
    const { sumPos, interaction } = prompt.targets[target];
    const reach = receptiveField(prompt, n, level, request.layers, sumPos);
    let reached = 0;
    let leaked = 0;
    for (let t = 0; t < L; t++) {
      if (!reach[t]) continue;
      reached++;
      if (prompt.interaction[t] < interaction - n) leaked++;
    }
    field = { target, field: reach, reached, leaked };
  }
  // In its own SW prompt a target's [SUM] sits after its n context interactions and its own item tokens.
  const targetPositions = prompt.targets.map((t) => {
    const windowStart = prompt.interactionStart[t.interaction - n];
    return { dti: prompt.position[t.sumPos], sw: t.sumPos - windowStart };
  });
  return {
    dataset,
    request,
    prompt,
    userIndex,
    meta,
    interactionText,
    reasons: drawable ? denseMaskReasons(prompt, n, level) : null,
    allowedCells,
    tiles,
    field,
    targetPositions,
  };
}

export interface TrainingCost {
  prompts: number;
  targets: number;
  tokens: number;
  tokensPerTarget: number;
}

/**
 * Tokens the training split costs per epoch with n context interactions and k targets per prompt: packPrompts' spans
 * (promptSpans) measured with prefix sums of interaction lengths, so a large dataset costs O(interactions) and no
 * prompt is built.
 */
export function trainingCost(dataset: TokenizedDataset, n: number, k: number): TrainingCost {
  let prompts = 0;
  let targets = 0;
  let tokens = 0;
  let prefixUser = -1;
  const lengths = interactionLengths(dataset);
  const prefix = prefixBuffer(dataset);
  for (const span of promptSpans(dataset, { n, k, split: 'train' })) {
    if (span.userIndex !== prefixUser) {
      prefixUser = span.userIndex;
      interactionPrefix(lengths, dataset.users[prefixUser].items, prefix);
    }
    prompts++;
    targets += span.targetCount;
    tokens += prefix[span.firstHistoryIndex + n + span.targetCount] - prefix[span.firstHistoryIndex];
  }
  return { prompts, targets, tokens, tokensPerTarget: targets ? tokens / targets : 0 };
}
