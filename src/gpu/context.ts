/**
 * Pipelines are compiled once per (shader, entry point, constants) and cached; every dispatch of a training step is
 * prepared once per run (bind groups and uniforms included) so the step itself only records commands.
 */

import { isSoftwareDevice } from './device';

/**
 * A tensor inside a GPU buffer; `offset` counts f32 (or i32/u32) elements. Kernels add the offset themselves, because
 * binding offsets must be 256-byte aligned and parameter tensors sit at arbitrary offsets of one flat buffer.
 */
export interface TensorRef {
  buffer: GPUBuffer;
  offset: number;
}

export function tensorRef(buffer: GPUBuffer, offset = 0): TensorRef {
  return { buffer, offset };
}

/** Every WebGPU device allows 65535 workgroups per dimension; grid-stride kernels loop past that. */
const MAX_WORKGROUPS = 65535;
/**
 * Workgroups of a software device (SwiftShader) for grid-stride kernels: it runs them on a few CPU threads and pays
 * a fixed cost per invocation, so fewer threads each looping over many items are faster (GELU over 483k elements:
 * 2.2× faster with 32 workgroups of 256 than with one thread per element, `scripts/profile-step.ts`, 2026-11-28).
 */
const SOFTWARE_GRID_WORKGROUPS = 32;

/**
 * Workgroups for a grid-stride kernel over `count` items (thread i handles items i, i + grid, ...; every kernel gives
 * the same result whatever the grid): one thread per item on GPUs, up to the device limit; a few on software devices.
 */
export function gridStrideWorkgroups(device: GPUDevice, count: number, workgroupSize: number): number {
  const cap = isSoftwareDevice(device) ? SOFTWARE_GRID_WORKGROUPS : MAX_WORKGROUPS;
  return Math.max(1, Math.min(cap, Math.ceil(count / workgroupSize)));
}

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/** Compiled pipelines per device, shared by every context on it: compiling is slow, and runs rebuild contexts. */
const pipelineCaches = new WeakMap<GPUDevice, { pipelines: Map<string, GPUComputePipeline>; modules: Map<string, GPUShaderModule> }>();

export class GpuContext {
  private readonly pipelines: Map<string, GPUComputePipeline>;
  private readonly modules: Map<string, GPUShaderModule>;
  /** Buffers this context created (uniforms and the like), destroyed with it. */
  private readonly owned: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {
    let cache = pipelineCaches.get(device);
    if (!cache) {
      cache = { pipelines: new Map(), modules: new Map() };
      pipelineCaches.set(device, cache);
    }
    this.pipelines = cache.pipelines;
    this.modules = cache.modules;
  }

  pipeline(
    source: string,
    entryPoint: string,
    constants: Record<string, number> = {},
  ): GPUComputePipeline {
    const key = `${entryPoint}|${JSON.stringify(constants)}|${source}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      let module = this.modules.get(source);
      if (!module) {
        module = this.device.createShaderModule({ code: source });
        this.modules.set(source, module);
      }
      pipeline = this.device.createComputePipeline({
        label: entryPoint,
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * Builds one dispatch. `resources` are bound in order as @binding(0..) of @group(0); a Uint32Array/Float32Array
   * entry becomes a uniform buffer holding those values (pack u32 and f32 fields into a Uint32Array via a shared
   * ArrayBuffer when a struct mixes them).
   */
  dispatch(
    label: string,
    pipeline: GPUComputePipeline,
    resources: (GPUBuffer | Uint32Array | Float32Array | Int32Array)[],
    workgroups: [number, number?, number?],
  ): Dispatch {
    const entries: GPUBindGroupEntry[] = resources.map((r, binding) => ({
      binding,
      resource: { buffer: ArrayBuffer.isView(r) ? this.uniform(r, label) : r },
    }));
    const bindGroup = this.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
    const [x, y = 1, z = 1] = workgroups;
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) {
      throw new Error(`${label}: dispatch of ${x}×${y}×${z} workgroups exceeds the device limit of ${limit} per dimension`);
    }
    return { label, pipeline, bindGroup, workgroups: [x, y, z] };
  }

  uniform(data: ArrayBufferView, label = 'uniform'): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const buffer = this.device.createBuffer({ label, size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    this.owned.push(buffer);
    return buffer;
  }

  /** A storage buffer of `bytes` (rounded up to 16), optionally initialised from `data`. */
  storage(label: string, bytes: number, data?: ArrayBufferView, extraUsage = 0): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    if (size > maxBinding) {
      throw new Error(
        `${label} needs ${(size / 2 ** 20).toFixed(1)} MiB but this GPU binds at most ${(maxBinding / 2 ** 20).toFixed(1)} MiB per buffer; ` +
          `lower the batch size, the sequence length (n + k) or the model width`,
      );
    }
    const buffer = this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    });
    if (data) this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    this.owned.push(buffer);
    return buffer;
  }

  /** A buffer the CPU maps to read results back, owned (and destroyed) by this context. */
  readback(label: string, bytes: number): GPUBuffer {
    const buffer = this.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.owned.push(buffer);
    return buffer;
  }

  /** Bytes of the storage buffers this context owns (what estimateMemory in src/model predicts for a model). */
  storageBytes(): number {
    let bytes = 0;
    for (const b of this.owned) if (b.usage & GPUBufferUsage.STORAGE) bytes += b.size;
    return bytes;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}

/** Copies a buffer back to the CPU (tests and final reads only: never once per training step). */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes = buffer.size): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return copy;
}

export async function readFloats(device: GPUDevice, buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, buffer, Math.ceil((count * 4) / 4) * 4)).slice(0, count);
}

/** Records and submits dispatches in one compute pass. */
export function submitDispatches(device: GPUDevice, dispatches: readonly Dispatch[]): void {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  encodeDispatches(pass, dispatches);
  pass.end();
  device.queue.submit([encoder.finish()]);
}
