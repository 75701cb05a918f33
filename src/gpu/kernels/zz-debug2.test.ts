import { it } from 'vitest';
import { GpuContext, readFloats } from '../context';
import { nodeDevice } from '../node-device';
it('dbg2', async () => {
  const { device } = await nodeDevice();
  const ctx = new GpuContext(device);
  const b = ctx.storage('x', 4000, new Float32Array(1000).fill(1));
  for (let i = 0; i < 20; i++) { await readFloats(device, b, 1000); console.log('read', i); }
});
