import { type IsolationLevel, ROLE_PAD, ROLE_SUM, metaInteraction, metaRole } from './types';

/**
 * Per-token attention ranges that let kernels skip whole tiles. For each token t of a [B, L] batch:
 * - keyStart[t]: no key before it may be attended by t as a query;
 * - queryEnd[t]: no query after it may attend t as a key.
 * Both are conservative bounds of the element rule in mask.ts (a tile outside them has no allowed cell).
 * Pad tokens get keyStart = L and queryEnd = -1, so they never widen a tile's range.
 */
export function maskRanges(
  meta: Uint32Array,
  B: number,
  L: number,
  n: number,
  level: IsolationLevel,
): { keyStart: Int32Array; queryEnd: Int32Array } {
  const keyStart = new Int32Array(B * L);
  const queryEnd = new Int32Array(B * L);
  const starts: number[] = [];
  for (let b = 0; b < B; b++) {
    const row = b * L;
    // Token offset where each interaction of this sequence starts (interactions are non-decreasing along a row).
    starts.length = 0;
    let last = -1;
    for (let t = 0; t < L; t++) {
      const m = meta[row + t];
      if (metaRole(m) === ROLE_PAD) continue;
      const i = metaInteraction(m);
      while (starts.length <= i) starts.push(t);
      last = t;
    }
    const count = starts.length;
    const endOf = (i: number) => (i + 1 < count ? starts[i + 1] - 1 : last);
    for (let t = 0; t < L; t++) {
      const m = meta[row + t];
      const role = metaRole(m);
      if (role === ROLE_PAD) {
        keyStart[row + t] = L;
        queryEnd[row + t] = -1;
        continue;
      }
      const i = metaInteraction(m);
      const windowStart = starts[Math.max(0, i - n)];
      const windowEnd = endOf(Math.min(count - 1, i + n));
      switch (level) {
        case 'full-causal':
          keyStart[row + t] = 0;
          queryEnd[row + t] = last;
          break;
        case 'window':
          keyStart[row + t] = windowStart;
          queryEnd[row + t] = windowEnd;
          break;
        case 'sum-isolated':
          keyStart[row + t] = windowStart;
          queryEnd[row + t] = role === ROLE_SUM ? endOf(i) : windowEnd;
          break;
        case 'strict':
          keyStart[row + t] = role === ROLE_SUM ? windowStart : starts[i];
          queryEnd[row + t] = role === ROLE_SUM ? t : windowEnd;
          break;
      }
    }
  }
  return { keyStart, queryEnd };
}

export interface TileStats {
  /** Key tiles a flash kernel visits (its range covers them). */
  visited: number;
  /** Key tiles a dense causal kernel visits (tile start <= query tile end, within the unpadded length). */
  causal: number;
  /** Allowed cells divided by the L×L area, and the dense-causal cells divided by it. */
  allowedFraction: number;
  causalFraction: number;
}

/** Counts tiles the attention forward visits for query tiles of `tile` rows and key tiles of `tile` columns. */
export function tileStats(
  meta: Uint32Array,
  keyStart: Int32Array,
  B: number,
  L: number,
  tile: number,
  allowedCells: number,
): TileStats {
  let visited = 0;
  let causal = 0;
  let causalCells = 0;
  for (let b = 0; b < B; b++) {
    const row = b * L;
    let length = 0;
    while (length < L && metaRole(meta[row + length]) !== ROLE_PAD) length++;
    causalCells += (length * (length + 1)) / 2;
    for (let q0 = 0; q0 < length; q0 += tile) {
      const q1 = Math.min(length, q0 + tile) - 1;
      let lo = L;
      for (let q = q0; q <= q1; q++) lo = Math.min(lo, keyStart[row + q]);
      const firstTile = Math.floor(lo / tile);
      const lastTile = Math.floor(q1 / tile);
      visited += lastTile - firstTile + 1;
      causal += lastTile + 1;
    }
  }
  return {
    visited,
    causal,
    allowedFraction: allowedCells / (B * L * L),
    causalFraction: causalCells / (B * L * L),
  };
}

