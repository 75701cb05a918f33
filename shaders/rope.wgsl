// Rotary position embedding (docs/ENGINE.md), in place on the q and k parts of qkv [rows, 3d]: interleaved pairs
// (2i, 2i+1) inside each head, angle = position · 10000^(-2i/hd). Backward rotates the gradient by the opposite angle
// (the rotation is orthogonal), also in place. One thread per (row, head, pair) handles that pair of q and of k;
// grid-stride, so any size fits under the 65535-workgroup limit.
//
// Precision: the inverse frequencies come from the CPU (f64 rounded to f32, not WGSL pow/exp2, whose error grows with
// the exponent), and the angle is reduced to [-π, π] with a two-part 2π before cos/sin, whose accuracy WGSL only
// bounds inside [-π, π]. What remains is the f32 rounding of position · frequency (about 1e-7 relative).

const WG: u32 = 64u;
// 2π = TWO_PI_HI + TWO_PI_LO; TWO_PI_HI has few significant bits, so k · TWO_PI_HI is exact for the k that occur.
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;
const INV_TWO_PI: f32 = 0.15915494309189535;

struct RopeParams {
  total: u32, // rows * H * (hd / 2)
  H: u32,
  headDim: u32,
  qkvOffset: u32,
  positionsOffset: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> R: RopeParams;
@group(0) @binding(1) var<storage, read> positions: array<i32>;
@group(0) @binding(2) var<storage, read> inverseFrequency: array<f32>; // [hd / 2]
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>; // qkv (forward) or dqkv (backward)

fn rotate(i: u32, sign: f32) {
  let half = R.headDim / 2u;
  let perRow = R.H * half;
  let row = i / perRow;
  let h = (i % perRow) / half;
  let pair = i % half;
  let angle = f32(positions[R.positionsOffset + row]) * inverseFrequency[pair];
  let turns = round(angle * INV_TWO_PI);
  let reduced = (angle - turns * TWO_PI_HI) - turns * TWO_PI_LO;
  let c = cos(reduced);
  let s = sign * sin(reduced);
  let d = R.H * R.headDim;
  let base = R.qkvOffset + row * 3u * d + h * R.headDim + 2u * pair;
  for (var part = 0u; part < 2u; part++) { // q, then k; v is not rotated
    let e = base + part * d;
    let x0 = qkv[e];
    let x1 = qkv[e + 1u];
    qkv[e] = x0 * c - x1 * s;
    qkv[e + 1u] = x0 * s + x1 * c;
  }
}

@compute @workgroup_size(WG)
fn rope_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < R.total; i += nwg.x * WG) {
    rotate(i, 1.0);
  }
}

@compute @workgroup_size(WG)
fn rope_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < R.total; i += nwg.x * WG) {
    rotate(i, -1.0);
  }
}
