// Block-masked causal attention, flash style (docs/ENGINE.md), forward and backward.
//
// Layouts: qkv [B*L, 3d] (q cols [0,d), k [d,2d), v [2d,3d); head h uses cols h*hd .. of each part), out/dout [B*L, d]
// head-major, lse/D [B, H, L]. tokenMeta(row) = (interaction << 2) | role (role 0 item, 1 sum, 2 label, 3 pad), read
// from the plan's copy.
//
// Work split: a workgroup owns a TILE of rows (query slots of the plan's order for forward and dQ, key slots of its
// key order for dK/dV) of one (batch, head).
// Each thread owns ROWS = 4 consecutive rows, packed in the 4 lanes of vec4s: its q (or k, v) rows, running max, sum
// and output accumulators stay in the thread. The other side (keys, or queries for dK/dV) is consumed 4 rows at a
// time. Staged layout (GPUs): it streams through workgroup memory CHUNK rows at a time, loaded cooperatively, one
// barrier pair per chunk. Direct layout (DIRECT, the wrapper's choice for software devices): each thread reads the
// rows of its own ranges straight from storage, with no workgroup memory and no barrier, because on SwiftShader the
// chunk loads and barriers cost more than they save where ranges are short (strict: measured 25 % faster overall,
// dense causal about even; docs/attention-kernel.md). Both consume the same blocks in the same order: bitwise equal.
// No L x L score matrix exists anywhere: scores live in registers for one 4 x 4 block.
// Why this blocking: on SwiftShader (CPU Vulkan) every memory access (storage, workgroup or private array) costs far
// more than an FMA; with 4 rows x 4 streamed rows per step each loaded value feeds 4 FMAs
// (measured 2.5x faster than one row per thread there). On GPUs the streamed tile in workgroup memory is read by all
// threads of the workgroup at the same address (a broadcast). A workgroup has only TILE / 4 = 8 threads, which fills
// a quarter of a 32-wide warp; at this lab's sizes the kernels are latency-bound anyway. If they ever show up in GPU
// profiles, put several heads in one workgroup (their tile ranges are the same, they depend only on the tokens).
//
// Tile skipping follows the batch's attention plan (attentionPlan in src/prompt/ranges.ts, one i32 buffer):
// - order: forward and dQ take the queries of a sequence in this order (P.slots query slots: each token once, -1 for
//   an empty slot), 4 per thread (a "group"), TILE per workgroup; under strict, item/label rows come first, empty
//   slots up to a tile boundary, then [SUM] rows, so a tile of item/label rows needs only a couple of interactions'
//   keys instead of a [SUM] row's whole window;
// - keyOrder: forward and dQ stream the keys, and dK/dV owns them, in this order (P.keySlots key slots); under strict
//   (KEY_ORDER) item/label keys first, empty slots up to a multiple of 4, then [SUM] keys, so a [SUM] row's window
//   holds no other [SUM] keys and the own [SUM] keys of 4 consecutive [SUM] rows are one block; other levels keep
//   token order (computed, not read);
// - queryGroups: per group of 4 ordered queries, two ranges of key slots (strict [SUM] rows: their window's
//   item/label keys, then their own [SUM] keys); a workgroup loads the union of its groups' ranges, range by range,
//   and each thread computes only its own;
// - keyGroups: per group of 4 key slots, two ranges of query slots (in `order`) that may attend them; dK/dV
//   streams the ordered queries of both ranges.
// Chunks start at the range's first row rounded down to 4 and stop at its last row; nothing outside is loaded or
// computed. The second range starts after the thread's last block of the first (a block both touch is visited once).
// Inside, `allowed` (the exact rule of src/prompt/mask.ts) masks element by element; a masked cell adds exactly 0 to
// the sums (for finite inputs) and leaves the running max alone. The streamed side is consumed in
// 4-aligned blocks in ascending order (each block once, even where the two ranges share a block), so the ranges
// change the cost only, not one bit.
//
// Deterministic and atomic-free: dQ has one writer per query row, dK/dV one writer per key row; both accumulate (+=).
// dQ also computes D = rowsum(dout * out) of its rows for dK/dV (no separate dispatch).
// Each entry point binds its own contiguous bindings (GpuContext.dispatch binds resources in order); variables of
// different entry points may share a binding number.

// Rows per workgroup tile (queries for forward/dQ, keys for dK/dV). src/gpu/kernels/attention.ts reads this line.
const TILE: u32 = 32u;
const ROWS: u32 = 4u; // rows per thread, one per vec4 lane (= ATTENTION_GROUP of the plan; the wrapper checks)
const THREADS: u32 = TILE / ROWS;
// Private arrays need a constant size; HEAD_DIM (an override, so loops have a constant bound per pipeline) <= HD_MAX.
// The wrapper rewrites this line to the head dimension: WGSL zero-fills private arrays at every invocation's start,
// which at 128 costs SwiftShader more than a whole small kernel.
const HD_MAX: u32 = 128u;
override HEAD_DIM: u32 = 16u;
// Rows of the streamed side per barrier pair; a multiple of 4. The wrapper lowers it for large head dimensions so
// the workgroup memory (2 * CHUNK * HEAD_DIM + 4 * CHUNK words) fits the device limit.
override CHUNK: u32 = 32u;
// The direct layout (see above); the wrapper then sets CHUNK to 4, since the workgroup arrays go unused.
override DIRECT: bool = false;
// Whether the plan reorders the keys (strict); otherwise key slot u is token u, computed rather than read. An override,
// like ALIBI (positions are read only with it), so the pipeline of the dense mask carries no code for either.
override KEY_ORDER: bool = false;
override ALIBI: bool = false;
// Distance-based forgetting: the bias also counts the interaction distance (meta's interaction index).
override FORGET: bool = false;

const ROLE_SUM: u32 = 1u;
const ROLE_PAD: u32 = 3u;
// Running-max start and the score of a masked cell: finite, so exp(NEG_BIG - m) is 0 rather than NaN.
const NEG_BIG: f32 = -3.0e38;
const LANE_OFFSETS = vec4u(0u, 1u, 2u, 3u);