/**
 * Rows per thread of the attention kernels (`ROWS` in shaders/attention.wgsl; src/gpu/kernels/attention.ts checks the
 * two agree). The attention plan below describes work in groups of this many rows.
 */
export const ATTENTION_GROUP = 4;

/**
 * Under `strict` the plan's item/label section is padded with empty query slots to a multiple of this, one thread's
 * group, so that no thread mixes item/label rows (a couple of interactions of keys each) with [SUM] rows (a window
 * each). Only the cost depends on it, never a result. It used to be the kernels' query tile (32), so that no workgroup
 * mixed the two either; since threads walk their own ranges (and the software layout gives the lanes of a SIMD group
 * the heads of one group) that only added up to 28 empty query slots a sequence, each a thread's fixed cost
 * (docs/attention-kernel.md). One tile per sequence mixes the two now: on GPUs it loads the [SUM] rows' chunks once.
 */
export const ATTENTION_SECTION_ALIGN = ATTENTION_GROUP;

/** Start of an empty range in the plan (any lo > hi is empty; this one stays above every index). */
const EMPTY_LO = 0x7fffffff;

/** Where the parts of an attention plan (see attentionPlan) lie in its Int32Array, for a [B, L] batch. */
export interface AttentionPlanLayout {
  /** Query slots per sequence: L, or under `strict` up to ATTENTION_SECTION_ALIGN - 1 more (empty slots, order -1). */
  slots: number;
  /** Key slots per sequence: L, or under `strict` L rounded up to 4 plus up to 3 more (empty slots, keyOrder -1). */
  keySlots: number;
  /** Groups of ATTENTION_GROUP query slots, and of key slots, per sequence. */
  queryGroupCount: number;
  keyGroupCount: number;
  /** meta[b·L + t]: a copy of the batch's token metadata (the kernels read it here; one binding fewer). */
  meta: number;
  /** order[b·slots + u] = the token (0..L-1, inside sequence b) a kernel processes as query slot u; -1: empty. */
  order: number;
  /** keyOrder[b·keySlots + u] = the token a kernel processes as key slot u; -1: empty. Token order except under strict. */
  keyOrder: number;
  /** [B, queryGroupCount, 4]: per group of 4 consecutive query slots, two ranges [lo0, hi0, lo1, hi1] of key slots. */
  queryGroups: number;
  /** [B, keyGroupCount, 4]: per group of 4 consecutive key slots, two ranges [lo0, hi0, lo1, hi1] of query slots. */
  keyGroups: number;
  /** Total Int32 count. */
  length: number;
}

export function attentionPlanLayout(B: number, L: number, level: IsolationLevel): AttentionPlanLayout {
  const strict = level === 'strict';
  const slots = strict ? Math.ceil((L + ATTENTION_SECTION_ALIGN - 1) / ATTENTION_GROUP) * ATTENTION_GROUP : L;
  const keySlots = strict ? Math.ceil((L + ATTENTION_GROUP - 1) / ATTENTION_GROUP) * ATTENTION_GROUP : L;
  const queryGroupCount = Math.ceil(slots / ATTENTION_GROUP);
  const keyGroupCount = Math.ceil(keySlots / ATTENTION_GROUP);
  const order = B * L;
  const keyOrder = order + B * slots;
  const queryGroups = keyOrder + B * keySlots;
  const keyGroups = queryGroups + 4 * B * queryGroupCount;
  return {
    slots,
    keySlots,
    queryGroupCount,
    keyGroupCount,
    meta: 0,
    order,
    keyOrder,
    queryGroups,
    keyGroups,
    length: keyGroups + 4 * B * keyGroupCount,
  };
}

