// Elementwise out = a + b over `count` elements. Grid-stride loop: the dispatch is capped (add.ts), so each thread
// may handle several elements; neighbouring threads touch neighbouring elements.

struct Params {
  count: u32,
  aOffset: u32,
  bOffset: u32,
  outOffset: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG_SIZE: u32;

@compute @workgroup_size(WG_SIZE)
fn add_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.count; i += groups.x * WG_SIZE) {
    out[params.outOffset + i] = a[params.aOffset + i] + b[params.bOffset + i];
  }
}
