import { create, globals } from 'webgpu';
import { readFileSync } from 'node:fs';
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter();
const device = await adapter.requestDevice();
const entry = process.argv[2];
const src = process.argv[3] === 'nostride' ? readFileSync(`shaders/embedding.wgsl`, 'utf8').replaceAll('i += nwg.x * WG', 'i += 1000000000u') : readFileSync(`shaders/embedding.wgsl`, 'utf8');
const m = device.createShaderModule({ code: src });
const p = device.createComputePipeline({ layout: 'auto', compute: { module: m, entryPoint: entry } });
const buf = (data, usage = GPUBufferUsage.STORAGE) => { const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: usage | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC }); device.queue.writeBuffer(b, 0, data); return b; };
const rows = 157, d = 37;
for (let it = 0; it < 10; it++) {
const u = buf(new Uint32Array([rows*d, d, 0, 0, 0, 0, 0, 0]), GPUBufferUsage.UNIFORM);
const res = [u, buf(new Int32Array(rows)), buf(new Float32Array(rows*d).fill(1)), buf(new Float32Array(rows*d))];
if (entry === 'forward_positions') res.push(buf(new Int32Array(rows)), buf(new Float32Array(rows*d).fill(2)));
const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: res.map((b, i) => ({ binding: i, resource: { buffer: b } })) });
const enc = device.createCommandEncoder(); const pass = enc.beginComputePass(); pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(23); pass.end();
const st = device.createBuffer({ size: 48, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
enc.copyBufferToBuffer(res[3], 0, st, 0, 48);
device.queue.submit([enc.finish()]);
await st.mapAsync(GPUMapMode.READ);
console.log(it, new Float32Array(st.getMappedRange())[0]);
}
device.destroy();
