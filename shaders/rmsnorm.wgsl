// RMSNorm over rows of width d: y = x · rstd · w, rstd = 1/sqrt(mean(x²) + 1e-5); forward saves rstd per row.
// Backward (accumulating): dx += rstd · (w·g − x · rstd² · mean(w·g·x)), dw += Σ_rows g · x · rstd.
//
// Row entry points: a workgroup handles ROWS_PER_WG rows with THREADS_PER_ROW threads each. A thread strides over its
// row's columns (neighbouring threads read neighbouring elements) and the row's partial sums meet in workgroup memory
// after a single barrier: barriers are very expensive on CPU drivers, so there is one per workgroup, not a tree.

struct Params {
  rows: u32,
  d: u32,
  xOffset: u32,
  wOffset: u32,
  rstdOffset: u32,
  doutOffset: u32,
  resultOffset: u32,
  rowsPerChunk: u32,
}

const EPS = 1e-5;

override ROWS_PER_WG: u32;
override THREADS_PER_ROW: u32;
override ACCUMULATE: bool = false;

// Bindings. Backward: 0 x, 1 dout, 2 rstd, 3 result (out, dx or dw partials), 4 params, 5 w (dx only).
// The forward entry point reads w and writes rstd through slots 1 and 2 instead.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(1) var<storage, read> forwardW: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstdOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> result: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> w: array<f32>;

var<workgroup> partials: array<f32, ROWS_PER_WG * THREADS_PER_ROW>;

// Sum of `value` over the threads of this thread's row, in a fixed order. Every thread of the workgroup must call it.
fn rowTotal(localIndex: u32, value: f32) -> f32 {
  partials[localIndex] = value;
  workgroupBarrier();
  let first = localIndex / THREADS_PER_ROW * THREADS_PER_ROW;
  var total = 0.0;
  for (var t = 0u; t < THREADS_PER_ROW; t++) {
    total += partials[first + t];
  }
  return total;
}

struct RowThread {
  row: u32,
  lane: u32,
  // Columns this thread visits: d for a real row, 0 past the last row (those threads still reach the barrier).
  width: u32,
}

fn rowThread(workgroup: u32, localIndex: u32) -> RowThread {
  let row = workgroup * ROWS_PER_WG + localIndex / THREADS_PER_ROW;
  return RowThread(row, localIndex % THREADS_PER_ROW, select(0u, params.d, row < params.rows));
}

@compute @workgroup_size(ROWS_PER_WG * THREADS_PER_ROW)
fn rmsnorm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) localIndex: u32) {
  let t = rowThread(wid.x, localIndex);
  let xBase = params.xOffset + t.row * params.d;
  var sumSquares = 0.0;
  for (var j = t.lane; j < t.width; j += THREADS_PER_ROW) {
    let v = x[xBase + j];
    sumSquares += v * v;
  }
  let r = 1.0 / sqrt(rowTotal(localIndex, sumSquares) / f32(params.d) + EPS);
  let outBase = params.resultOffset + t.row * params.d;
  for (var j = t.lane; j < t.width; j += THREADS_PER_ROW) {
    result[outBase + j] = x[xBase + j] * r * forwardW[params.wOffset + j];
  }
  if (t.lane == 0u && t.width > 0u) {
    rstdOut[params.rstdOffset + t.row] = r;
  }
}

@compute @workgroup_size(ROWS_PER_WG * THREADS_PER_ROW)
fn rmsnorm_backward_dx(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) localIndex: u32) {
  let t = rowThread(wid.x, localIndex);
  let xBase = params.xOffset + t.row * params.d;
  let gBase = params.doutOffset + t.row * params.d;
  var dot = 0.0;
  for (var j = t.lane; j < t.width; j += THREADS_PER_ROW) {
    dot += w[params.wOffset + j] * dout[gBase + j] * x[xBase + j];
  }
  let total = rowTotal(localIndex, dot);
  if (t.width == 0u) {
    return;
  }
  let r = rstd[params.rstdOffset + t.row];
  let correction = total / f32(params.d) * r * r;
  let dxBase = params.resultOffset + t.row * params.d;
  for (var j = t.lane; j < t.width; j += THREADS_PER_ROW) {
    result[dxBase + j] += r * (w[params.wOffset + j] * dout[gBase + j] - x[xBase + j] * correction);
  }
}

// dw partials: thread (column j, chunk gid.y) sums g · x · rstd over the chunk's rows into result[chunk·d + j]
// (one writer per element, fixed order; the chunks are added up by matmul.wgsl's column_sum).
@compute @workgroup_size(ROWS_PER_WG * THREADS_PER_ROW)
fn rmsnorm_backward_dw(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let d = params.d;
  if (j >= d) {
    return;
  }
  let r0 = gid.y * params.rowsPerChunk;
  let r1 = min(params.rows, r0 + params.rowsPerChunk);
  var total = 0.0;
  for (var r = r0; r < r1; r++) {
    total += dout[params.doutOffset + r * d + j] * x[params.xOffset + r * d + j] * rstd[params.rstdOffset + r];
  }
  let o = params.resultOffset + gid.y * d + j;
  if (ACCUMULATE) {
    total += result[o];
  }
  result[o] = total;
}