struct Params {
  B: u32,
  L: u32,
  H: u32,
  n: u32, // window, in interactions (clamped to 2^30 by the wrapper, so ip + n cannot wrap)
  level: u32, // 0 full-causal, 1 window, 2 sum-isolated, 3 strict
  alibi: u32, // 1: ALiBi; the kernels read the ALIBI override instead (and FORGET for forgetting)
  scale: f32, // 1 / sqrt(hd)
  qkvOffset: u32,
  positionsOffset: u32,
  planOffset: u32, // the attention plan (attentionPlanLayout in src/prompt/ranges.ts)
  outOffset: u32,
  lseOffset: u32,
  doutOffset: u32,
  dqkvOffset: u32,
  slots: u32, // query slots per sequence in the plan's order (attentionPlanLayout)
  keySlots: u32, // key slots per sequence in the plan's key order
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  _pad3: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<i32>;
@group(0) @binding(3) var<storage, read> plan: array<i32>; // starts with the token metadata (attentionPlanLayout)
// attention_forward
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
// attention_backward_dq, attention_backward_dkv
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lseIn: array<f32>;
@group(0) @binding(6) var<storage, read> rowDot: array<f32>; // D = rowsum(dout * out), [B, H, L]; dK/dV reads it
@group(0) @binding(7) var<storage, read_write> dqkv: array<f32>;
// attention_backward_dq only: it computes D for its own rows (every token is some dQ thread's row) and writes it for
// dK/dV, the next dispatch.
@group(0) @binding(6) var<storage, read_write> rowDotOut: array<f32>;
@group(0) @binding(8) var<storage, read> outIn: array<f32>;

// The streamed chunk: K and V rows (forward, dQ) or Q and dO rows (dK/dV), plus per-row data.
var<workgroup> tileA: array<f32, CHUNK * HEAD_DIM>;
var<workgroup> tileB: array<f32, CHUNK * HEAD_DIM>;
var<workgroup> tileMeta: array<u32, CHUNK>;
var<workgroup> tileCoord: array<i32, CHUNK>;
var<workgroup> tileLse: array<f32, CHUNK>;
var<workgroup> tileDot: array<f32, CHUNK>;
var<workgroup> tileRow: array<u32, CHUNK>; // the token of each streamed (ordered) row

// isAllowed of src/prompt/mask.ts, exactly, for 4 (query, key) cells at once.
fn allowed(q: vec4u, p: vec4u, metaQ: vec4u, metaP: vec4u) -> vec4<bool> {
  let roleQ = metaQ & vec4u(3u);
  let roleP = metaP & vec4u(3u);
  var ok = (p <= q) & (roleQ != vec4u(ROLE_PAD)) & (roleP != vec4u(ROLE_PAD));
  if (P.level == 0u) {
    return ok;
  }
  let iq = metaQ >> vec4u(2u);
  let ip = metaP >> vec4u(2u);
  let same = iq == ip;
  ok = ok & (ip + vec4u(P.n) >= iq); // not (ip < iq - n): the window (always true within one interaction)
  if (P.level == 1u) {
    return ok;
  }
  let keyNotSum = roleP != vec4u(ROLE_SUM);
  if (P.level == 2u) {
    return ok & (same | keyNotSum);
  }
  return ok & select(same & keyNotSum, same | keyNotSum, roleQ == vec4u(ROLE_SUM));
}

// Head h's slope of the bias -slope * (coordQ - coordP), attentionBiasSlope of src/model/config.ts.
fn biasSlope(h: u32) -> f32 {
  if (!ALIBI && !FORGET) {
    return 0.0;
  }
  return exp2(-8.0 * f32(h + 1u) / f32(P.H));
}

// Plan layout (attentionPlanLayout): meta [B, L] (a copy of the batch's token metadata, so the kernels need no binding
// of their own for it), order [B, slots], keyOrder [B, keySlots], then queryGroups [B, QG, 4], keyGroups [B, KG, 4].
fn tokenMeta(row: u32) -> u32 {
  return u32(plan[P.planOffset + row]);
}
fn planHead() -> u32 {
  return P.planOffset + P.B * P.L;
}
fn queryGroupCount() -> u32 {
  return (P.slots + ROWS - 1u) / ROWS;
}
fn keyGroupCount() -> u32 {
  return (P.keySlots + ROWS - 1u) / ROWS;
}
fn orderBase(b: u32) -> u32 {
  return planHead() + b * P.slots;
}
fn keyOrderBase(b: u32) -> u32 {
  return planHead() + P.B * P.slots + b * P.keySlots;
}
fn queryGroupBase(b: u32) -> u32 {
  return planHead() + P.B * (P.slots + P.keySlots) + b * queryGroupCount() * 4u;
}
fn keyGroupBase(b: u32) -> u32 {
  return planHead() + P.B * (P.slots + P.keySlots) + 4u * P.B * queryGroupCount() + b * keyGroupCount() * 4u;
}

// Token of query slot u of sequence b, or -1 for an empty slot (or one past the slots).
fn slotToken(b: u32, u: u32) -> i32 {
  if (u >= P.slots) {
    return -1;
  }
  return plan[orderBase(b) + u];
}

// Token of key slot u of sequence b, or -1 for an empty slot (or one past the slots). Only strict reorders the keys;
// the other levels' key order is token order, computed here rather than read.
fn keyToken(b: u32, u: u32) -> i32 {
  if (!KEY_ORDER) {
    return select(-1, i32(u), u < P.L);
  }
  if (u >= P.keySlots) {
    return -1;
  }
  return plan[keyOrderBase(b) + u];
}

// Where row `at` sits for the bias: its position with ALiBi, plus its interaction index with forgetting (one slope
// serves both, so the two distances add up); 0 without either, and then nothing is read.
fn biasCoordinate(at: u32) -> i32 {
  var coordinate = 0;
  if (ALIBI) {
    coordinate += positions[P.positionsOffset + at];
  }
  if (FORGET) {
    coordinate += i32(tokenMeta(at) >> 2u);
  }
  return coordinate;
}

// Union of the ranges (pairs at `slot` of entries `width` wide from `base`) of the tile's groups [g0, g0 + THREADS)
// out of `count`. Workgroup-uniform (read-only storage at workgroup-uniform indices), as the barriers in the chunk
// loops require.
fn tileRange(base: u32, width: u32, slot: u32, g0: u32, count: u32) -> vec2i {
  var lo = 0x7fffffff;
  var hi = -1;
  let g1 = min(g0 + THREADS, count);
  for (var g = g0; g < g1; g++) {
    let a = plan[base + g * width + slot];
    let z = plan[base + g * width + slot + 1u];
    if (a <= z) {
      lo = min(lo, a);
      hi = max(hi, z);
    }
  }
  return vec2i(lo, hi);
}

// The chunks a workgroup loads for the union of its groups' ranges (tileRange's arguments): first row (rounded down
// to 4), count (0 when empty), and `end`, 4-aligned past the last row any thread reads. DIRECT: one pass from row 0
// in which each thread walks its own ranges, nothing loaded.
struct Chunks {
  first: u32,
  count: u32,
  end: u32,
}

fn tileChunks(base: u32, width: u32, slot: u32, g0: u32, count: u32) -> Chunks {
  if (DIRECT) {
    return Chunks(0u, 1u, 0u);
  }
  let r = tileRange(base, width, slot, g0, count);
  if (r.x > r.y) {
    return Chunks(0u, 0u, 0u);
  }
  let first = u32(r.x) & ~3u;
  return Chunks(first, (u32(r.y) - first) / CHUNK + 1u, (u32(r.y) | 3u) + 1u);
}

// Loads the keys in slots [c0, min(c0 + CHUNK, end)) of the plan's key order (their K and V rows of head h,
// element-strided over the threads so consecutive threads read consecutive columns, token, metadata); empty slots are
// marked pad (their K and V stay whatever the chunk held: finite, and masked). `end` is 4-aligned past the last slot
// any thread reads, so no thread reads a row of the chunk that was not written.
fn loadKeyChunk(b: u32, c0: u32, end: u32, lane: u32, h: u32) {
  let d = P.H * HEAD_DIM;
  let rowBase = b * P.L;
  let kBase = P.qkvOffset + d + h * HEAD_DIM;
  let count = min(CHUNK, end - c0);
  for (var r = lane; r < count; r += THREADS) {
    let token = keyToken(b, c0 + r);
    if (token >= 0) {
      let t = u32(token);
      tileRow[r] = t;
      tileMeta[r] = tokenMeta(rowBase + t);
      tileCoord[r] = biasCoordinate(rowBase + t);
    } else {
      tileRow[r] = 0u;
      tileMeta[r] = ROLE_PAD;
      tileCoord[r] = 0;
    }
  }
  // The tokens come from the plan again rather than tileRow: no barrier needed between the two loops.
  for (var r = 0u; r < count; r++) {
    let token = keyToken(b, c0 + r);
    if (token < 0) {
      continue;
    }
    let src = kBase + (rowBase + u32(token)) * 3u * d;
    for (var c = lane; c < HEAD_DIM; c += THREADS) {
      tileA[r * HEAD_DIM + c] = qkv[src + c];
      tileB[r * HEAD_DIM + c] = qkv[src + d + c];
    }
  }
}

// The head and the group (its first row: a query slot, or a key slot) a thread owns. Staged: the workgroup owns TILE
// rows of head wg.y, ROWS per thread. Direct: consecutive threads own the heads of one group in turn (thread i of the
// sequence: group i / H, head i % H), so on SIMD CPUs (SwiftShader runs 4 invocations in lock-step, one per lane) the
// lanes share ranges, loop trip counts, plan and metadata reads: no lane idles while another walks a longer range.
struct Owner {
  h: u32,
  first: u32,
}

fn owner(wg: vec3u, lane: u32) -> Owner {
  if (DIRECT) {
    let i = wg.x * THREADS + lane;
    return Owner(i % P.H, (i / P.H) * ROWS);
  }
  return Owner(wg.y, wg.x * TILE + lane * ROWS);
}

// The 4 rows of one thread: tokens, metadata, positions, and the range(s) of the streamed side they need.
struct RowGroup {
  rows: vec4u,
  metas: vec4u,
  coord: vec4i,
  live: vec4<bool>,
  valid: vec4<bool>, // holds a token (pad tokens included): its outputs are written
  // Streamed rows to visit, from the plan (empty when lo > hi), two ranges [lo0, hi0] and [lo1, hi1]: key slots for
  // queries, query slots for keys.
  lo0: i32,
  hi0: i32,
  lo1: i32,
  hi1: i32,
}

// The rows of 4 tokens of sequence b (-1: an empty slot), with empty ranges. Vector-wide rather than row by row: on
// SwiftShader a dynamic index into a vector or private array costs a memory round trip per access.
fn rowGroup(b: u32, tokens: vec4i) -> RowGroup {
  var g: RowGroup;
  g.valid = tokens >= vec4i(0);
  g.rows = vec4u(max(tokens, vec4i(0))); // empty slots: token 0 (finite data, never written)
  let t = vec4u(b * P.L) + g.rows;
  g.metas = select(vec4u(ROLE_PAD), vec4u(tokenMeta(t.x), tokenMeta(t.y), tokenMeta(t.z), tokenMeta(t.w)), g.valid);
  g.coord = vec4i(biasCoordinate(t.x), biasCoordinate(t.y), biasCoordinate(t.z), biasCoordinate(t.w));
  g.live = (g.metas & vec4u(3u)) != vec4u(ROLE_PAD);
  g.lo0 = 1;
  g.hi0 = 0;
  g.lo1 = 1;
  g.hi1 = 0;
  return g;
}

// Query slots [first, first + 4) of sequence b (first = 4 * group): their tokens through the plan's order.
fn queryRows(b: u32, first: u32) -> RowGroup {
  var g = rowGroup(b, vec4i(slotToken(b, first), slotToken(b, first + 1u), slotToken(b, first + 2u), slotToken(b, first + 3u)));
  if (first / ROWS >= queryGroupCount()) {
    return g; // a direct-layout thread past the last group
  }
  let e = queryGroupBase(b) + (first / ROWS) * 4u;
  g.lo0 = plan[e];
  g.hi0 = plan[e + 1u];
  g.lo1 = plan[e + 2u];
  g.hi1 = plan[e + 3u];
  return g;
}

// Key slots [first, first + 4) of sequence b: their tokens through the plan's key order.
fn keyRows(b: u32, first: u32) -> RowGroup {
  var g = rowGroup(b, vec4i(keyToken(b, first), keyToken(b, first + 1u), keyToken(b, first + 2u), keyToken(b, first + 3u)));
  if (first / ROWS >= keyGroupCount()) {
    return g; // a direct-layout thread past the last group
  }
  let e = keyGroupBase(b) + (first / ROWS) * 4u;
  g.lo0 = plan[e];
  g.hi0 = plan[e + 1u];
  g.lo1 = plan[e + 2u];
  g.hi1 = plan[e + 3u];
  return g;
}

// Column c of the head's part of 4 rows of qkv (at the rows' column-0 offsets `at`), as one vector.
fn qkvColumn(at: vec4u, c: u32) -> vec4f {
  return vec4f(qkv[at.x + c], qkv[at.y + c], qkv[at.z + c], qkv[at.w + c]);
}

fn doutColumn(at: vec4u, c: u32) -> vec4f {
  return vec4f(dout[at.x + c], dout[at.y + c], dout[at.z + c], dout[at.w + c]);
}

// dqkv[at[r] + c] += v[r] for the rows of `rows`.
fn addToDqkv(at: vec4u, c: u32, v: vec4f, rows: vec4<bool>) {
  if (rows.x) {
    dqkv[at.x + c] += v.x;
  }
  if (rows.y) {
    dqkv[at.y + c] += v.y;
  }
  if (rows.z) {
    dqkv[at.z + c] += v.z;
  }
  if (rows.w) {
    dqkv[at.w + c] += v.w;
  }
}

// The streamed rows [first, last] a thread walks inside chunk c0, as 4-aligned chunk-local block starts
// (c0 is 4-aligned, so blocks are 4-aligned in the streamed order whatever the chunking).
fn blockRange(c0: u32, first: i32, last: i32) -> vec2u {
  let lo = max(i32(c0), first);
  var hi = last;
  if (!DIRECT) {
    hi = min(i32(c0 + CHUNK) - 1, last);
  }
  if (lo > hi) {
    return vec2u(1u, 0u); // empty
  }
  return vec2u((u32(lo) - c0) & ~3u, u32(hi) - c0);
}

// Direct layout: the blocks a thread walks, its two ranges as one sequence (the second from after the first's last
// block, so a block both touch comes once), the same blocks in the same order as the staged chunk loops. One flat
// loop: on SwiftShader each level of loop nesting costs a thread a fixed amount, a large part of a short walk.
struct Walk {
  start0: u32, // first block of range 0 (4-aligned) and its block count
  count0: u32,
  start1: u32, // same for range 1
  count: u32, // blocks in all
}

fn walk(g: RowGroup) -> Walk {
  var w = Walk(0u, 0u, 0u, 0u);
  var next = 0;
  if (g.lo0 <= g.hi0) {
    w.start0 = u32(g.lo0) & ~3u;
    w.count0 = (u32(g.hi0) - w.start0) / 4u + 1u;
    next = (g.hi0 & ~3) + 4;
  }
  let lo1 = max(g.lo1, next);
  var count1 = 0u;
  if (lo1 <= g.hi1) {
    w.start1 = u32(lo1) & ~3u;
    count1 = (u32(g.hi1) - w.start1) / 4u + 1u;
  }
  w.count = w.count0 + count1;
  return w;
}

// The k-th block (its first streamed row) of a walk.
fn walkBlock(w: Walk, k: u32) -> u32 {
  return select(w.start1 + (k - w.count0) * 4u, w.start0 + k * 4u, k < w.count0);
}

// 4 consecutive streamed rows (keys for forward and dQ, ordered queries for dK/dV): where each row's A columns (K, or
// Q) and B columns (V, or dout) of the head start, in tileA/tileB (staged) or in qkv/dout (DIRECT), and their data.
struct Block {
  a: vec4u,
  b: vec4u,
  rows: vec4u, // tokens
  metas: vec4u,
  coord: vec4f,
  lse: vec4f, // dK/dV only
  dot: vec4f, // dK/dV only
}

fn fetchA(at: u32) -> f32 {
  if (DIRECT) {
    return qkv[at];
  }
  return tileA[at];
}

// V (forward, dQ).
fn fetchV(at: u32) -> f32 {
  if (DIRECT) {
    return qkv[at];
  }
  return tileB[at];
}

// dout (dK/dV).
fn fetchDout(at: u32) -> f32 {
  if (DIRECT) {
    return dout[at];
  }
  return tileB[at];
}

// Staged rows j..j+3 of the chunk: their columns start at row * HEAD_DIM of tileA and tileB.
fn stagedBlock(j: u32) -> Block {
  var blk: Block;
  blk.a = (vec4u(j) + LANE_OFFSETS) * HEAD_DIM;
  blk.b = blk.a;
  blk.rows = vec4u(tileRow[j], tileRow[j + 1u], tileRow[j + 2u], tileRow[j + 3u]);
  blk.metas = vec4u(tileMeta[j], tileMeta[j + 1u], tileMeta[j + 2u], tileMeta[j + 3u]);
  blk.coord = vec4f(f32(tileCoord[j]), f32(tileCoord[j + 1u]), f32(tileCoord[j + 2u]), f32(tileCoord[j + 3u]));
  return blk;
}

// Keys in slots c0 + j .. + 3 of sequence b for head h (forward, dQ); empty slots read token 0's rows (finite) as pad.
fn keyBlock(b: u32, c0: u32, j: u32, h: u32) -> Block {
  if (!DIRECT) {
    return stagedBlock(j);
  }
  let d = P.H * HEAD_DIM;
  let u = c0 + j;
  let tokens = vec4i(keyToken(b, u), keyToken(b, u + 1u), keyToken(b, u + 2u), keyToken(b, u + 3u));
  let live = tokens >= vec4i(0);
  var blk: Block;
  blk.rows = vec4u(max(tokens, vec4i(0)));
  let t = vec4u(b * P.L) + blk.rows;
  blk.a = vec4u(P.qkvOffset + d + h * HEAD_DIM) + t * (3u * d);
  blk.b = blk.a + vec4u(d);
  let metas = vec4u(tokenMeta(t.x), tokenMeta(t.y), tokenMeta(t.z), tokenMeta(t.w));
  blk.metas = select(vec4u(ROLE_PAD), metas, live);
  blk.coord = vec4f(vec4i(biasCoordinate(t.x), biasCoordinate(t.y), biasCoordinate(t.z), biasCoordinate(t.w)));
  return blk;
}

// One block of the forward: keys c0 + j .. + 3 (streamed slots) against the thread's 4 rows, online softmax.
fn forwardBlock(b: u32, c0: u32, j: u32, h: u32, g: RowGroup, slope: f32, coordQ: vec4f, qv: ptr<function, array<vec4f, HD_MAX>>,
    acc: ptr<function, array<vec4f, HD_MAX>>, m: ptr<function, vec4f>, l: ptr<function, vec4f>) {
  let kb = keyBlock(b, c0, j, h);
  // Scores of 4 rows x 4 keys: s_k[r] = q_r . k_(j+k).
  var s0 = vec4f(0.0);
  var s1 = vec4f(0.0);
  var s2 = vec4f(0.0);
  var s3 = vec4f(0.0);
  for (var c = 0u; c < HEAD_DIM; c++) {
    let qc = (*qv)[c];
    s0 += qc * fetchA(kb.a.x + c);
    s1 += qc * fetchA(kb.a.y + c);
    s2 += qc * fetchA(kb.a.z + c);
    s3 += qc * fetchA(kb.a.w + c);
  }
  let a0 = allowed(g.rows, vec4u(kb.rows.x), g.metas, vec4u(kb.metas.x));
  let a1 = allowed(g.rows, vec4u(kb.rows.y), g.metas, vec4u(kb.metas.y));
  let a2 = allowed(g.rows, vec4u(kb.rows.z), g.metas, vec4u(kb.metas.z));
  let a3 = allowed(g.rows, vec4u(kb.rows.w), g.metas, vec4u(kb.metas.w));
  s0 = select(vec4f(NEG_BIG), s0 - slope * (coordQ - kb.coord.x), a0);
  s1 = select(vec4f(NEG_BIG), s1 - slope * (coordQ - kb.coord.y), a1);
  s2 = select(vec4f(NEG_BIG), s2 - slope * (coordQ - kb.coord.z), a2);
  s3 = select(vec4f(NEG_BIG), s3 - slope * (coordQ - kb.coord.w), a3);
  // Online softmax, one rescale per block of 4 keys.
  let mNew = max(*m, max(max(s0, s1), max(s2, s3)));
  let correction = exp(*m - mNew);
  let w0 = select(vec4f(0.0), exp(s0 - mNew), a0);
  let w1 = select(vec4f(0.0), exp(s1 - mNew), a1);
  let w2 = select(vec4f(0.0), exp(s2 - mNew), a2);
  let w3 = select(vec4f(0.0), exp(s3 - mNew), a3);
  *l = *l * correction + ((w0 + w1) + (w2 + w3));
  for (var c = 0u; c < HEAD_DIM; c++) {
    (*acc)[c] = (*acc)[c] * correction + ((w0 * fetchV(kb.b.x + c) + w1 * fetchV(kb.b.y + c)) + (w2 * fetchV(kb.b.z + c) + w3 * fetchV(kb.b.w + c)));
  }
  *m = mNew;
}

// out = softmax(q k^T * scale + bias, masked) v; lse = log of the softmax denominator (with the max folded in).
@compute @workgroup_size(THREADS)
fn attention_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let L = P.L;
  let b = wg.z;
  let own = owner(wg, lane);
  let h = own.h;
  let q0 = wg.x * TILE;
  let d = P.H * HEAD_DIM;
  let rowBase = b * L;

