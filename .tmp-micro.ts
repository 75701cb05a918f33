const webgpu = (await import('webgpu')) as any;
Object.assign(globalThis, webgpu.globals);
const gpu = webgpu.create([]);
(globalThis as any).keep = gpu;
const adapter = await gpu.requestAdapter();
const device: GPUDevice = await adapter.requestDevice();
device.addEventListener('uncapturederror', (e: any) => console.error(e.error.message));
const N = 32 * 64; // threads
const K = 128, HD = 16;
const common = `
@group(0) @binding(0) var<storage, read> kmat: array<f32>;
@group(0) @binding(1) var<storage, read_write> outv: array<f32>;
override HEAD_DIM: u32 = 16u;
var<workgroup> tileK: array<f32, 32 * 16>;
var<workgroup> tileKT: array<vec4f, 8 * 16>;
`;
const variants: Record<string, string> = {
  privArr: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u) {
    var qv: array<f32, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = f32(g.x + c) * 0.001; }
    var acc = 0.0;
    for (var p = 0u; p < ${K}u; p++) { var dot = 0.0; for (var c = 0u; c < HEAD_DIM; c++) { dot += qv[c] * kmat[p * HEAD_DIM + c]; } acc += dot; }
    outv[g.x] = acc; }`,
  privArrExact: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u) {
    var qv: array<f32, 16>; for (var c = 0u; c < 16u; c++) { qv[c] = f32(g.x + c) * 0.001; }
    var acc = 0.0;
    for (var p = 0u; p < ${K}u; p++) { var dot = 0.0; for (var c = 0u; c < 16u; c++) { dot += qv[c] * kmat[p * 16u + c]; } acc += dot; }
    outv[g.x] = acc; }`,
  vec4regs: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u) {
    let x = f32(g.x) * 0.001; let q0 = vec4f(x, x+1.0, x+2.0, x+3.0); let q1 = q0 * 2.0; let q2 = q0 * 3.0; let q3 = q0 * 4.0;
    var acc = 0.0;
    for (var p = 0u; p < ${K}u; p++) { let b = p * 16u;
      let k0 = vec4f(kmat[b], kmat[b+1u], kmat[b+2u], kmat[b+3u]); let k1 = vec4f(kmat[b+4u], kmat[b+5u], kmat[b+6u], kmat[b+7u]);
      let k2 = vec4f(kmat[b+8u], kmat[b+9u], kmat[b+10u], kmat[b+11u]); let k3 = vec4f(kmat[b+12u], kmat[b+13u], kmat[b+14u], kmat[b+15u]);
      acc += dot(q0, k0) + dot(q1, k1) + dot(q2, k2) + dot(q3, k3); }
    outv[g.x] = acc; }`,
  wgmem: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<f32, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = f32(g.x + c) * 0.001; }
    var acc = 0.0;
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var c = 0u; c < HEAD_DIM; c++) { tileK[lane * HEAD_DIM + c] = kmat[(t * 32u + lane) * HEAD_DIM + c]; }
      workgroupBarrier();
      for (var p = 0u; p < 32u; p++) { var dot = 0.0; for (var c = 0u; c < HEAD_DIM; c++) { dot += qv[c] * tileK[p * HEAD_DIM + c]; } acc += dot; }
      workgroupBarrier();
    }
    outv[g.x] = acc; }`,
  wgmemDiverge: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<f32, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = f32(g.x + c) * 0.001; }
    var acc = 0.0;
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var c = 0u; c < HEAD_DIM; c++) { tileK[lane * HEAD_DIM + c] = kmat[(t * 32u + lane) * HEAD_DIM + c]; }
      workgroupBarrier();
      for (var p = lane % 3u; p < 32u - lane % 5u; p++) { var dot = 0.0; for (var c = 0u; c < HEAD_DIM; c++) { dot += qv[c] * tileK[p * HEAD_DIM + c]; } acc += dot; }
      workgroupBarrier();
    }
    outv[g.x] = acc; }`,
  blockKeys4: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<f32, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = f32(g.x + c) * 0.001; }
    var acc = 0.0;
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var c = 0u; c < HEAD_DIM; c++) { tileK[lane * HEAD_DIM + c] = kmat[(t * 32u + lane) * HEAD_DIM + c]; }
      workgroupBarrier();
      for (var p = 0u; p < 32u; p += 4u) { var dot = vec4f(0.0); for (var c = 0u; c < HEAD_DIM; c++) { let qc = qv[c];
         dot += qc * vec4f(tileK[p * HEAD_DIM + c], tileK[(p + 1u) * HEAD_DIM + c], tileK[(p + 2u) * HEAD_DIM + c], tileK[(p + 3u) * HEAD_DIM + c]); }
         acc += dot.x + dot.y + dot.z + dot.w; }
      workgroupBarrier();
    }
    outv[g.x] = acc; }`,
  blockKeys4T: `@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<f32, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = f32(g.x + c) * 0.001; }
    var acc = 0.0;
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var c = 0u; c < HEAD_DIM; c++) { tileKT[c * 8u + lane / 4u][lane % 4u] = kmat[(t * 32u + lane) * HEAD_DIM + c]; }
      workgroupBarrier();
      for (var p4 = 0u; p4 < 8u; p4++) { var dot = vec4f(0.0); for (var c = 0u; c < HEAD_DIM; c++) { dot += qv[c] * tileKT[c * 8u + p4]; }
         acc += dot.x + dot.y + dot.z + dot.w; }
      workgroupBarrier();
    }
    outv[g.x] = acc; }`,
  rows4: `@compute @workgroup_size(8) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<vec4f, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = vec4f(f32(g.x + c) * 0.001, 1.0, 2.0, 3.0); }
    var acc = vec4f(0.0);
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var r = 0u; r < 4u; r++) { for (var c = 0u; c < HEAD_DIM; c++) { tileK[(lane * 4u + r) * HEAD_DIM + c] = kmat[(t * 32u + lane * 4u + r) * HEAD_DIM + c]; } }
      workgroupBarrier();
      for (var p = 0u; p < 32u; p++) { var dot = vec4f(0.0); for (var c = 0u; c < HEAD_DIM; c++) { dot += qv[c] * tileK[p * HEAD_DIM + c]; } acc += dot; }
      workgroupBarrier();
    }
    outv[g.x] = acc.x + acc.y + acc.z + acc.w; }`,
  rows4keys4: `@compute @workgroup_size(8) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<vec4f, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = vec4f(f32(g.x + c) * 0.001, 1.0, 2.0, 3.0); }
    var acc = vec4f(0.0);
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var r = 0u; r < 4u; r++) { for (var c = 0u; c < HEAD_DIM; c++) { tileK[(lane * 4u + r) * HEAD_DIM + c] = kmat[(t * 32u + lane * 4u + r) * HEAD_DIM + c]; } }
      workgroupBarrier();
      for (var p = 0u; p < 32u; p += 4u) { var d0 = vec4f(0.0); var d1 = vec4f(0.0); var d2 = vec4f(0.0); var d3 = vec4f(0.0);
        for (var c = 0u; c < HEAD_DIM; c++) { let qc = qv[c];
          d0 += qc * tileK[p * HEAD_DIM + c]; d1 += qc * tileK[(p + 1u) * HEAD_DIM + c]; d2 += qc * tileK[(p + 2u) * HEAD_DIM + c]; d3 += qc * tileK[(p + 3u) * HEAD_DIM + c]; }
        acc += d0 + d1 + d2 + d3; }
      workgroupBarrier();
    }
    outv[g.x] = acc.x + acc.y + acc.z + acc.w; }`,
  rows4keys4T: `@compute @workgroup_size(8) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lane: u32) {
    var qv: array<vec4f, 128>; for (var c = 0u; c < HEAD_DIM; c++) { qv[c] = vec4f(f32(g.x + c) * 0.001, 1.0, 2.0, 3.0); }
    var acc = vec4f(0.0);
    for (var t = 0u; t < ${K / 32}u; t++) {
      for (var r = 0u; r < 4u; r++) { for (var c = 0u; c < HEAD_DIM; c++) { tileKT[c * 8u + lane][r] = kmat[(t * 32u + lane * 4u + r) * HEAD_DIM + c]; } }
      workgroupBarrier();
      for (var p4 = 0u; p4 < 8u; p4++) { var d0 = vec4f(0.0); var d1 = vec4f(0.0); var d2 = vec4f(0.0); var d3 = vec4f(0.0);
        for (var c = 0u; c < HEAD_DIM; c++) { let qc = qv[c]; let k = tileKT[c * 8u + p4];
          d0 += qc * k.x; d1 += qc * k.y; d2 += qc * k.z; d3 += qc * k.w; }
        acc += d0 + d1 + d2 + d3; }
      workgroupBarrier();
    }
    outv[g.x] = acc.x + acc.y + acc.z + acc.w; }`,
};
const kbuf = device.createBuffer({ size: K * HD * 4, usage: GPUBufferUsage.STORAGE });
const obuf = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.STORAGE });
for (const name of (process.argv[2] ?? Object.keys(variants).join(',')).split(',')) {
  const module = device.createShaderModule({ code: common + variants[name] });
  const p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: kbuf } }, { binding: 1, resource: { buffer: obuf } }].filter((_, i) => i < 2) });
  const run = (n: number) => { const enc = device.createCommandEncoder(); for (let i = 0; i < n; i++) { const pass = enc.beginComputePass(); pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(name === 'rows4' ? N / 32 : N / 32); pass.end(); } device.queue.submit([enc.finish()]); };
  run(1); await device.queue.onSubmittedWorkDone();
  let best = Infinity;
  for (let k = 0; k < 5; k++) { const c0 = process.cpuUsage(); run(3); await device.queue.onSubmittedWorkDone(); const c = process.cpuUsage(c0); best = Math.min(best, (c.user + c.system) / 3000); }
  const flops = N * K * HD * 2 * (name === 'rows4' ? 1 : 1);
  console.log(name.padEnd(14), best.toFixed(2), 'ms cpu', (flops / best / 1e6).toFixed(2), 'GFLOP/s');
}
process.exit(0);
