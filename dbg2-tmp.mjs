import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter();
const device = await adapter.requestDevice();
const keep = setInterval(() => {}, 1000);
const wg = Number(process.argv[2]);
const m = device.createShaderModule({ code: `
      @group(0) @binding(0) var<storage, read_write> data: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
        if (g.x < arrayLength(&data)) { data[g.x] = data[g.x] * 2.0 + 1.0; }
      }` });
const p = device.createComputePipeline({ layout: 'auto', compute: { module: m, entryPoint: 'main' } });
for (let it = 0; it < 10; it++) {
  const b = device.createBuffer({ size: wg * 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: b } }] });
  const enc = device.createCommandEncoder(); const pass = enc.beginComputePass(); pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(wg); pass.end();
  const st = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(b, 0, st, 0, 16);
  device.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  process.stdout.write(it + ':' + new Float32Array(st.getMappedRange())[0] + ' ');
}
device.destroy(); clearInterval(keep);
