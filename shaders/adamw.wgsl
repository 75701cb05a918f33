// Decoupled AdamW over the flat parameter buffer, with global-norm clipping computed here from the norm that
// grad_norm.wgsl wrote earlier in the same submission (no CPU readback):
//   g' = g · clipScale, clipScale = min(1, maxNorm / (‖g‖₂ + 1e-6))  (1 when maxNorm = 0)
//   m = β1 m + (1-β1) g',  v = β2 v + (1-β2) g'²
//   p -= lr · ( m/(1-β1^t) / (sqrt(v/(1-β2^t)) + eps) + wd·p ),  wd only on [0, decayedCount)
// A step whose gradients hold NaN/Inf (norm[1] != 0) is skipped entirely so it cannot destroy the weights.

const WG: u32 = 256u;

struct Shape {
  count: u32,
  decayedCount: u32,
  paramsOffset: u32,
  gradsOffset: u32,
  mOffset: u32,
  vOffset: u32,
  normOffset: u32,
}

// Rewritten by the CPU every step (writeAdamHyper in src/gpu/kernels/adamw.ts).
struct Hyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  bias1: f32, // 1 - β1^t
  bias2: f32, // 1 - β2^t
  maxGradNorm: f32, // 0 = no clipping
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> hyper: Hyper;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read> grads: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> norm: array<f32>; // [‖g‖₂, non-finite flag]

@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (norm[shape.normOffset + 1u] != 0.0) {
    return;
  }
  var clipScale = 1.0;
  if (hyper.maxGradNorm > 0.0) {
    clipScale = min(1.0, hyper.maxGradNorm / (norm[shape.normOffset] + 1e-6));
  }
  for (var i = gid.x; i < shape.count; i += nwg.x * WG) {
    let g = grads[shape.gradsOffset + i] * clipScale;
    let mi = hyper.beta1 * m[shape.mOffset + i] + (1.0 - hyper.beta1) * g;
    let vi = hyper.beta2 * v[shape.vOffset + i] + (1.0 - hyper.beta2) * g * g;
    m[shape.mOffset + i] = mi;
    v[shape.vOffset + i] = vi;
    let p = params[shape.paramsOffset + i];
    var update = (mi / hyper.bias1) / (sqrt(vi / hyper.bias2) + hyper.eps);
    if (i < shape.decayedCount) {
      update += hyper.weightDecay * p;
    }
    params[shape.paramsOffset + i] = p - hyper.lr * update;
  }
}
