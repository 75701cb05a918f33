// Token (+ learned position) embedding.
// Forward gathers table rows. Backward is a deterministic scatter-add without float atomics: the engine sorts the
// batch's rows by id on the CPU (buildIndex in src/gpu/kernels/embedding.ts), so every table element has exactly one
// writer, which sums the rows holding its id in row order.
// Each entry point binds its own contiguous bindings (GpuContext.dispatch binds resources in order); variables of
// different entry points may share a binding number.
// Elementwise loops are grid-stride so the dispatch stays under the 65535-workgroup limit for any size.

const WG: u32 = 256u;

struct ForwardShape {
  total: u32, // rows * d
  d: u32,
  tokensOffset: u32,
  wteOffset: u32,
  outOffset: u32,
  positionsOffset: u32,
  wpeOffset: u32,
}

@group(0) @binding(0) var<uniform> fwd: ForwardShape;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// Only forward_positions binds these two (positionEncoding = 'learned').
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> wpe: array<f32>;

// out[r] = wte[tokens[r]]
@compute @workgroup_size(WG)
fn forward_tokens(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < fwd.total; i += nwg.x * WG) {
    let row = i / fwd.d;
    let col = i % fwd.d;
    let token = u32(tokens[fwd.tokensOffset + row]);
    out[fwd.outOffset + i] = wte[fwd.wteOffset + token * fwd.d + col];
  }
}

// out[r] = wte[tokens[r]] + wpe[positions[r]]
@compute @workgroup_size(WG)
fn forward_positions(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < fwd.total; i += nwg.x * WG) {
    let row = i / fwd.d;
    let col = i % fwd.d;
    let token = u32(tokens[fwd.tokensOffset + row]);
    let position = u32(positions[fwd.positionsOffset + row]);
    out[fwd.outOffset + i] = wte[fwd.wteOffset + token * fwd.d + col] + wpe[fwd.wpeOffset + position * fwd.d + col];
  }
}

struct BackwardShape {
  total: u32, // tableRows * d
  d: u32,
  doutOffset: u32,
  offsetsOffset: u32,
  rowsOffset: u32,
  dtableOffset: u32,
}

@group(0) @binding(0) var<uniform> bwd: BackwardShape;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
// offsets[v] .. offsets[v+1] index the slice of `sortedRows` holding the rows whose id is v.
@group(0) @binding(2) var<storage, read> offsets: array<i32>;
@group(0) @binding(3) var<storage, read> sortedRows: array<i32>;
@group(0) @binding(4) var<storage, read_write> dtable: array<f32>;

// dtable[v] += Σ dout[r] over the rows r with id v; one thread per table element.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < bwd.total; i += nwg.x * WG) {
    let v = i / bwd.d;
    let col = i % bwd.d;
    let begin = u32(offsets[bwd.offsetsOffset + v]);
    let end = u32(offsets[bwd.offsetsOffset + v + 1u]);
    if (begin == end) {
      continue; // id absent from the batch (most of the vocabulary)
    }
    var sum = 0.0;
    for (var k = begin; k < end; k++) {
      let row = u32(sortedRows[bwd.rowsOffset + k]);
      sum += dout[bwd.doutOffset + row * bwd.d + col];
    }
    dtable[bwd.dtableOffset + i] += sum;
  }
}
