import source from '../../../shaders/adamw.wgsl?raw';
import { type Dispatch, type GpuContext, type TensorRef, gridStrideWorkgroups } from '../context';

const WORKGROUP = 256; // WG in adamw.wgsl
/** The `Hyper` uniform of adamw.wgsl: 8 f32. */
const HYPER_FLOATS = 8;

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for the bias corrections. */
  step: number;
  /** Global gradient-norm clip; 0 disables clipping. */
  maxGradNorm: number;
}

/** The per-step hyperparameter uniform; rewrite it with writeAdamHyper before each step's submission. */
export function createAdamHyper(ctx: GpuContext): GPUBuffer {
  return ctx.uniform(new Float32Array(HYPER_FLOATS), 'adamw.hyper');
}

/** Bias corrections are computed here in f64, so the kernel never evaluates β^t. */
export function writeAdamHyper(device: GPUDevice, hyper: GPUBuffer, opts: AdamHyper): void {
  const { lr, beta1, beta2, eps, weightDecay, step, maxGradNorm } = opts;
  const data = new Float32Array([
    lr,
    beta1,
    beta2,
    eps,
    weightDecay,
    1 - Math.pow(beta1, step),
    1 - Math.pow(beta2, step),
    maxGradNorm,
  ]);
  device.queue.writeBuffer(hyper, 0, data);
}

export interface AdamwStepArgs {
  params: TensorRef;
  grads: TensorRef;
  m: TensorRef;
  v: TensorRef;
  count: number;
  /** Weight decay applies to [0, decayedCount) (the matrices). */
  decayedCount: number;
  hyper: GPUBuffer; // from createAdamHyper
  norm: TensorRef; // [2] written by gradNorm earlier in the same submission
}

/** One AdamW update of `count` parameters; a no-op when the norm's non-finite flag is set. */
export function adamwStep(ctx: GpuContext, args: AdamwStepArgs): Dispatch[] {
  const { params, grads, m, v, count, decayedCount, hyper, norm } = args;
  const shape = new Uint32Array([count, decayedCount, params.offset, grads.offset, m.offset, v.offset, norm.offset]);
  const workgroups = gridStrideWorkgroups(ctx.device, count, WORKGROUP);
  return [
    ctx.dispatch(
      'adamw.step',
      ctx.pipeline(source, 'step'),
      [shape, hyper, params.buffer, grads.buffer, m.buffer, v.buffer, norm.buffer],
      [workgroups],
    ),
  ];
}
