// Block-masked causal attention, flash style (docs/ENGINE.md), forward and backward.
//
// Layouts: qkv [B*L, 3d] (q cols [0,d), k [d,2d), v [2d,3d); head h uses cols h*hd .. of each part), out/dout [B*L, d]
// head-major, lse/D [B, H, L]. tokenMeta[row] = (interaction << 2) | role (role 0 item, 1 sum, 2 label, 3 pad).
//
// Work split: a workgroup owns one TILE of rows of one (batch, head); one thread per row keeps that row's vectors and
// accumulators in registers (private arrays). The other side (keys for forward/dQ, queries for dK/dV) streams through
// workgroup memory one TILE at a time, loaded cooperatively, one thread per row, with one barrier pair per tile.
// Why one thread per row: on SwiftShader (CPU Vulkan) barriers dominate, so the work per barrier must be large
// (TILE x TILE x hd FMAs); on GPUs the K/V tile in workgroup memory is read by every thread at the same address
// (a broadcast). The scores never leave registers: no L x L matrix anywhere.
//
// Tile skipping: the forward and dQ pass visit key tiles [min keyStart over the tile's rows, last row of the tile];
// the dK/dV pass visits query tiles [first key of the tile, max queryEnd over the tile's keys] (src/prompt/ranges.ts,
// pad rows have keyStart = L and queryEnd = -1). Inside a visited tile each thread walks only its own conservative
// range, and `allowed` (the exact rule of src/prompt/mask.ts) masks element by element, so skipping changes cost only.
//
// Deterministic and atomic-free: dQ has one writer per query row, dK/dV one writer per key row; both accumulate (+=).
// Each entry point binds its own contiguous bindings (GpuContext.dispatch binds resources in order); variables of
// different entry points may share a binding number.

// Rows per tile (queries per workgroup and keys per streamed tile). src/gpu/kernels/attention.ts reads this line.
const TILE: u32 = 32u;
// Private arrays need a constant size; HEAD_DIM (an override, so loops have a constant bound per pipeline) <= this.
const HD_MAX: u32 = 128u;
override HEAD_DIM: u32 = 16u;

const ROLE_SUM: u32 = 1u;
const ROLE_PAD: u32 = 3u;
// Running-max start and the mark of a masked score: finite, so exp(NEG_BIG - m) is 0 rather than NaN.
const NEG_BIG: f32 = -3.0e38;

struct Params {
  B: u32,
  L: u32,
  H: u32,
  n: u32, // window, in interactions
  level: u32, // 0 full-causal, 1 window, 2 sum-isolated, 3 strict
  alibi: u32, // 1: bias -slope_h * (pos_q - pos_p)
  scale: f32, // 1 / sqrt(hd)
  qkvOffset: u32,
  metaOffset: u32,
  positionsOffset: u32,
  rangeOffset: u32, // keyStart (forward, dQ) or queryEnd (dK/dV)
  outOffset: u32,
  lseOffset: u32,
  doutOffset: u32,
  dqkvOffset: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> tokenMeta: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<i32>;
@group(0) @binding(4) var<storage, read> ranges: array<i32>;
// attention_forward
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
// attention_backward_dq, attention_backward_dkv
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> lseIn: array<f32>;
@group(0) @binding(7) var<storage, read> rowDot: array<f32>; // D = rowsum(dout * out), [B, H, L]
@group(0) @binding(8) var<storage, read_write> dqkv: array<f32>;

// The streamed tile: K and V rows (forward, dQ) or Q and dO rows (dK/dV), plus per-row metadata.
var<workgroup> tileA: array<f32, TILE * HEAD_DIM>;
var<workgroup> tileB: array<f32, TILE * HEAD_DIM>;
var<workgroup> tileMeta: array<u32, TILE>;
var<workgroup> tilePos: array<i32, TILE>;
var<workgroup> tileLse: array<f32, TILE>;
var<workgroup> tileDot: array<f32, TILE>;

// isAllowed of src/prompt/mask.ts, exactly.
fn allowed(q: u32, p: u32, metaQ: u32, metaP: u32) -> bool {
  if (p > q) {
    return false;
  }
  let roleQ = metaQ & 3u;
  let roleP = metaP & 3u;
  if (roleQ == ROLE_PAD || roleP == ROLE_PAD) {
    return false;
  }
  if (P.level == 0u) {
    return true;
  }
  let iq = metaQ >> 2u;
  let ip = metaP >> 2u;
  let same = iq == ip;
  if (!same && ip < iq && iq - ip > P.n) { // ip < iq - n, without unsigned wrap-around
    return false;
  }
  if (P.level == 1u) {
    return true;
  }
  if (P.level == 2u) {
    return same || roleP != ROLE_SUM;
  }
  if (roleQ == ROLE_SUM) {
    return same || roleP != ROLE_SUM;
  }
  return same && roleP != ROLE_SUM;
}

fn alibiSlope(h: u32) -> f32 {
  if (P.alibi == 0u) {
    return 0.0;
  }
  return exp2(-8.0 * f32(h + 1u) / f32(P.H));
}

// First key tile and tile count a query tile visits: keys [min keyStart of its rows, its last row]. Uniform across
// the workgroup (read-only storage at workgroup-uniform indices), as the barriers in the tile loop require.
fn keyTileRange(rowBase: u32, q0: u32, qLast: u32) -> vec2u {
  var lo = P.L;
  for (var t = q0; t <= qLast; t++) {
    lo = min(lo, u32(ranges[P.rangeOffset + rowBase + t]));
  }
  if (lo > qLast) {
    return vec2u(0u, 0u); // only pad rows
  }
  return vec2u(lo / TILE, qLast / TILE - lo / TILE + 1u);
}

// Loads the K and V rows [k0, k0 + TILE) of head h into tileA/tileB, one row per thread; rows past L are marked pad.
fn loadKeyTile(rowBase: u32, k0: u32, lane: u32, h: u32) {
  let t = k0 + lane;
  let d = P.H * HEAD_DIM;
  if (t < P.L) {
    let row = rowBase + t;
    let kBase = P.qkvOffset + row * 3u * d + d + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) {
      tileA[lane * HEAD_DIM + c] = qkv[kBase + c];
      tileB[lane * HEAD_DIM + c] = qkv[kBase + d + c];
    }
    tileMeta[lane] = tokenMeta[P.metaOffset + row];
    tilePos[lane] = positions[P.positionsOffset + row];
  } else {
    tileMeta[lane] = ROLE_PAD;
    tilePos[lane] = 0;
  }
}

