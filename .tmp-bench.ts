import fs from 'fs';
import { maskRanges } from './src/prompt/ranges';
import { packMeta, ROLE_ITEM, ROLE_SUM, ROLE_LABEL, type Role, type IsolationLevel } from './src/prompt/types';
import { Rng } from './src/util/rng';

const file = process.argv[2];
const consts = JSON.parse(process.argv[3] ?? '{}');
const TILE = Number(/const TILE: u32 = (\d+)u;/.exec(fs.readFileSync(file, 'utf8'))![1]);
const webgpu = (await import('webgpu')) as any;
Object.assign(globalThis, webgpu.globals);
const gpu = webgpu.create([]);
(globalThis as any).keep = gpu;
const adapter = await gpu.requestAdapter();
const device: GPUDevice = await adapter.requestDevice({ requiredLimits: { maxStorageBuffersPerShaderStage: 12 } });
device.addEventListener('uncapturederror', (e: any) => console.error(e.error.message));
const module = device.createShaderModule({ code: fs.readFileSync(file, 'utf8') });
const B = 4, L = 128, H = 4, hd = 16, d = H * hd;
for (const level of ['strict', 'full-causal'] as IsolationLevel[]) {
  const rng = new Rng(9);
  const meta = new Uint32Array(B * L), positions = new Int32Array(B * L);
  for (let b = 0; b < B; b++) { let t = 0; for (let i = 0; t < L; i++) { const roles: Role[] = [...Array<Role>(1 + rng.int(4)).fill(ROLE_ITEM), ROLE_SUM, ROLE_LABEL]; for (const r of roles) { if (t >= L) break; meta[b * L + t] = packMeta(i, r); positions[b * L + t] = t; t++; } } }
  const { keyStart, queryEnd } = maskRanges(meta, B, L, 4, level);
  const buf = (a: ArrayBufferView, u = GPUBufferUsage.STORAGE) => { const b = device.createBuffer({ size: Math.max(16, a.byteLength), usage: u | GPUBufferUsage.COPY_DST }); device.queue.writeBuffer(b, 0, a as any); return b; };
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const mk = (range: Int32Array) => { const p = new Uint32Array(16); p.set([B, L, H, 4, level === 'strict' ? 3 : 0, 1]); new Float32Array(p.buffer)[6] = 0.25; return buf(p, GPUBufferUsage.UNIFORM); };
  const qkv = buf(rand(B * L * 3 * d)), mb = buf(meta), pb = buf(positions), ks = buf(keyStart), qe = buf(queryEnd);
  const out = buf(new Float32Array(B * L * d)), lse = buf(new Float32Array(B * H * L)), dout = buf(rand(B * L * d)), D = buf(new Float32Array(B * H * L)), dqkv = buf(new Float32Array(B * L * 3 * d));
  const pipe = (e: string) => device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: e, constants: { HEAD_DIM: hd, ...consts } } });
  const disp = (e: string, res: GPUBuffer[]) => { const p = pipe(e); return { p, bg: device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: res.map((b, i) => ({ binding: i, resource: { buffer: b } })) }) }; };
  const fwd = disp('attention_forward', [mk(keyStart), qkv, mb, pb, ks, out, lse]);
  const dq = disp('attention_backward_dq', [mk(keyStart), qkv, mb, pb, ks, dout, lse, D, dqkv]);
  const dkv = disp('attention_backward_dkv', [mk(queryEnd), qkv, mb, pb, qe, dout, lse, D, dqkv]);
  const time = async (d: { p: GPUComputePipeline; bg: GPUBindGroup }) => {
    const run = (n: number) => { const enc = device.createCommandEncoder(); for (let i = 0; i < n; i++) { const pass = enc.beginComputePass(); pass.setPipeline(d.p); pass.setBindGroup(0, d.bg); pass.dispatchWorkgroups(Math.ceil(L / TILE), H, B); pass.end(); } device.queue.submit([enc.finish()]); };
    run(2); await device.queue.onSubmittedWorkDone();
    let best = Infinity, bestCpu = Infinity; for (let k = 0; k < 7; k++) { const t = performance.now(); const c0 = process.cpuUsage(); run(3); await device.queue.onSubmittedWorkDone(); const c = process.cpuUsage(c0); best = Math.min(best, (performance.now() - t) / 3); bestCpu = Math.min(bestCpu, (c.user + c.system) / 3000); } return best.toFixed(1) + '/' + bestCpu.toFixed(1);
  };
  console.log(level, 'fwd', await time(fwd), 'dq', await time(dq), 'dkv', await time(dkv));
}
process.exit(0);