  let g = queryRows(b, own.first);
  var qv: array<vec4f, HD_MAX>; // q of the 4 rows, column c in qv[c], pre-scaled
  var acc: array<vec4f, HD_MAX>; // unnormalised outputs
  // A group with no live row (padding, unused [SUM] rows) loads and adds nothing: HEAD_DIM columns or none.
  let liveColumns = select(0u, HEAD_DIM, any(g.live));
  let qAt = vec4u(P.qkvOffset + h * HEAD_DIM) + (vec4u(rowBase) + g.rows) * (3u * d);
  for (var c = 0u; c < liveColumns; c++) {
    qv[c] = select(vec4f(0.0), qkvColumn(qAt, c) * P.scale, g.live);
  }
  let slope = biasSlope(h);
  let coordQ = vec4f(g.coord);
  var m = vec4f(NEG_BIG);
  var l = vec4f(0.0);

  if (DIRECT) {
    let w = walk(g);
    for (var k = 0u; k < w.count; k++) {
      forwardBlock(b, 0u, walkBlock(w, k), h, g, slope, coordQ, &qv, &acc, &m, &l);
    }
  } else {
    // The two key ranges of the plan, one after the other, in chunks through workgroup memory. A 4-block that both
    // ranges touch is visited once: the second range starts after the thread's last block of the first.
    var next = 0;
    for (var part = 0u; part < 2u; part++) {
      let chunks = tileChunks(queryGroupBase(b), 4u, 2u * part, q0 / ROWS, queryGroupCount());
      let first = max(select(g.lo1, g.lo0, part == 0u), next);
      let last = select(g.hi1, g.hi0, part == 0u);
      for (var i = 0u; i < chunks.count; i++) {
        let c0 = chunks.first + i * CHUNK;
        loadKeyChunk(b, c0, chunks.end, lane, h);
        workgroupBarrier();
        let blocks = blockRange(c0, first, last);
        for (var j = blocks.x; j <= blocks.y; j += 4u) {
          forwardBlock(b, c0, j, h, g, slope, coordQ, &qv, &acc, &m, &l);
        }
        workgroupBarrier();
      }
      if (first <= last) {
        next = (last & ~3) + 4;
      }
    }
  }

