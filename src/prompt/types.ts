/**
 * The contract between the data layer (src/data), the packer (src/prompt) and the engine (src/model, src/gpu).
 * See ../../docs/ENGINE.md for the token layout and the mask rule.
 */

/** Role of a token inside its interaction. PAD marks padding: never attended, its rows are ignored. */
export const ROLE_ITEM = 0;
export const ROLE_SUM = 1;
export const ROLE_LABEL = 2;
export const ROLE_PAD = 3;
export type Role = typeof ROLE_ITEM | typeof ROLE_SUM | typeof ROLE_LABEL | typeof ROLE_PAD;

export type IsolationLevel = 'full-causal' | 'window' | 'sum-isolated' | 'strict';
export const ISOLATION_LEVELS: readonly IsolationLevel[] = ['full-causal', 'window', 'sum-isolated', 'strict'];

export type PositionEncoding = 'learned' | 'rope' | 'alibi' | 'none';
export const POSITION_ENCODINGS: readonly PositionEncoding[] = ['learned', 'rope', 'alibi', 'none'];

/** Special tokens occupy the first ids of every vocabulary, in this order. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[SUM]', '[YES]', '[NO]', '[LIKE]', '[DISLIKE]', '[ITEM-UNK]'] as const;
export const TOKEN_PAD = 0;
export const TOKEN_UNK = 1;
export const TOKEN_SUM = 2;
export const TOKEN_YES = 3;
export const TOKEN_NO = 4;
export const TOKEN_LIKE = 5;
export const TOKEN_DISLIKE = 6;
/** The item-id token of every item seen too rarely in training to have its own. */
export const TOKEN_ITEM_UNK = 7;

/**
 * How an item is written in a prompt: its words (title words and genres), its item-id token, or the id then the words.
 * From-scratch models learn an item's own appeal through its id; words carry what items share.
 */
export type ItemText = 'words' | 'id' | 'both';
export const ITEM_TEXTS: readonly ItemText[] = ['words', 'id', 'both'];

export interface Vocabulary {
  /** tokens[id] is the token's text; ids 0..SPECIAL_TOKENS.length-1 are the special tokens. */
  tokens: string[];
}

/** Which split an interaction belongs to when it is a target. */
export const SPLIT_TRAIN = 0;
export const SPLIT_VALID = 1;
export const SPLIT_TEST = 2;

/** One user's time-ordered history. Arrays are parallel, one entry per interaction. */
export interface UserHistory {
  userId: string;
  /** Item index into TokenizedDataset.itemTokens. */
  items: Int32Array;
  /** Click label: 1 = positive. */
  labels: Uint8Array;
  /** SPLIT_TRAIN / SPLIT_VALID / SPLIT_TEST per interaction (temporal split). */
  split: Uint8Array;
}

/** What the data layer hands to the packer. */
export interface TokenizedDataset {
  name: string;
  vocab: Vocabulary;
  /**
   * Token ids of item i as prompts write it. The data layer gives its words (title and genre words; an item without
   * any text gets its item-id token instead); withItemText (src/prompt/item-text.ts) rewrites them for a run. Never empty.
   */
  itemTokens: Int32Array[];
  /** Item i's item-id token: its own for items seen often enough in training, else TOKEN_ITEM_UNK. */
  itemIds: Int32Array;
  /** Human-readable name of item i, for display. */
  itemTitles: string[];
  users: UserHistory[];
}

/** A target inside a packed prompt. */
export interface PromptTarget {
  /** Prompt-local interaction index of the target. */
  interaction: number;
  /** Token index of the target's [SUM] token (where P(click) is read). */
  sumPos: number;
  label: 0 | 1;
  /** Index of the target interaction inside its user's history. */
  historyIndex: number;
}

/** One packed prompt: interactions rendered as `item tokens… [SUM] label-token`, n context then up to k targets. */
export interface PackedPrompt {
  userIndex: number;
  /** History index of the prompt's first interaction. */
  firstHistoryIndex: number;
  tokens: Int32Array;
  /** Prompt-local interaction index of each token (non-decreasing). */
  interaction: Int32Array;
  role: Uint8Array;
  position: Int32Array;
  /** Token offset where each prompt-local interaction starts; length = interactions + 1 (last = token count). */
  interactionStart: Int32Array;
  targets: PromptTarget[];
}

/** A padded batch in the flat layout the GPU consumes (row-major [B, L]). */
export interface Batch {
  B: number;
  L: number;
  tokens: Int32Array;
  /** Packed per-token mask metadata: (interaction << 2) | role. Pad tokens have role ROLE_PAD. */
  meta: Uint32Array;
  positions: Int32Array;
  /** Per token: the smallest key index it may attend as a query (inclusive), under the batch's n and level. */
  keyStart: Int32Array;
  /** Per token: the largest query index that may attend it as a key (inclusive). */
  queryEnd: Int32Array;
  /**
   * The attention kernels' work plan (row order and per-group ranges, `attentionPlan` of src/prompt/ranges.ts), from
   * meta, keyStart, queryEnd and the level. makeBatch fills it; a batch built by hand may leave it out, and the engine
   * then computes it at upload.
   */
  attentionPlan?: Int32Array;
  /** Flat index b*L + sumPos of every target, and its label. */
  targetIndex: Int32Array;
  targetLabel: Float32Array;
  /**
   * The step's loss is Σ_t loss_t / lossDenominator: the target count (the mean) unless the batch was built with
   * another (training: the targets a step holds on average), so that a batch of few targets moves the weights less,
   * not each target more.
   */
  lossDenominator: number;
  prompts: PackedPrompt[];
  n: number;
  isolation: IsolationLevel;
}

export function packMeta(interaction: number, role: Role): number {
  return ((interaction << 2) | role) >>> 0;
}
export function metaInteraction(meta: number): number {
  return meta >>> 2;
}
export function metaRole(meta: number): Role {
  return (meta & 3) as Role;
}
