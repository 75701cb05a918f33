// Matmul C[rows, cols] (+)= A[rows, depth] · B[depth, cols] (+ bias[cols]) in three storage forms, and a column sum.
//
// Register-blocked: each thread computes 8×8 outputs of C from scalar loads, with no workgroup memory and no barriers.
// Barriers are very expensive on CPU drivers (SwiftShader), and on GPUs the threads of a workgroup share their A/B
// reads through the caches. Loads are scalar because tensors sit at arbitrary element offsets (no vec4 alignment).
// Measured on SwiftShader (512×256×256): 8×8 outputs per thread ran ~1.4× faster than 4×4 (16 loads per 64
// multiply-adds instead of 8 per 16: loads dominate there); private arrays instead of named accumulators ran 10× slower.
//
// Forms (entry points), as the engine uses them for y = x·W + b with x [M,K], W [K,N]:
//   matmul_nn: y  = x · W          A = x [M,K] row-major,    B = W [K,N] row-major
//   matmul_nt: dx += dy · Wᵀ       A = dy [M,N] row-major,   B = W read transposed
//   matmul_tn: dW += xᵀ · dy       A = x read transposed,    B = dy [M,N] row-major
// The depth (reduction) range can be split over workgroup z: chunk z covers depth
// [z·depthPerChunk, (z+1)·depthPerChunk) and writes its partial C at out + z·rows·cols (summed later by column_sum).