  // Live rows always see themselves (keyStart <= q), so l >= 1 there; pad rows get 0.
  let inv = select(vec4f(0.0), 1.0 / l, g.live);
  let rowLse = select(vec4f(0.0), m + log(l), g.live);
  // Every row that holds a token (pad rows too: they get 0).
  let oAt = vec4u(P.outOffset + h * HEAD_DIM) + (vec4u(rowBase) + g.rows) * d;
  for (var c = 0u; c < HEAD_DIM; c++) {
    let o = acc[c] * inv;
    if (g.valid.x) {
      out[oAt.x + c] = o.x;
    }
    if (g.valid.y) {
      out[oAt.y + c] = o.y;
    }
    if (g.valid.z) {
      out[oAt.z + c] = o.z;
    }
    if (g.valid.w) {
      out[oAt.w + c] = o.w;
    }
  }
  let lseAt = vec4u(P.lseOffset + (b * P.H + h) * L) + g.rows;
  if (g.valid.x) {
    lse[lseAt.x] = rowLse.x;
  }
  if (g.valid.y) {
    lse[lseAt.y] = rowLse.y;
  }
  if (g.valid.z) {
    lse[lseAt.z] = rowLse.z;
  }
  if (g.valid.w) {
    lse[lseAt.w] = rowLse.w;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// dQ: per query tile, the forward's key chunks; P recomputed from lse. dq += scale * sum_p P (dout.v_p - D) k_p.

// One block of dQ: keys c0 + j .. + 3 (streamed slots) against the thread's 4 query rows.
fn dqBlock(b: u32, c0: u32, j: u32, h: u32, g: RowGroup, slope: f32, coordQ: vec4f, lseQ: vec4f, dotQ: vec4f,
    qv: ptr<function, array<vec4f, HD_MAX>>, dov: ptr<function, array<vec4f, HD_MAX>>, dq: ptr<function, array<vec4f, HD_MAX>>) {
  let kb = keyBlock(b, c0, j, h);
  var s0 = vec4f(0.0);
  var s1 = vec4f(0.0);
  var s2 = vec4f(0.0);
  var s3 = vec4f(0.0);
  var dp0 = vec4f(0.0);
  var dp1 = vec4f(0.0);
  var dp2 = vec4f(0.0);
  var dp3 = vec4f(0.0);
  for (var c = 0u; c < HEAD_DIM; c++) {
    let qc = (*qv)[c];
    let oc = (*dov)[c];
    s0 += qc * fetchA(kb.a.x + c);
    s1 += qc * fetchA(kb.a.y + c);
    s2 += qc * fetchA(kb.a.z + c);
    s3 += qc * fetchA(kb.a.w + c);
    dp0 += oc * fetchV(kb.b.x + c);
    dp1 += oc * fetchV(kb.b.y + c);
    dp2 += oc * fetchV(kb.b.z + c);
    dp3 += oc * fetchV(kb.b.w + c);
  }
  let a0 = allowed(g.rows, vec4u(kb.rows.x), g.metas, vec4u(kb.metas.x));
  let a1 = allowed(g.rows, vec4u(kb.rows.y), g.metas, vec4u(kb.metas.y));
  let a2 = allowed(g.rows, vec4u(kb.rows.z), g.metas, vec4u(kb.metas.z));
  let a3 = allowed(g.rows, vec4u(kb.rows.w), g.metas, vec4u(kb.metas.w));
  // dScore = P * (dP - D), with P = exp(score - lse) on allowed cells, 0 elsewhere.
  let ds0 = select(vec4f(0.0), exp(s0 - slope * (coordQ - kb.coord.x) - lseQ), a0) * (dp0 - dotQ);
  let ds1 = select(vec4f(0.0), exp(s1 - slope * (coordQ - kb.coord.y) - lseQ), a1) * (dp1 - dotQ);
  let ds2 = select(vec4f(0.0), exp(s2 - slope * (coordQ - kb.coord.z) - lseQ), a2) * (dp2 - dotQ);
  let ds3 = select(vec4f(0.0), exp(s3 - slope * (coordQ - kb.coord.w) - lseQ), a3) * (dp3 - dotQ);
  for (var c = 0u; c < HEAD_DIM; c++) {
    (*dq)[c] += (ds0 * fetchA(kb.a.x + c) + ds1 * fetchA(kb.a.y + c)) + (ds2 * fetchA(kb.a.z + c) + ds3 * fetchA(kb.a.w + c));
  }
}

@compute @workgroup_size(THREADS)
fn attention_backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let L = P.L;
  let b = wg.z;
  let own = owner(wg, lane);
  let h = own.h;
  let q0 = wg.x * TILE;
  let d = P.H * HEAD_DIM;
  let rowBase = b * L;

  let g = queryRows(b, own.first);
  var qv: array<vec4f, HD_MAX>; // pre-scaled
  var dov: array<vec4f, HD_MAX>; // dout rows
  var dq: array<vec4f, HD_MAX>;
  let qAt = vec4u(P.qkvOffset + h * HEAD_DIM) + (vec4u(rowBase) + g.rows) * (3u * d);
  let oAt = (vec4u(rowBase) + g.rows) * d + vec4u(h * HEAD_DIM);
  // A group with no live row (padding, unused [SUM] rows) loads and adds nothing (its D is 0: the forward wrote 0 as its output): HEAD_DIM columns or none.
  let liveColumns = select(0u, HEAD_DIM, any(g.live));
  // D = rowsum(dout * out) over the head's columns.
  var dotQ = vec4f(0.0);
  for (var c = 0u; c < liveColumns; c++) {
    let o = doutColumn(vec4u(P.doutOffset) + oAt, c);
    let y = vec4f(outIn[P.outOffset + oAt.x + c], outIn[P.outOffset + oAt.y + c], outIn[P.outOffset + oAt.z + c], outIn[P.outOffset + oAt.w + c]);
    dotQ += y * o;
    qv[c] = select(vec4f(0.0), qkvColumn(qAt, c) * P.scale, g.live);
    dov[c] = o;
  }
  let index = vec4u((b * P.H + h) * L) + g.rows;
  let lseQ = vec4f(lseIn[P.lseOffset + index.x], lseIn[P.lseOffset + index.y], lseIn[P.lseOffset + index.z], lseIn[P.lseOffset + index.w]);
  // Every row that holds a token, pad rows too: dK/dV may read their D (masked, but it must be finite).
  if (g.valid.x) {
    rowDotOut[index.x] = dotQ.x;
  }
  if (g.valid.y) {
    rowDotOut[index.y] = dotQ.y;
  }
  if (g.valid.z) {
    rowDotOut[index.z] = dotQ.z;
  }
  if (g.valid.w) {
    rowDotOut[index.w] = dotQ.w;
  }
  let slope = biasSlope(h);
  let coordQ = vec4f(g.coord);

  if (DIRECT) {
    let w = walk(g);
    for (var k = 0u; k < w.count; k++) {
      dqBlock(b, 0u, walkBlock(w, k), h, g, slope, coordQ, lseQ, dotQ, &qv, &dov, &dq);
    }
  } else {
    // The two ranges of the plan, one after the other, in chunks through workgroup memory. A 4-block that both
    // ranges touch (where the plan's two sections meet) is visited once: the second range starts after the thread's
    // last block of the first.
    var next = 0;
    for (var part = 0u; part < 2u; part++) {
      let chunks = tileChunks(queryGroupBase(b), 4u, 2u * part, q0 / ROWS, queryGroupCount());
      let first = max(select(g.lo1, g.lo0, part == 0u), next);
      let last = select(g.hi1, g.hi0, part == 0u);
      for (var i = 0u; i < chunks.count; i++) {
        let c0 = chunks.first + i * CHUNK;
        loadKeyChunk(b, c0, chunks.end, lane, h);
        workgroupBarrier();
        let blocks = blockRange(c0, first, last);
        for (var j = blocks.x; j <= blocks.y; j += 4u) {
          dqBlock(b, c0, j, h, g, slope, coordQ, lseQ, dotQ, &qv, &dov, &dq);
        }
        workgroupBarrier();
      }
      if (first <= last) {
        next = (last & ~3) + 4;
      }
    }
  }

  let dqAt = vec4u(P.dqkvOffset + h * HEAD_DIM) + (vec4u(rowBase) + g.rows) * (3u * d);
  for (var c = 0u; c < liveColumns; c++) {
    addToDqkv(dqAt, c, dq[c] * P.scale, g.live);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// dK, dV: per key tile, query chunks over [key tile start, max queryEnd of its keys]. Each thread owns 4 keys:
// dv += sum_q P dout_q, dk += scale * sum_q P (dout_q.v - D_q) q_q.

// Loads the queries in slots [c0, min(c0 + CHUNK, end)) of the plan's order (their Q and dout rows of head h, lse, D,
// token, metadata); empty slots are marked pad. `end` is 4-aligned past the last slot any thread reads.
fn loadQueryChunk(b: u32, c0: u32, end: u32, lane: u32, h: u32) {
  let d = P.H * HEAD_DIM;
  let rowBase = b * P.L;
  let qBase = P.qkvOffset + h * HEAD_DIM;
  let oBase = P.doutOffset + h * HEAD_DIM;
  let count = min(CHUNK, end - c0);
  for (var r = lane; r < count; r += THREADS) {
    let slot = slotToken(b, c0 + r);
    if (slot >= 0) {
      let t = u32(slot);
      let index = (b * P.H + h) * P.L + t;
      tileRow[r] = t;
      tileLse[r] = lseIn[P.lseOffset + index];
      tileDot[r] = rowDot[index];
      tileMeta[r] = tokenMeta(rowBase + t);
      tileCoord[r] = biasCoordinate(rowBase + t);
    } else {
      tileRow[r] = 0u;
      tileLse[r] = 0.0;
      tileDot[r] = 0.0;
      tileMeta[r] = ROLE_PAD;
      tileCoord[r] = 0;
    }
  }
  // The tokens come from the plan again rather than tileRow: no barrier needed between the two loops.
  for (var r = 0u; r < count; r++) {
    let slot = slotToken(b, c0 + r);
    if (slot < 0) {
      continue;
    }
    let t = u32(slot);
    let qSrc = qBase + (rowBase + t) * 3u * d;
    let oSrc = oBase + (rowBase + t) * d;
    for (var c = lane; c < HEAD_DIM; c += THREADS) {
      tileA[r * HEAD_DIM + c] = qkv[qSrc + c];
      tileB[r * HEAD_DIM + c] = dout[oSrc + c];
    }
  }
}

// Ordered queries in slots c0 + j .. + 3 of sequence b for head h (dK/dV); empty slots read token 0's rows (finite)
// as pad, with lse, D and position 0 as the staged load leaves them.
fn queryBlock(b: u32, c0: u32, j: u32, h: u32) -> Block {
  var blk: Block;
  if (!DIRECT) {
    blk = stagedBlock(j);
    blk.lse = vec4f(tileLse[j], tileLse[j + 1u], tileLse[j + 2u], tileLse[j + 3u]);
    blk.dot = vec4f(tileDot[j], tileDot[j + 1u], tileDot[j + 2u], tileDot[j + 3u]);
    return blk;
  }
  let d = P.H * HEAD_DIM;
  let u = c0 + j;
  let tokens = vec4i(slotToken(b, u), slotToken(b, u + 1u), slotToken(b, u + 2u), slotToken(b, u + 3u));
  let live = tokens >= vec4i(0);
  blk.rows = vec4u(max(tokens, vec4i(0)));
  let t = vec4u(b * P.L) + blk.rows;
  blk.a = vec4u(P.qkvOffset + h * HEAD_DIM) + t * (3u * d);
  blk.b = vec4u(P.doutOffset + h * HEAD_DIM) + t * d;
  blk.metas = select(vec4u(ROLE_PAD), vec4u(tokenMeta(t.x), tokenMeta(t.y), tokenMeta(t.z), tokenMeta(t.w)), live);
  blk.coord = select(vec4f(0.0), vec4f(vec4i(biasCoordinate(t.x), biasCoordinate(t.y), biasCoordinate(t.z), biasCoordinate(t.w))), live);
  let index = vec4u((b * P.H + h) * P.L) + blk.rows;
  blk.lse = select(vec4f(0.0), vec4f(lseIn[P.lseOffset + index.x], lseIn[P.lseOffset + index.y], lseIn[P.lseOffset + index.z], lseIn[P.lseOffset + index.w]), live);
  blk.dot = select(vec4f(0.0), vec4f(rowDot[index.x], rowDot[index.y], rowDot[index.z], rowDot[index.w]), live);
  return blk;
}

// One block of dK/dV: queries in slots c0 + j .. + 3 (streamed) against the thread's 4 keys.
fn dkvBlock(b: u32, c0: u32, j: u32, h: u32, g: RowGroup, slope: f32, coordP: vec4f, kv: ptr<function, array<vec4f, HD_MAX>>,
    vv: ptr<function, array<vec4f, HD_MAX>>, dk: ptr<function, array<vec4f, HD_MAX>>, dv: ptr<function, array<vec4f, HD_MAX>>) {
  let qb = queryBlock(b, c0, j, h);
  // Scores of 4 queries x this thread's 4 keys: s_k[r] = q_(j+k) . k_r.
  var s0 = vec4f(0.0);
  var s1 = vec4f(0.0);
  var s2 = vec4f(0.0);
  var s3 = vec4f(0.0);
  var dp0 = vec4f(0.0);
  var dp1 = vec4f(0.0);
  var dp2 = vec4f(0.0);
  var dp3 = vec4f(0.0);
  for (var c = 0u; c < HEAD_DIM; c++) {
    let kc = (*kv)[c];
    let vc = (*vv)[c];
    s0 += kc * fetchA(qb.a.x + c);
    s1 += kc * fetchA(qb.a.y + c);
    s2 += kc * fetchA(qb.a.z + c);
    s3 += kc * fetchA(qb.a.w + c);
    dp0 += vc * fetchDout(qb.b.x + c);
    dp1 += vc * fetchDout(qb.b.y + c);
    dp2 += vc * fetchDout(qb.b.z + c);
    dp3 += vc * fetchDout(qb.b.w + c);
  }
  let a0 = allowed(vec4u(qb.rows.x), g.rows, vec4u(qb.metas.x), g.metas);
  let a1 = allowed(vec4u(qb.rows.y), g.rows, vec4u(qb.metas.y), g.metas);
  let a2 = allowed(vec4u(qb.rows.z), g.rows, vec4u(qb.metas.z), g.metas);
  let a3 = allowed(vec4u(qb.rows.w), g.rows, vec4u(qb.metas.w), g.metas);
  let p0 = select(vec4f(0.0), exp(s0 - slope * (qb.coord.x - coordP) - qb.lse.x), a0);
  let p1 = select(vec4f(0.0), exp(s1 - slope * (qb.coord.y - coordP) - qb.lse.y), a1);
  let p2 = select(vec4f(0.0), exp(s2 - slope * (qb.coord.z - coordP) - qb.lse.z), a2);
  let p3 = select(vec4f(0.0), exp(s3 - slope * (qb.coord.w - coordP) - qb.lse.w), a3);
  let ds0 = p0 * (dp0 - qb.dot.x);
  let ds1 = p1 * (dp1 - qb.dot.y);
  let ds2 = p2 * (dp2 - qb.dot.z);
  let ds3 = p3 * (dp3 - qb.dot.w);
  for (var c = 0u; c < HEAD_DIM; c++) {
    (*dv)[c] += (p0 * fetchDout(qb.b.x + c) + p1 * fetchDout(qb.b.y + c)) + (p2 * fetchDout(qb.b.z + c) + p3 * fetchDout(qb.b.w + c));
    (*dk)[c] += (ds0 * fetchA(qb.a.x + c) + ds1 * fetchA(qb.a.y + c)) + (ds2 * fetchA(qb.a.z + c) + ds3 * fetchA(qb.a.w + c));
  }
}

@compute @workgroup_size(THREADS)
fn attention_backward_dkv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let L = P.L;
  let b = wg.z;
  let own = owner(wg, lane);
  let h = own.h;
  let k0 = wg.x * TILE;
  let d = P.H * HEAD_DIM;
  let rowBase = b * L;

  let g = keyRows(b, own.first);
  var kv: array<vec4f, HD_MAX>; // k of the 4 keys, pre-scaled
  var vv: array<vec4f, HD_MAX>;
  var dk: array<vec4f, HD_MAX>;
  var dv: array<vec4f, HD_MAX>;
  // A group with no live row (padding, unused [SUM] rows) loads and adds nothing: HEAD_DIM columns or none.
  let liveColumns = select(0u, HEAD_DIM, any(g.live));
  let kAt = vec4u(P.qkvOffset + d + h * HEAD_DIM) + (vec4u(rowBase) + g.rows) * (3u * d);
  for (var c = 0u; c < liveColumns; c++) {
    kv[c] = select(vec4f(0.0), qkvColumn(kAt, c) * P.scale, g.live);
    vv[c] = select(vec4f(0.0), qkvColumn(kAt + vec4u(d), c), g.live);
  }
  let slope = biasSlope(h);
  let coordP = vec4f(g.coord);

  if (DIRECT) {
    let w = walk(g);
    for (var k = 0u; k < w.count; k++) {
      dkvBlock(b, 0u, walkBlock(w, k), h, g, slope, coordP, &kv, &vv, &dk, &dv);
    }
  } else {
    // The two ranges of the plan, one after the other, in chunks through workgroup memory. A 4-block that both
    // ranges touch (where the plan's two sections meet) is visited once: the second range starts after the thread's
    // last block of the first.
    var next = 0;
    for (var part = 0u; part < 2u; part++) {
      let chunks = tileChunks(keyGroupBase(b), 4u, 2u * part, k0 / ROWS, keyGroupCount());
      let first = max(select(g.lo1, g.lo0, part == 0u), next);
      let last = select(g.hi1, g.hi0, part == 0u);
      for (var i = 0u; i < chunks.count; i++) {
        let c0 = chunks.first + i * CHUNK;
        loadQueryChunk(b, c0, chunks.end, lane, h);
        workgroupBarrier();
        let blocks = blockRange(c0, first, last);
        for (var j = blocks.x; j <= blocks.y; j += 4u) {
          dkvBlock(b, c0, j, h, g, slope, coordP, &kv, &vv, &dk, &dv);
        }
        workgroupBarrier();
      }
      if (first <= last) {
        next = (last & ~3) + 4;
      }
    }
  }

  let dkAt = vec4u(P.dqkvOffset + d + h * HEAD_DIM) + (vec4u(rowBase) + g.rows) * (3u * d);
  for (var c = 0u; c < liveColumns; c++) {
    addToDqkv(dkAt, c, dk[c] * P.scale, g.live);
    addToDqkv(dkAt + vec4u(d), c, dv[c], g.live);
  }
}
