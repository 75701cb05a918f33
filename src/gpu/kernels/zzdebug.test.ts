import { it } from 'vitest';
import { Rng } from '../../util/rng';
import { GpuContext, encodeDispatches } from '../context';
import { nodeDevice } from '../node-device';
import { matmulForward } from './matmul';
import { placeTensor, randomFloats, readTensor } from './testing';

const keep: unknown[] = [];
it('dbg', async () => {
  const { device } = await nodeDevice();
  const ctx = new GpuContext(device);
  const [M, K, N] = (process.env.SHAPE ?? '37,29,51').split(',').map(Number);
  const rng = new Rng(Number(process.env.SEED ?? 1));
  const xs = randomFloats(rng, M * K), ws = randomFloats(rng, K * N), bs = randomFloats(rng, N);
  const out = placeTensor(ctx, 'o', randomFloats(rng, M * N), 3);
  const d = matmulForward(ctx, { x: placeTensor(ctx, 'x', xs, 5), w: placeTensor(ctx, 'w', ws, 1), bias: placeTensor(ctx, 'b', bs, 7), out, M, K, N });
  const what = process.env.KEEP ?? '';
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  encodeDispatches(pass, d);
  pass.end();
  const cb = encoder.finish();
  device.queue.submit([cb]);
  if (what.includes('enc')) keep.push(encoder);
  if (what.includes('pass')) keep.push(pass);
  if (what.includes('cb')) keep.push(cb);
  if (what.includes('disp')) keep.push(d);
  let s = 0;
  if (process.env.MODE === 'busy') { const t = Date.now(); while (Date.now() - t < 300) s += Math.sqrt(s + 1); }
  if (process.env.MODE === 'alloc') { for (let i = 0; i < 2000; i++) s += new Float64Array(10000).length; }
  if (process.env.MODE === 'small') { for (let i = 0; i < 2000000; i++) s += [i, i].length; }
  console.log(s > 0);
  const got = await readTensor(device, out, M * N);
  console.log('read', got[0]);
});