/**
 * The work plan of the attention kernels for one batch (an Int32Array laid out by attentionPlanLayout). A range
 * [lo, hi] with lo > hi is empty.
 *
 * - meta: a copy of the token metadata.
 * - Query order. Forward and dQ process the queries of a sequence in `order` (query slots), 4 per thread, 32 per
 *   workgroup, so a thread's (and a workgroup's) key range is the union of its rows' ranges. Under `strict` the order
 *   groups rows of like ranges: item/label rows first (token order; each needs only its own interaction), empty slots
 *   up to a multiple of ATTENTION_SECTION_ALIGN, then [SUM] rows (token order; each needs its window), then padding.
 *   Other levels keep token order (every row of an interaction has the same keyStart there: reordering gains nothing).
 * - Key order. Forward and dQ stream the keys, and dK/dV owns them, in `keyOrder` (key slots). Under `strict`:
 *   item/label keys first (token order), empty slots up to a multiple of 4, then [SUM] keys (token order), then
 *   padding. A [SUM] query reads only item/label keys of its window and its own [SUM] key, so its window holds no
 *   other [SUM] keys, and the [SUM] keys of 4 consecutive [SUM] rows are one aligned block. Other levels: token order.
 * - queryGroups: per group of 4 ordered query slots, the key slots its non-pad rows may read, as two ranges. Under
 *   `strict` the item/label keys in [min keyStart, max token] (the first range) and the [SUM] rows' own [SUM] keys
 *   (the second); otherwise [min keyStart, max token] and an empty second.
 * - keyGroups: per group of 4 key slots, the query slots that may attend them, as two ranges. Under `strict` they are
 *   the item/label queries of the keys' own interactions (the first range, inside the item/label part of the order)
 *   and the [SUM] queries up to queryEnd (the second, inside the [SUM] part); otherwise one range,
 *   [first key, max queryEnd], and an empty second.
 *
 * - targets (optional; flat indices b·L + t of the batch's target [SUM] tokens, Batch.targetIndex): under `strict` a
 *   [SUM] token that is no target is unused. Only its own row reads it (no other query may attend a [SUM] key of
 *   another interaction, and item/label queries none), so its output reaches no target and its gradient is exactly
 *   0. With `targets` the plan marks those tokens pad in its metadata copy: the kernels skip them as queries and as
 *   keys and write 0 as their output (and lse), which changes nothing any target, the loss or a gradient depends on
 *   (their dout is 0, so each skipped cell would have added exactly 0). Without `targets`, every row is computed.
 *
 * Everything is a conservative bound of the rule in mask.ts: cells outside the ranges are never allowed. The kernels
 * consume the streamed side in 4-aligned blocks in ascending order (the second range after the first, a block the
 * two share once), so the ranges change the cost, never a bit of the result (the orders do change the summation
 * order, as any other fixed order would).
 */