struct Params {
  rows: u32,
  cols: u32,
  depth: u32,
  depthPerChunk: u32,
  aOffset: u32,
  bOffset: u32,
  biasOffset: u32,
  outOffset: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WG_X: u32;
override WG_Y: u32;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;

// Element strides of A (along its rows and along depth) and B (along depth and along its columns).
struct Strides {
  aRow: u32,
  aDepth: u32,
  bDepth: u32,
  bCol: u32,
}

const LANES = vec4u(0u, 1u, 2u, 3u);

fn gatherB(i: vec4u) -> vec4f {
  return vec4f(b[i.x], b[i.y], b[i.z], b[i.w]);
}

fn storeRow(chunk: u32, row: u32, cols: vec4u, value: vec4f) {
  if (row >= params.rows) {
    return;
  }
  let base = params.outOffset + chunk * params.rows * params.cols + row * params.cols;
  for (var j = 0u; j < 4u; j++) {
    if (cols[j] < params.cols) {
      var v = value[j];
      if (HAS_BIAS) {
        v += bias[params.biasOffset + cols[j]];
      }
      if (ACCUMULATE) {
        v += out[base + cols[j]];
      }
      out[base + cols[j]] = v;
    }
  }
}

// A workgroup covers a tile of (8·WG_Y) × (8·WG_X) outputs; thread (lx, ly) owns rows ly + i·WG_Y and columns
// lx + j·WG_X of it (i, j < 8). Strided rather than contiguous so that neighbouring threads touch neighbouring
// columns: coalesced on GPUs, and on SwiftShader the SIMD lanes' loads become one vector load (consecutive
// addresses) or one broadcast (equal addresses) instead of four scalar loads.
fn matmulBlock(wid: vec3u, lid: vec3u, s: Strides) {
  let rowsLo = wid.y * 8u * WG_Y + lid.y + LANES * WG_Y;
  let rowsHi = rowsLo + 4u * WG_Y;
  let colsLo = wid.x * 8u * WG_X + lid.x + LANES * WG_X;
  let colsHi = colsLo + 4u * WG_X;
  if (rowsLo.x >= params.rows || colsLo.x >= params.cols) {
    return;
  }
  let p0 = wid.z * params.depthPerChunk;
  let p1 = min(params.depth, p0 + params.depthPerChunk);
  // Rows and columns past the edge are clamped to the last valid one so that loads need no checks; storeRow skips them.
  let lastRow = vec4u(params.rows - 1u);
  let lastCol = vec4u(params.cols - 1u);
  let aLo = params.aOffset + min(rowsLo, lastRow) * s.aRow;
  let aHi = params.aOffset + min(rowsHi, lastRow) * s.aRow;
  let bLo = params.bOffset + min(colsLo, lastCol) * s.bCol;
  let bHi = params.bOffset + min(colsHi, lastCol) * s.bCol;

  // acc_i = row i of the thread's block: column 0 holds its first 4 columns (colsLo), column 1 the next 4 (colsHi).
  var acc0 = mat2x4f();
  var acc1 = mat2x4f();
  var acc2 = mat2x4f();
  var acc3 = mat2x4f();
  var acc4 = mat2x4f();
  var acc5 = mat2x4f();
  var acc6 = mat2x4f();
  var acc7 = mat2x4f();
  for (var p = p0; p < p1; p++) {
    let pa = p * s.aDepth;
    let pb = p * s.bDepth;
    let bRow = mat2x4f(gatherB(bLo + pb), gatherB(bHi + pb));
    acc0 += a[aLo.x + pa] * bRow;
    acc1 += a[aLo.y + pa] * bRow;
    acc2 += a[aLo.z + pa] * bRow;
    acc3 += a[aLo.w + pa] * bRow;
    acc4 += a[aHi.x + pa] * bRow;
    acc5 += a[aHi.y + pa] * bRow;
    acc6 += a[aHi.z + pa] * bRow;
    acc7 += a[aHi.w + pa] * bRow;
  }
  let z = wid.z;
  storeRow(z, rowsLo.x, colsLo, acc0[0]);
  storeRow(z, rowsLo.x, colsHi, acc0[1]);
  storeRow(z, rowsLo.y, colsLo, acc1[0]);
  storeRow(z, rowsLo.y, colsHi, acc1[1]);
  storeRow(z, rowsLo.z, colsLo, acc2[0]);
  storeRow(z, rowsLo.z, colsHi, acc2[1]);
  storeRow(z, rowsLo.w, colsLo, acc3[0]);
  storeRow(z, rowsLo.w, colsHi, acc3[1]);
  storeRow(z, rowsHi.x, colsLo, acc4[0]);
  storeRow(z, rowsHi.x, colsHi, acc4[1]);
  storeRow(z, rowsHi.y, colsLo, acc5[0]);
  storeRow(z, rowsHi.y, colsHi, acc5[1]);
  storeRow(z, rowsHi.z, colsLo, acc6[0]);
  storeRow(z, rowsHi.z, colsHi, acc6[1]);
  storeRow(z, rowsHi.w, colsLo, acc7[0]);
  storeRow(z, rowsHi.w, colsHi, acc7[1]);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_nn(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  matmulBlock(wid, lid, Strides(params.depth, 1u, params.cols, 1u));
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_nt(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  matmulBlock(wid, lid, Strides(params.depth, 1u, 1u, params.depth));
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_tn(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  matmulBlock(wid, lid, Strides(1u, params.rows, params.cols, 1u));
}

// ---------------------------------------------------------------------------------------------------------------------
// column_sum: sumOut[chunk·cols + j] (+)= Σ sumIn[r·cols + j] over the rows r of chunk gid.y (one thread per column, so
// reads are coalesced and the order of the sum is fixed). Used for bias gradients and to add up chunked partials.
// Its bindings reuse slots 0..2: an entry point only binds the variables it uses.

struct SumParams {
  rows: u32,
  cols: u32,
  rowsPerChunk: u32,
  inOffset: u32,
  outOffset: u32,
}

@group(0) @binding(0) var<storage, read> sumIn: array<f32>;
@group(0) @binding(1) var<storage, read_write> sumOut: array<f32>;
@group(0) @binding(2) var<uniform> sumParams: SumParams;

override SUM_WG: u32;

@compute @workgroup_size(SUM_WG)
fn column_sum(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  let cols = sumParams.cols;
  if (col >= cols) {
    return;
  }
  let r0 = gid.y * sumParams.rowsPerChunk;
  let r1 = min(sumParams.rows, r0 + sumParams.rowsPerChunk);
  var total = 0.0;
  for (var r = r0; r < r1; r++) {
    total += sumIn[sumParams.inOffset + r * cols + col];
  }
  let o = sumParams.outOffset + gid.y * cols + col;
  if (ACCUMULATE) {
    total += sumOut[o];
  }
  sumOut[o] = total;
}
