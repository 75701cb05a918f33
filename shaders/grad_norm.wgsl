// Global gradient norm, deterministic in two passes (no float atomics): `partial_sums` writes one (Σg², non-finite
// flag) pair per workgroup into a scratch buffer, then a single workgroup `finish`es: out = [‖g‖₂, flag].
// The flag (1.0 when any gradient is NaN/Inf) lets AdamW skip a diverged step without a CPU readback.

const WG: u32 = 256u;

struct Shape {
  count: u32,
  gradsOffset: u32,
  partialCount: u32, // workgroups of partial_sums
  outOffset: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;

var<workgroup> sums: array<f32, WG>;
var<workgroup> flags: array<u32, WG>;

fn isNonFinite(x: f32) -> bool {
  // Bit test rather than x != x: NaN comparisons may be folded away by fast-math compilers.
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// Tree reduction of `sums` (add) and `flags` (or); results in sums[0] and flags[0].
fn workgroupReduce(lid: u32) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      sums[lid] += sums[lid + stride];
      flags[lid] |= flags[lid + stride];
    }
    workgroupBarrier();
  }
}

// ---- pass 1: grid-stride over the gradients ----
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>; // [2 * partialCount]

@compute @workgroup_size(WG)
fn partial_sums(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(num_workgroups) nwg: vec3u,
) {
  var sum = 0.0;
  var flag = 0u;
  for (var i = wid.x * WG + lid; i < shape.count; i += nwg.x * WG) {
    let g = grads[shape.gradsOffset + i];
    sum += g * g;
    flag |= u32(isNonFinite(g)); // tracked apart from the sum, where a huge finite g² would also overflow
  }
  sums[lid] = sum;
  flags[lid] = flag;
  workgroupReduce(lid);
  if (lid == 0u) {
    partials[2u * wid.x] = sums[0];
    partials[2u * wid.x + 1u] = f32(flags[0]);
  }
}

// ---- pass 2: one workgroup over the partials ----
@group(0) @binding(1) var<storage, read> partialsIn: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  var flag = 0u;
  for (var i = lid; i < shape.partialCount; i += WG) {
    sum += partialsIn[2u * i];
    flag |= u32(partialsIn[2u * i + 1u] != 0.0);
  }
  sums[lid] = sum;
  flags[lid] = flag;
  workgroupReduce(lid);
  if (lid == 0u) {
    out[shape.outOffset] = sqrt(sums[0]);
    out[shape.outOffset + 1u] = f32(flags[0]);
  }
}