export function attentionPlan(
  tokenMeta: Uint32Array,
  keyStart: Int32Array,
  queryEnd: Int32Array,
  B: number,
  L: number,
  level: IsolationLevel,
  targets?: ArrayLike<number>,
): Int32Array {
  const layout = attentionPlanLayout(B, L, level);
  const { slots, keySlots, queryGroupCount, keyGroupCount } = layout;
  const plan = new Int32Array(layout.length);
  const strict = level === 'strict';
  // The metadata the kernels see: the batch's, or under strict with `targets` the [SUM] tokens that are no target
  // marked pad (unusedSumsAsPad).
  const meta = strict && targets ? unusedSumsAsPad(tokenMeta, B * L, targets) : tokenMeta;
  plan.set(meta.subarray(0, B * L), layout.meta);
  plan.fill(-1, layout.order, layout.queryGroups);
  // Section of a row in both orders: strict 0 item/label, 1 [SUM], 2 pad; other levels 0 for every row.
  const sectionOf = (m: number) => {
    if (!strict) return 0;
    const role = metaRole(m);
    return role === ROLE_PAD ? 2 : role === ROLE_SUM ? 1 : 0;
  };
  const sections = strict ? 3 : 1;
  // before[s * (L + 1) + t]: rows of section s with token < t.
  const before = new Int32Array(sections * (L + 1));
  // First slot of each section, in the query order and in the key order.
  const sectionStart = new Int32Array(sections + 1);
  const keySectionStart = new Int32Array(sections + 1);
  const interactionEnd = new Int32Array(L); // last token of the token's interaction (strict)
  // Slots of section s holding tokens in [from, to]: contiguous.
  const range = (starts: Int32Array, s: number, from: number, to: number): [number, number] => {
    if (to < from) return [EMPTY_LO, -1];
    const lo = starts[s] + before[s * (L + 1) + from];
    const hi = starts[s] + before[s * (L + 1) + to + 1] - 1;
    return lo > hi ? [EMPTY_LO, -1] : [lo, hi];
  };
  const widen = (r: number[], i: number, [lo, hi]: [number, number]) => {
    if (lo > hi) return;
    r[2 * i] = Math.min(r[2 * i], lo);
    r[2 * i + 1] = Math.max(r[2 * i + 1], hi);
  };
  for (let b = 0; b < B; b++) {
    const row = b * L;
    // Both orders: sections one after another, token order inside each.
    before.fill(0);
    for (let t = 0; t < L; t++) {
      const s = sectionOf(meta[row + t]);
      for (let x = 0; x < sections; x++) before[x * (L + 1) + t + 1] = before[x * (L + 1) + t] + (x === s ? 1 : 0);
    }
    for (let s = 0; s < sections; s++) {
      const size = before[s * (L + 1) + L];
      // The item/label section ends on a tile boundary in the query order, on a group boundary in the key order.
      const align = (to: number) => (strict && s === 0 ? Math.ceil(size / to) * to : size);
      sectionStart[s + 1] = sectionStart[s] + align(ATTENTION_SECTION_ALIGN);
      keySectionStart[s + 1] = keySectionStart[s] + align(ATTENTION_GROUP);
    }
    for (let t = 0; t < L; t++) {
      const s = sectionOf(meta[row + t]);
      plan[layout.order + b * slots + sectionStart[s] + before[s * (L + 1) + t]] = t;
      plan[layout.keyOrder + b * keySlots + keySectionStart[s] + before[s * (L + 1) + t]] = t;
    }
    // Query groups: the keys a row t may read are tokens in [keyStart, t]; under strict only the item/label ones, and
    // for a [SUM] row its own [SUM] key (t itself).
    for (let g = 0; g < queryGroupCount; g++) {
      const r = [EMPTY_LO, -1, EMPTY_LO, -1];
      for (let u = g * ATTENTION_GROUP; u < Math.min(slots, (g + 1) * ATTENTION_GROUP); u++) {
        const t = plan[layout.order + b * slots + u];
        if (t < 0 || metaRole(meta[row + t]) === ROLE_PAD) continue;
        widen(r, 0, range(keySectionStart, 0, keyStart[row + t], t));
        if (strict && metaRole(meta[row + t]) === ROLE_SUM) widen(r, 1, range(keySectionStart, 1, t, t));
      }
      plan.set(r, layout.queryGroups + (b * queryGroupCount + g) * 4);
    }
    // Key groups. The queries of section s that may attend key p are that section's rows with tokens in
    // [p, end_s(p)]: contiguous slots.
    if (strict) {
      for (let t = L - 1; t >= 0; t--) {
        const m = tokenMeta[row + t];
        const next = t + 1 < L ? tokenMeta[row + t + 1] : 0;
        const sameNext =
          t + 1 < L && metaRole(next) !== ROLE_PAD && metaInteraction(next) === metaInteraction(m);
        interactionEnd[t] = sameNext ? interactionEnd[t + 1] : t;
      }
    }
    for (let g = 0; g < keyGroupCount; g++) {
      const r = [EMPTY_LO, -1, EMPTY_LO, -1];
      for (let u = g * ATTENTION_GROUP; u < Math.min(keySlots, (g + 1) * ATTENTION_GROUP); u++) {
        const p = plan[layout.keyOrder + b * keySlots + u];
        if (p < 0) continue;
        const m = meta[row + p];
        if (metaRole(m) === ROLE_PAD) continue;
        if (strict) {
          widen(r, 0, range(sectionStart, 0, p, metaRole(m) === ROLE_SUM ? -1 : interactionEnd[p]));
          widen(r, 1, range(sectionStart, 1, p, queryEnd[row + p]));
        } else {
          widen(r, 0, range(sectionStart, 0, p, queryEnd[row + p]));
        }
      }
      plan.set(r, layout.keyGroups + (b * keyGroupCount + g) * 4);
    }
  }
  return plan;
}

