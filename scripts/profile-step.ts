/**
 * Per-kernel GPU time of one training step (timestamp queries, one compute pass per dispatch), to find what dominates.
 * `bash scripts/with-gpu.sh scripts/profile-step.ts [--d 32 --layers 2 --dff 64 --batch 16 --n 8 --k 4]`
 */
import { GpuContext } from '../src/gpu/context';
import { nodeDevice } from '../src/gpu/node-device';
import { GpuModel, ParamState } from '../src/model/gpu-model';
import { makeBatch } from '../src/prompt/batch';
import { packPrompts } from '../src/prompt/pack';
import { loadBuiltin } from '../src/data/index';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const d = arg('d', 64);
const nLayers = arg('layers', 2);
const dFF = arg('dff', 4 * d);
const B = arg('batch', 16);
const n = arg('n', 10);
const k = arg('k', 10);
const dataset = loadBuiltin('small').dataset;
const prompts = packPrompts(dataset, { n, k, split: 'train' }).slice(0, B);
const L = Math.max(...prompts.map((p) => p.tokens.length));
const batch = makeBatch(prompts, { L, B, n, isolation: 'strict' });
const gpu = await nodeDevice();
if (!gpu.features.timestampQuery) throw new Error('this adapter has no timestamp queries');
const ctx = new GpuContext(gpu.device);
const config = { vocabSize: dataset.vocab.tokens.length, dModel: d, nHeads: 4, nLayers, dFF, maxSeqLen: L, positionEncoding: 'rope' as const, forgetting: false, seed: 1 };
const model = new GpuModel(new ParamState(ctx, config), { B, L, maxTargets: B * k, n, isolation: 'strict' }, true);
await model.trainStep([batch], 1e-3);
const dispatches = model.allDispatches();
const querySet = gpu.device.createQuerySet({ type: 'timestamp', count: 2 * dispatches.length });
const resolve = gpu.device.createBuffer({ size: 16 * dispatches.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const read = gpu.device.createBuffer({ size: 16 * dispatches.length, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const encoder = gpu.device.createCommandEncoder();
dispatches.forEach((dispatch, i) => {
  const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
  pass.setPipeline(dispatch.pipeline);
  pass.setBindGroup(0, dispatch.bindGroup);
  pass.dispatchWorkgroups(...dispatch.workgroups);
  pass.end();
});
encoder.resolveQuerySet(querySet, 0, 2 * dispatches.length, resolve, 0);
encoder.copyBufferToBuffer(resolve, 0, read, 0, 16 * dispatches.length);
const wall = performance.now();
gpu.device.queue.submit([encoder.finish()]);
await read.mapAsync(GPUMapMode.READ);
const wallMs = performance.now() - wall;
const times = new BigInt64Array(read.getMappedRange());
const byLabel = new Map<string, { ms: number; count: number }>();
let total = 0;
dispatches.forEach((dispatch, i) => {
  const ms = Number(times[2 * i + 1] - times[2 * i]) / 1e6;
  total += ms;
  const entry = byLabel.get(dispatch.label) ?? { ms: 0, count: 0 };
  byLabel.set(dispatch.label, { ms: entry.ms + ms, count: entry.count + 1 });
});
console.log(`B=${B} L=${L} d=${d} layers=${nLayers} dFF=${dFF}: ${dispatches.length} dispatches, GPU ${total.toFixed(1)} ms, wall ${wallMs.toFixed(1)} ms`);
for (const [label, { ms, count }] of [...byLabel.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`${ms.toFixed(2).padStart(9)} ms  ${String(count).padStart(3)}×  ${label}`);
}
