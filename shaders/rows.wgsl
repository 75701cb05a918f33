// Rows by index: a batch's target rows out of its B·L rows, and back. The model's last block runs on its targets' rows
// only after attention (nothing else there reaches the loss; docs/ENGINE.md): gather before, scatter-add after.
// index = the batch's targetIndex (flat rows, distinct), count = targetCount[0] (T of this step, ≤ maxRows).
//   gather_rows:      out[i] = x[index[i]] for i < T, 0 for T ≤ i < maxRows (the unused rows stay finite and inert)
//   scatter_add_rows: out[index[i]] += x[i] for i < T (distinct rows: one writer per element, no atomics)
// Grid-stride over elements, neighbouring threads on neighbouring columns.

struct Params {
  d: u32,
  maxRows: u32,
  xOffset: u32,
  outOffset: u32,
  indexOffset: u32,
  countOffset: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> count: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 256u;

fn rowCount() -> u32 {
  return min(count[params.countOffset], params.maxRows);
}

@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let rows = rowCount();
  for (var e = gid.x; e < params.maxRows * params.d; e += nwg.x * WG) {
    let i = e / params.d;
    var value = 0.0;
    if (i < rows) {
      value = x[params.xOffset + u32(index[params.indexOffset + i]) * params.d + e % params.d];
    }
    out[params.outOffset + e] = value;
  }
}

@compute @workgroup_size(WG)
fn scatter_add_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let elements = rowCount() * params.d;
  for (var e = gid.x; e < elements; e += nwg.x * WG) {
    let row = u32(index[params.indexOffset + e / params.d]);
    out[params.outOffset + row * params.d + e % params.d] += x[params.xOffset + e];
  }
}