/**
 * The metadata with every [SUM] token that is not in `targets` (flat indices b·L + t) marked pad (attentionPlan):
 * under `strict` nothing but its own row reads such a token.
 */
function unusedSumsAsPad(meta: Uint32Array, count: number, targets: ArrayLike<number>): Uint32Array {
  const out = meta.slice(0, count);
  const target = new Uint8Array(count);
  for (let i = 0; i < targets.length; i++) target[targets[i]] = 1;
  for (let i = 0; i < count; i++) if (metaRole(out[i]) === ROLE_SUM && !target[i]) out[i] = ROLE_PAD;
  return out;
}

/**
 * What the attention kernels do for one plan: 4×4 blocks computed (both layouts) and workgroup loads of the streamed
 * side (the staged layout of GPUs only; the direct layout of software devices loads nothing into workgroup memory).
 */
export interface AttentionWork {
  /** Forward (and dQ, the same): key chunks loaded, summed over query tiles; 4×4 score blocks computed. */
  forwardChunks: number;
  forwardBlocks: number;
  /** dK/dV: query chunks loaded, summed over key tiles; 4×4 blocks computed. */
  backwardChunks: number;
  backwardBlocks: number;
}

/**
 * Counts the work shaders/attention.wgsl does for `plan` (the same arithmetic as the kernels), with query and key
 * tiles of `tile` rows and `chunk` streamed rows per load. Compare with the plan of the same batch under
 * 'full-causal' for the dense causal cost.
 */
export function attentionWork(
  plan: Int32Array,
  B: number,
  L: number,
  level: IsolationLevel,
  tile: number,
  chunk = tile,
): AttentionWork {
  const layout = attentionPlanLayout(B, L, level);
  const { queryGroupCount, keyGroupCount } = layout;
  const perTile = tile / ATTENTION_GROUP;
  const work: AttentionWork = { forwardChunks: 0, forwardBlocks: 0, backwardChunks: 0, backwardBlocks: 0 };
  const blocks = (lo: number, hi: number) => (lo > hi ? 0 : (hi >> 2) - (lo >> 2) + 1);
  const chunks = (lo: number, hi: number) => (lo > hi ? 0 : Math.floor((hi - (lo & ~3)) / chunk) + 1);
  // A tile of `perTile` groups, each with two ranges (entries of 4 from `base`): blocks its threads compute (the
  // second range after the first, a shared block once) and chunks its workgroup loads (per range, their union).
  const tileWork = (base: number, g0: number, count: number): [number, number] => {
    const ranges = [Infinity, -1, Infinity, -1];
    let tileBlocks = 0;
    for (let g = g0; g < Math.min(count, g0 + perTile); g++) {
      const k = base + g * 4;
      let next = 0;
      for (let r = 0; r < 2; r++) {
        const lo = plan[k + 2 * r];
        const hi = plan[k + 2 * r + 1];
        if (lo > hi) continue;
        ranges[2 * r] = Math.min(ranges[2 * r], lo);
        ranges[2 * r + 1] = Math.max(ranges[2 * r + 1], hi);
        tileBlocks += blocks(Math.max(lo, next), hi);
        next = Math.max(next, (hi & ~3) + 4);
      }
    }
    return [tileBlocks, chunks(ranges[0], ranges[1]) + chunks(ranges[2], ranges[3])];
  };
  for (let b = 0; b < B; b++) {
    for (let g0 = 0; g0 < queryGroupCount; g0 += perTile) {
      const [tileBlocks, tileChunks] = tileWork(layout.queryGroups + b * queryGroupCount * 4, g0, queryGroupCount);
      work.forwardBlocks += tileBlocks;
      work.forwardChunks += tileChunks;
    }
    for (let g0 = 0; g0 < keyGroupCount; g0 += perTile) {
      const [tileBlocks, tileChunks] = tileWork(layout.keyGroups + b * keyGroupCount * 4, g0, keyGroupCount);
      work.backwardBlocks += tileBlocks;
      work.backwardChunks += tileChunks;
    }
  }
  return work;
}
