// TEMPORARY (dev only): retains the GPU instance that node-device.ts lets the GC collect.
let keep: unknown;
export async function devDevice(): Promise<{ device: GPUDevice }> {
  const webgpu = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU; globals: object };
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  keep = gpu;
  const adapter = (await gpu.requestAdapter())!;
  const device = await adapter.requestDevice({ requiredLimits: { maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage, maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize } });
  (globalThis as Record<string, unknown>).__keepGpu = keep;
  return { device };
}
