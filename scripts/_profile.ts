import { nodeDevice } from '../src/gpu/node-device';
import { GpuContext } from '../src/gpu/context';
import { genreMatchingDataset } from '../src/train/synthetic';
import { GpuModel, ParamState } from '../src/model/gpu-model';
import { packPrompts } from '../src/prompt/pack';
import { makeBatch } from '../src/prompt/batch';
const dataset = genreMatchingDataset({ users: 240, historyLength: 28, seed: 9 });
const prompts = packPrompts(dataset, { n: 8, k: 4, split: 'train' }).slice(0, 16);
const L = Math.max(...prompts.map(p => p.tokens.length));
const batch = makeBatch(prompts, { L, B: 16, n: 8, isolation: 'strict' });
const gpu = await nodeDevice();
const ctx = new GpuContext(gpu.device);
const config = { vocabSize: dataset.vocab.tokens.length, dModel: 32, nHeads: 2, nLayers: 2, dFF: 64, maxSeqLen: L, positionEncoding: 'rope' as const, seed: 1 };
const state = new ParamState(ctx, config);
const model = new GpuModel(state, { B: 16, L, maxTargets: 64, n: 8, isolation: 'strict' }, true);
await model.trainStep(batch, 1e-3);
const all = [...(model as any).forwardDispatches, ...(model as any).backwardDispatches, ...(model as any).optimizerDispatches];
const times = new Map<string, number>();
for (let rep = 0; rep < 3; rep++) for (const d of all) {
  const t = performance.now();
  const e = gpu.device.createCommandEncoder(); const p = e.beginComputePass(); p.setPipeline(d.pipeline); p.setBindGroup(0, d.bindGroup); p.dispatchWorkgroups(...d.workgroups); p.end(); gpu.device.queue.submit([e.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  times.set(d.label, (times.get(d.label) ?? 0) + (performance.now() - t) / 3);
}
const sorted = [...times.entries()].sort((a, b) => b[1] - a[1]);
let total = 0; for (const [, v] of sorted) total += v;
console.log('total per step ms', total.toFixed(1), 'dispatches', all.length, 'L', L);
for (const [k, v] of sorted.slice(0, 15)) console.log(v.toFixed(2).padStart(8), k);
