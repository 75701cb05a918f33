// GELU, tanh approximation: y = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))).
// Backward accumulates: dx += dout · y'(x). Grid-stride loops as in add.wgsl (the dispatch is capped).

struct Params {
  count: u32,
  xOffset: u32,
  doutOffset: u32,
  resultOffset: u32,
}

// Bindings: 0 x, 1 result (out, or dx), 2 params, 3 dout (backward only).
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

override WG_SIZE: u32;

const SQRT_2_OVER_PI = 0.7978845608028654;
const CUBIC = 0.044715;

// tanh of the inner term. Clamped because some backends compute tanh through exp and return NaN for large arguments;
// tanh(±15) is already ±1 in f32.
fn innerTanh(v: f32) -> f32 {
  return tanh(clamp(SQRT_2_OVER_PI * (v + CUBIC * v * v * v), -15.0, 15.0));
}

@compute @workgroup_size(WG_SIZE)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.count; i += groups.x * WG_SIZE) {
    let v = x[params.xOffset + i];
    result[params.resultOffset + i] = 0.5 * v * (1.0 + innerTanh(v));
  }
}

@compute @workgroup_size(WG_SIZE)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.count; i += groups.x * WG_SIZE) {
    let v = x[params.xOffset + i];
    let t = innerTanh(v);
    let dInner = SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * v * v);
    let derivative = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * dInner;
    result[params.resultOffset + i] += dout[params.doutOffset + i] * derivative;
  }
}
