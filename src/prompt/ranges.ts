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
