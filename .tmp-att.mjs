import { create, globals } from 'webgpu';
import fs from 'fs';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice();
const code = fs.readFileSync('shaders/attention.wgsl','utf8');
const m = device.createShaderModule({code});
console.log((await m.getCompilationInfo()).messages.map(x=>x.message));
for (const e of process.argv.slice(2)) {
  device.pushErrorScope('validation');
  const t=performance.now();
  const p = device.createComputePipeline({layout:'auto', compute:{module:m, entryPoint:e, constants:{HEAD_DIM:Number(process.env.HD ?? 16), CHUNK:Number(process.env.CHUNK ?? 32)}}});
  console.log(e, await device.popErrorScope(), performance.now()-t);
}
process.exit(0);
