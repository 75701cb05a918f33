// Matmul C[rows, cols] (+)= A[rows, depth] · B[depth, cols] (+ bias[cols]) in three storage forms, and a column sum.
//
// Register-blocked: each thread computes a 4×4 block of C from scalar loads, with no workgroup memory and no barriers.
// Barriers are very expensive on CPU drivers (SwiftShader), and on GPUs the threads of a workgroup share their A/B
// reads through the caches. Loads are scalar because tensors sit at arbitrary element offsets (no vec4 alignment).
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

fn gatherA(i: vec4u) -> vec4f {
  return vec4f(a[i.x], a[i.y], a[i.z], a[i.w]);
}

fn gatherB(i: vec4u) -> vec4f {
  return vec4f(b[i.x], b[i.y], b[i.z], b[i.w]);
}

fn storeRow(chunk: u32, row: u32, col0: u32, value: vec4f) {
  if (row >= params.rows) {
    return;
  }
  let base = params.outOffset + chunk * params.rows * params.cols + row * params.cols + col0;
  for (var j = 0u; j < 4u; j++) {
    if (col0 + j < params.cols) {
      var v = value[j];
      if (HAS_BIAS) {
        v += bias[params.biasOffset + col0 + j];
      }
      if (ACCUMULATE) {
        v += out[base + j];
      }
      out[base + j] = v;
    }
  }
}

fn matmulBlock(gid: vec3u, s: Strides) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  if (row0 >= params.rows || col0 >= params.cols) {
    return;
  }
  let p0 = gid.z * params.depthPerChunk;
  let p1 = min(params.depth, p0 + params.depthPerChunk);
  // Rows and columns past the edge are clamped to the last valid one so that loads need no checks; storeRow skips them.
  let aBase = params.aOffset + min(row0 + LANES, vec4u(params.rows - 1u)) * s.aRow;
  let bBase = params.bOffset + min(col0 + LANES, vec4u(params.cols - 1u)) * s.bCol;
  let aSteps = LANES * s.aDepth;
  let bStep = s.bDepth;

  // acc_i = row i of the block (4 columns).
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  var p = p0;
  for (; p + 4u <= p1; p += 4u) {
    let aP = aBase + p * s.aDepth;
    let bP = bBase + p * bStep;
    // b_q = depth p+q of the block's 4 columns; a_i = row i over depths p..p+3.
    let b0 = gatherB(bP);
    let b1 = gatherB(bP + bStep);
    let b2 = gatherB(bP + 2u * bStep);
    let b3 = gatherB(bP + 3u * bStep);
    let a0 = gatherA(aP.x + aSteps);
    let a1 = gatherA(aP.y + aSteps);
    let a2 = gatherA(aP.z + aSteps);
    let a3 = gatherA(aP.w + aSteps);
    acc0 += a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
    acc1 += a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
    acc2 += a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
    acc3 += a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
  }
  for (; p < p1; p++) {
    let av = gatherA(aBase + p * s.aDepth);
    let bv = gatherB(bBase + p * bStep);
    acc0 += av.x * bv;
    acc1 += av.y * bv;
    acc2 += av.z * bv;
    acc3 += av.w * bv;
  }
  storeRow(gid.z, row0, col0, acc0);
  storeRow(gid.z, row0 + 1u, col0, acc1);
  storeRow(gid.z, row0 + 2u, col0, acc2);
  storeRow(gid.z, row0 + 3u, col0, acc3);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_nn(@builtin(global_invocation_id) gid: vec3u) {
  matmulBlock(gid, Strides(params.depth, 1u, params.cols, 1u));
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_nt(@builtin(global_invocation_id) gid: vec3u) {
  matmulBlock(gid, Strides(params.depth, 1u, 1u, params.depth));
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_tn(@builtin(global_invocation_id) gid: vec3u) {
  matmulBlock(gid, Strides(1u, params.rows, params.cols, 1u));
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
