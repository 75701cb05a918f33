/** Acquiring a WebGPU device, in a browser (navigator.gpu) or in Node (the `webgpu` package's Dawn bindings). */

export class WebGpuUnavailableError extends Error {
  constructor(reason: string) {
    super(
      `WebGPU is not available: ${reason}. Use a recent Chrome or Edge (WebGPU is on by default), Firefox 141+ on Windows, ` +
        `or Safari 26+; on Linux Chrome may need chrome://flags/#enable-unsafe-webgpu. Data, prompts and masks still work without it.`,
    );
    this.name = 'WebGpuUnavailableError';
  }
}

/** Devices whose adapter runs on the CPU (SwiftShader, llvmpipe/lavapipe, fallback adapters). */
const softwareDevices = new WeakSet<GPUDevice>();

/**
 * CPU implementations pay a large fixed cost per workgroup and per barrier, so a few kernels pick fatter workgroups
 * there; on real GPUs they keep the layouts that fill the machine.
 */
export function isSoftwareDevice(device: GPUDevice): boolean {
  return softwareDevices.has(device);
}

/** Sets which kernel layouts a device gets (acquireDevice decides; tests switch it to cover both layouts). */
export function markSoftwareDevice(device: GPUDevice, software: boolean): void {
  if (software) softwareDevices.add(device);
  else softwareDevices.delete(device);
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapterInfo: string;
  software: boolean;
  features: { subgroups: boolean; shaderF16: boolean; timestampQuery: boolean };
}

/** Optional features are requested only when the adapter offers them; the f32 paths never depend on them. */
export async function acquireDevice(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<AcquiredDevice> {
  if (!gpu) throw new WebGpuUnavailableError('this browser does not expose navigator.gpu');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGpuUnavailableError('no GPU adapter was found (the GPU may be blocklisted or disabled)');
  const wanted: GPUFeatureName[] = ['subgroups', 'shader-f16', 'timestamp-query'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // Ask for the adapter's full buffer limits: the defaults (128 MiB bindings) are lower than most GPUs allow.
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info;
  const adapterInfo = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
  const software =
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(adapterInfo);
  markSoftwareDevice(device, software);
  return {
    device,
    adapterInfo,
    software,
    features: {
      subgroups: device.features.has('subgroups'),
      shaderF16: device.features.has('shader-f16'),
      timestampQuery: device.features.has('timestamp-query'),
    },
  };
}
