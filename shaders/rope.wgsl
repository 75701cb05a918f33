// Rotary position embedding (docs/ENGINE.md), in place on the q and k parts of qkv [rows, 3d]: interleaved pairs
// (2i, 2i+1) inside each head, angle = position · 10000^(-2i/hd). Backward rotates the gradient by the opposite angle
// (the rotation is orthogonal), also in place. One thread per (row, head, pair) handles that pair of q and of k;
// grid-stride, so any size fits under the 65535-workgroup limit.
//
// Precision: the inverse frequencies come from the CPU (f64 rounded to f32, not WGSL pow/exp2, whose error grows with
// the exponent), and sin/cos are computed here (sinCos), not with the built-ins: WGSL only bounds those to an absolute
// 2^-11, and SwiftShader's are that coarse (errors near 2e-4). What remains is the f32 rounding of
// position · frequency, about 6e-8 relative (3e-5 rad at position 500).

const WG: u32 = 64u;
// π/2 = HALF_PI_HI + HALF_PI_LO; HALF_PI_HI has 8 significant bits, so k · HALF_PI_HI is exact for |k| < 2^16
// (angles up to about 10^5 rad).
const HALF_PI_HI: f32 = 1.5703125;
const HALF_PI_LO: f32 = 4.8382679489661923e-4;
const TWO_OVER_PI: f32 = 0.63661977236758134;

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

// (sin a, cos a) to about 1e-7 absolute: a = k·π/2 + r with |r| <= π/4, Taylor polynomials in r (truncation error
// below 3e-9 there), then the quadrant k mod 4 picks and signs them.
fn sinCos(a: f32) -> vec2f {
  let k = round(a * TWO_OVER_PI);
  let r = (a - k * HALF_PI_HI) - k * HALF_PI_LO;
  let r2 = r * r;
  let s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
  switch (i32(k) & 3) {
    case 0: {
      return vec2f(s, c);
    }
    case 1: {
      return vec2f(c, -s);
    }
    case 2: {
      return vec2f(-s, -c);
    }
    default: {
      return vec2f(-c, s);
    }
  }
}

fn rotate(i: u32, sign: f32) {
  let half = R.headDim / 2u;
  let perRow = R.H * half;
  let row = i / perRow;
  let h = (i % perRow) / half;
  let pair = i % half;
  let sc = sinCos(f32(positions[R.positionsOffset + row]) * inverseFrequency[pair]);
  let s = sign * sc.x;
  let c = sc.y;
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
