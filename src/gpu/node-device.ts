/**
 * WebGPU in Node through the `webgpu` package (Dawn). Used by tests, benchmarks and the headless runner only;
 * never imported by the browser bundle. On CPU-only Linux it runs on SwiftShader (bundled with Debian's chromium) when
 * VK_ICD_FILENAMES points at its ICD; scripts/gpu-env.sh sets that up.
 */
import { acquireDevice, type AcquiredDevice } from './device';

let cached: Promise<AcquiredDevice> | null = null;
/** Module-level on purpose: if Dawn's GPU object is garbage-collected, waits on the device crash the process. */
let instance: GPU | null = null;

export async function nodeDevice(): Promise<AcquiredDevice> {
  if (!cached) {
    cached = (async () => {
      const webgpu = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU; globals: object };
      Object.assign(globalThis, webgpu.globals);
      instance = webgpu.create([]);
      return acquireDevice(instance);
    })();
  }
  return cached;
}
