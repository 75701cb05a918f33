import { describe, expect, it } from 'vitest';
import { nodeDevice } from './node-device';
import { GpuContext, readFloats, submitDispatches } from './context';

describe('Node WebGPU device', () => {
  it('runs a compute shader and reads the result back', async () => {
    const { device } = await nodeDevice();
    const ctx = new GpuContext(device);
    const source = /* wgsl */ `
      @group(0) @binding(0) var<storage, read_write> data: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
        if (g.x < arrayLength(&data)) { data[g.x] = data[g.x] * 2.0 + 1.0; }
      }`;
    const input = Float32Array.from({ length: 100 }, (_, i) => i);
    const buffer = ctx.storage('data', input.byteLength, input);
    submitDispatches(device, [ctx.dispatch('double', ctx.pipeline(source, 'main'), [buffer], [2])]);
    const out = await readFloats(device, buffer, 100);
    expect(Array.from(out)).toEqual(Array.from(input, (x) => x * 2 + 1));
    ctx.destroy();
  });
});