// out = softmax(q k^T * scale + bias, masked) v; lse = log of the softmax denominator (with the max folded in).
@compute @workgroup_size(TILE)
fn attention_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let L = P.L;
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * TILE;
  let d = P.H * HEAD_DIM;
  let rowBase = b * L;
  let qLast = min(q0 + TILE, L) - 1u;
  let tiles = keyTileRange(rowBase, q0, qLast);

  let q = q0 + lane;
  var metaQ = ROLE_PAD;
  var posQ = 0;
  var keyStartQ = L;
  if (q < L) {
    metaQ = tokenMeta[P.metaOffset + rowBase + q];
    posQ = positions[P.positionsOffset + rowBase + q];
    keyStartQ = u32(ranges[P.rangeOffset + rowBase + q]);
  }
  let live = (metaQ & 3u) != ROLE_PAD;

  var qv: array<f32, HD_MAX>; // q row, pre-scaled
  var acc: array<f32, HD_MAX>; // unnormalised output
  var score: array<f32, TILE>;
  if (live) {
    let qBase = P.qkvOffset + (rowBase + q) * 3u * d + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) {
      qv[c] = qkv[qBase + c] * P.scale;
      acc[c] = 0.0;
    }
  }
  let slope = alibiSlope(h);
  var m = NEG_BIG;
  var l = 0.0;

  for (var i = 0u; i < tiles.y; i++) {
    let k0 = (tiles.x + i) * TILE;
    loadKeyTile(rowBase, k0, lane, h);
    workgroupBarrier();
    let first = max(k0, keyStartQ);
    let last = min(k0 + TILE - 1u, q);
    if (live && first <= last) {
      // Scores of this tile, then one rescale of the accumulator per tile (not per key).
      var tileMax = NEG_BIG;
      for (var p = first; p <= last; p++) {
        let j = p - k0;
        var s = NEG_BIG;
        if (allowed(q, p, metaQ, tileMeta[j])) {
          var dot = 0.0;
          for (var c = 0u; c < HEAD_DIM; c++) {
            dot += qv[c] * tileA[j * HEAD_DIM + c];
          }
          s = dot - slope * f32(posQ - tilePos[j]);
          tileMax = max(tileMax, s);
        }
        score[j] = s;
      }
      if (tileMax > NEG_BIG) {
        let mNew = max(m, tileMax);
        let correction = exp(m - mNew);
        l *= correction;
        for (var c = 0u; c < HEAD_DIM; c++) {
          acc[c] *= correction;
        }
        for (var p = first; p <= last; p++) {
          let j = p - k0;
          if (score[j] > NEG_BIG) {
            let w = exp(score[j] - mNew);
            l += w;
            for (var c = 0u; c < HEAD_DIM; c++) {
              acc[c] += w * tileB[j * HEAD_DIM + c];
            }
          }
        }
        m = mNew;
      }
    }
    workgroupBarrier();
  }

  if (q < L) {
    let outBase = P.outOffset + (rowBase + q) * d + h * HEAD_DIM;
    let lseIndex = P.lseOffset + (b * P.H + h) * L + q;
    if (live) {
      // Non-pad rows always see themselves (keyStart <= q), so l >= 1.
      let inv = 1.0 / l;
      for (var c = 0u; c < HEAD_DIM; c++) {
        out[outBase + c] = acc[c] * inv;
      }
      lse[lseIndex] = m + log(l);
    } else {
      for (var c = 0u; c < HEAD_DIM; c++) {
        out[outBase + c] = 0.0;
      }
      lse[lseIndex] = 0.0;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Backward preprocess: D[b, h, t] = rowsum(dout * out) over the head's columns. Grid-stride over B*L*H.

struct RowDotParams {
  total: u32, // B * L * H
  L: u32,
  H: u32,
  outOffset: u32,
  doutOffset: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> R: RowDotParams;
@group(0) @binding(1) var<storage, read> outForDot: array<f32>;
@group(0) @binding(2) var<storage, read> doutForDot: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowDotOut: array<f32>;

@compute @workgroup_size(64)
fn attention_backward_rowdot(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let d = R.H * HEAD_DIM;
  for (var i = gid.x; i < R.total; i += nwg.x * 64u) {
    let row = i / R.H; // b * L + t
    let h = i % R.H;
    let b = row / R.L;
    let t = row % R.L;
    let base = row * d + h * HEAD_DIM;
    var sum = 0.0;
    for (var c = 0u; c < HEAD_DIM; c++) {
      sum += outForDot[R.outOffset + base + c] * doutForDot[R.doutOffset + base + c];
    }
    rowDotOut[(b * R.H + h) * R.L + t] = sum;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// dQ: per query tile, the forward's key tiles; P recomputed from lse. dq += scale * Σ_p P (dout·v_p - D) k_p.

@compute @workgroup_size(TILE)
fn attention_backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let L = P.L;
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * TILE;
  let d = P.H * HEAD_DIM;
  let rowBase = b * L;
  let qLast = min(q0 + TILE, L) - 1u;
  let tiles = keyTileRange(rowBase, q0, qLast);

  let q = q0 + lane;
  var metaQ = ROLE_PAD;
  var posQ = 0;
  var keyStartQ = L;
  if (q < L) {
    metaQ = tokenMeta[P.metaOffset + rowBase + q];
    posQ = positions[P.positionsOffset + rowBase + q];
    keyStartQ = u32(ranges[P.rangeOffset + rowBase + q]);
  }
  let live = (metaQ & 3u) != ROLE_PAD;

  var qv: array<f32, HD_MAX>; // pre-scaled
  var dov: array<f32, HD_MAX>; // dout row
  var dq: array<f32, HD_MAX>;
  var lseQ = 0.0;
  var dotQ = 0.0;
  if (live) {
    let qBase = P.qkvOffset + (rowBase + q) * 3u * d + h * HEAD_DIM;
    let oBase = P.doutOffset + (rowBase + q) * d + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) {
      qv[c] = qkv[qBase + c] * P.scale;
      dov[c] = dout[oBase + c];
      dq[c] = 0.0;
    }
    let index = (b * P.H + h) * L + q;
    lseQ = lseIn[P.lseOffset + index];
    dotQ = rowDot[index];
  }
  let slope = alibiSlope(h);

  for (var i = 0u; i < tiles.y; i++) {
    let k0 = (tiles.x + i) * TILE;
    loadKeyTile(rowBase, k0, lane, h);
    workgroupBarrier();
    let first = max(k0, keyStartQ);
    let last = min(k0 + TILE - 1u, q);
    if (live && first <= last) {
      for (var p = first; p <= last; p++) {
        let j = p - k0;
        if (allowed(q, p, metaQ, tileMeta[j])) {
          var dot = 0.0;
          var dp = 0.0;
          for (var c = 0u; c < HEAD_DIM; c++) {
            dot += qv[c] * tileA[j * HEAD_DIM + c];
            dp += dov[c] * tileB[j * HEAD_DIM + c];
          }
          let prob = exp(dot - slope * f32(posQ - tilePos[j]) - lseQ);
          let ds = prob * (dp - dotQ);
          for (var c = 0u; c < HEAD_DIM; c++) {
            dq[c] += ds * tileA[j * HEAD_DIM + c];
          }
        }
      }
    }
    workgroupBarrier();
  }

  if (live) {
    let base = P.dqkvOffset + (rowBase + q) * 3u * d + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) {
      dqkv[base + c] += dq[c] * P.scale;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// dK, dV: per key tile, query tiles [key tile start, max queryEnd of its keys]. Thread = key row p:
// dv += Σ_q P dout_q, dk += scale * Σ_q P (dout_q·v_p - D_q) q_q.

@compute @workgroup_size(TILE)
fn attention_backward_dkv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let L = P.L;
  let b = wg.z;
  let h = wg.y;
  let k0 = wg.x * TILE;
  let d = P.H * HEAD_DIM;
  let rowBase = b * L;
  let kLast = min(k0 + TILE, L) - 1u;

  // Query range of the tile (uniform, see keyTileRange); pad keys have queryEnd = -1.
  var hi = -1;
  for (var t = k0; t <= kLast; t++) {
    hi = max(hi, ranges[P.rangeOffset + rowBase + t]);
  }
  var queryTiles = 0u;
  if (hi >= i32(k0)) {
    queryTiles = u32(hi) / TILE - wg.x + 1u;
  }

  let p = k0 + lane;
  var metaP = ROLE_PAD;
  var posP = 0;
  var queryEndP = -1;
  if (p < L) {
    metaP = tokenMeta[P.metaOffset + rowBase + p];
    posP = positions[P.positionsOffset + rowBase + p];
    queryEndP = ranges[P.rangeOffset + rowBase + p];
  }
  let live = (metaP & 3u) != ROLE_PAD;

  var kv: array<f32, HD_MAX>; // k row, pre-scaled
  var vv: array<f32, HD_MAX>;
  var dk: array<f32, HD_MAX>;
  var dv: array<f32, HD_MAX>;
  if (live) {
    let kBase = P.qkvOffset + (rowBase + p) * 3u * d + d + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) {
      kv[c] = qkv[kBase + c] * P.scale;
      vv[c] = qkv[kBase + d + c];
      dk[c] = 0.0;
      dv[c] = 0.0;
    }
  }
  let slope = alibiSlope(h);

  for (var i = 0u; i < queryTiles; i++) {
    let t0 = (wg.x + i) * TILE;
    // Cooperative load of the query tile: q rows, dout rows, lse, D, metadata.
    let t = t0 + lane;
    if (t < L) {
      let row = rowBase + t;
      let qBase = P.qkvOffset + row * 3u * d + h * HEAD_DIM;
      let oBase = P.doutOffset + row * d + h * HEAD_DIM;
      for (var c = 0u; c < HEAD_DIM; c++) {
        tileA[lane * HEAD_DIM + c] = qkv[qBase + c];
        tileB[lane * HEAD_DIM + c] = dout[oBase + c];
      }
      let index = (b * P.H + h) * L + t;
      tileLse[lane] = lseIn[P.lseOffset + index];
      tileDot[lane] = rowDot[index];
      tileMeta[lane] = tokenMeta[P.metaOffset + row];
      tilePos[lane] = positions[P.positionsOffset + row];
    } else {
      tileMeta[lane] = ROLE_PAD;
      tilePos[lane] = 0;
      tileLse[lane] = 0.0;
      tileDot[lane] = 0.0;
    }
    workgroupBarrier();
    if (live && queryEndP >= i32(t0)) {
      let first = max(t0, p);
      let last = min(t0 + TILE - 1u, u32(queryEndP));
      for (var q = first; q <= last; q++) {
        let j = q - t0;
        if (allowed(q, p, tileMeta[j], metaP)) {
          var dot = 0.0;
          var dp = 0.0;
          for (var c = 0u; c < HEAD_DIM; c++) {
            dot += tileA[j * HEAD_DIM + c] * kv[c];
            dp += tileB[j * HEAD_DIM + c] * vv[c];
          }
          let prob = exp(dot - slope * f32(tilePos[j] - posP) - tileLse[j]);
          let ds = prob * (dp - tileDot[j]);
          for (var c = 0u; c < HEAD_DIM; c++) {
            dv[c] += prob * tileB[j * HEAD_DIM + c];
            dk[c] += ds * tileA[j * HEAD_DIM + c];
          }
        }
      }
    }
    workgroupBarrier();
  }

  if (live) {
    let base = P.dqkvOffset + (rowBase + p) * 3u * d + d + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) {
      dqkv[base + c] += dk[c] * P.scale;
      dqkv[base + d + c] += dv[c];
    }
  }
}
