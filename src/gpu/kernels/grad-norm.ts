import source from '../../../shaders/grad_norm.wgsl?raw';
import type { Dispatch, GpuContext, TensorRef } from '../context';

const WORKGROUP = 256; // WG in grad_norm.wgsl
/**
 * Cap on first-pass workgroups (each loops grid-stride beyond it): enough to fill a large GPU, and few enough that the
 * single finishing workgroup has little to read.
 */
const MAX_PARTIALS = 1024;
/** Each first-pass thread sums at least this many gradients: workgroups cost a fixed overhead (large on CPU adapters). */
const MIN_PER_THREAD = 64;

export interface GradNormArgs {
  grads: TensorRef; // f32 [count]
  count: number;
  out: TensorRef; // f32 [2]: ‖g‖₂, then 1.0 if any gradient is NaN/Inf else 0.0
}

/** Two deterministic passes: per-workgroup partial sums into a scratch buffer (allocated here), then one workgroup. */
export function gradNorm(ctx: GpuContext, args: GradNormArgs): Dispatch[] {
  const { grads, count, out } = args;
  const partialCount = Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(count / (WORKGROUP * MIN_PER_THREAD))));
  const partials = ctx.storage('gradNorm.partials', partialCount * 2 * 4);
  const shape = new Uint32Array([count, grads.offset, partialCount, out.offset]);
  const firstPass = ctx.pipeline(source, 'partial_sums');
  return [
    ctx.dispatch('gradNorm.partials', firstPass, [shape, grads.buffer, partials], [partialCount]),
    ctx.dispatch('gradNorm.finish', ctx.pipeline(source, 'finish'), [shape, partials, out.buffer], [1]),
  ];
}
