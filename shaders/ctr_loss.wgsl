// CTR readout and loss: z_t = xf[targetIndex[t]] · (wte[YES] - wte[NO]), p_t = sigmoid(z_t),
// loss_t = max(z,0) - z·y + log(1 + exp(-|z|)); the step's loss is Σ_t loss_t / N over its T = targetCount[0]
// targets, N = targetCount[1] (in training the targets an optimizer step holds on average, the same for each of its
// micro-batches, so the accumulated gradient is the step's and every target of an epoch weighs the same) or T when
// that is 0 (the mean).
// Dispatch sizes use the run's maxTargets; workgroups/threads of targets t >= T return early.
// Each entry point binds its own contiguous bindings (GpuContext.dispatch binds resources in order); variables of
// different entry points may share a binding number.

const WG: u32 = 64u;

struct Shape {
  d: u32,
  yesRow: u32,
  noRow: u32,
  countOffset: u32,
  indexOffset: u32,
  labelOffset: u32,
  xfOffset: u32,
  wteOffset: u32,
  lossesOffset: u32,
  probsOffset: u32,
  statsOffset: u32,
  dxfOffset: u32,
  dwteOffset: u32,
}

// Shared by forward, backward_dxf and backward_dwte.
@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> targetCount: array<u32>;
@group(0) @binding(2) var<storage, read> targetIndex: array<i32>;
@group(0) @binding(3) var<storage, read> targetLabel: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn targetRow(t: u32) -> u32 {
  return u32(targetIndex[shape.indexOffset + t]);
}

// wte[YES][c] - wte[NO][c]: the readout direction.
fn readout(c: u32) -> f32 {
  return wte[shape.wteOffset + shape.yesRow * shape.d + c] - wte[shape.wteOffset + shape.noRow * shape.d + c];
}

// N of the header comment.
fn lossDenominator(count: u32) -> f32 {
  let given = targetCount[shape.countOffset + 1u];
  return f32(select(count, given, given > 0u));
}

fn isNonFinite(x: f32) -> bool {
  // Bit test rather than x != x: NaN comparisons may be folded away by fast-math compilers.
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// Tree sum of `partial` over the workgroup; the result is in partial[0] after the call.
fn workgroupSum(lid: u32) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
}

// ---- forward: one workgroup per target ----
@group(0) @binding(4) var<storage, read> xf: array<f32>;
@group(0) @binding(5) var<storage, read> wte: array<f32>;
@group(0) @binding(6) var<storage, read_write> losses: array<f32>;
@group(0) @binding(7) var<storage, read_write> probs: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x;
  if (t >= targetCount[shape.countOffset]) {
    return; // uniform across the workgroup, so the barriers below stay uniform
  }
  let base = shape.xfOffset + targetRow(t) * shape.d;
  var acc = 0.0;
  for (var c = lid; c < shape.d; c += WG) {
    acc += xf[base + c] * readout(c);
  }
  partial[lid] = acc;
  workgroupSum(lid);
  if (lid == 0u) {
    let z = partial[0];
    let y = targetLabel[shape.labelOffset + t];
    let e = exp(-abs(z)); // never overflows
    probs[shape.probsOffset + t] = select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
    losses[shape.lossesOffset + t] = max(z, 0.0) - z * y + log(1.0 + e);
  }
}

// ---- reduce: one workgroup writes stats = [loss (Σ loss_t / N), non-finite flag] ----
@group(0) @binding(2) var<storage, read> lossesIn: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
  let count = targetCount[shape.countOffset];
  var acc = 0.0;
  for (var t = lid; t < count; t += WG) {
    acc += lossesIn[shape.lossesOffset + t];
  }
  partial[lid] = acc;
  workgroupSum(lid);
  if (lid == 0u) {
    let mean = select(0.0, partial[0] / lossDenominator(count), count > 0u);
    stats[shape.statsOffset] = mean;
    stats[shape.statsOffset + 1u] = select(0.0, 1.0, isNonFinite(mean));
  }
}

// ---- backward ----
@group(0) @binding(4) var<storage, read> probsIn: array<f32>;

// dloss/dz_t = (p_t - y_t) / N
fn dz(t: u32, count: u32) -> f32 {
  return (probsIn[shape.probsOffset + t] - targetLabel[shape.labelOffset + t]) / lossDenominator(count);
}

// dxf[targetIndex[t]] += dz_t · (wte[YES] - wte[NO]); grid (ceil(d / WG), maxTargets). Target rows are distinct, so
// each element has one writer. Binds wte at 5, like forward.
@group(0) @binding(6) var<storage, read_write> dxf: array<f32>;

@compute @workgroup_size(WG)
fn backward_dxf(@builtin(global_invocation_id) gid: vec3u) {
  let count = targetCount[shape.countOffset];
  let t = gid.y;
  let c = gid.x;
  if (t >= count || c >= shape.d) {
    return;
  }
  dxf[shape.dxfOffset + targetRow(t) * shape.d + c] += dz(t, count) * readout(c);
}

// dwte[YES] += Σ_t dz_t · xf[targetIndex[t]], dwte[NO] -= the same; one thread per column loops over the targets in
// order (deterministic).
@group(0) @binding(5) var<storage, read> xfBackward: array<f32>;
@group(0) @binding(6) var<storage, read_write> dwte: array<f32>;

@compute @workgroup_size(WG)
fn backward_dwte(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= shape.d) {
    return;
  }
  let count = targetCount[shape.countOffset];
  var acc = 0.0;
  for (var t = 0u; t < count; t++) {
    acc += dz(t, count) * xfBackward[shape.xfOffset + targetRow(t) * shape.d + c];
  }
  dwte[shape.dwteOffset + shape.yesRow * shape.d + c] += acc;
  dwte[shape.dwteOffset + shape.noRow * shape.d + c] -= acc;
}
