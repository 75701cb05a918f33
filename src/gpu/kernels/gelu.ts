/** GELU (tanh approximation) forward and backward (shaders/gelu.wgsl). */
import source from '../../../shaders/gelu.wgsl?raw';
import { type Dispatch, type GpuContext, type TensorRef, gridStrideWorkgroups } from '../context';
import { ELEMENTWISE_WG_SIZE } from './add';

function pipeline(ctx: GpuContext, entryPoint: string): GPUComputePipeline {
  return ctx.pipeline(source, entryPoint, { WG_SIZE: ELEMENTWISE_WG_SIZE });
}

/** out = gelu(x) over `count` elements (overwrites out). */
export function geluForward(ctx: GpuContext, args: { x: TensorRef; out: TensorRef; count: number }): Dispatch[] {
  const { x, out, count } = args;
  return [
    ctx.dispatch(
      'gelu forward',
      pipeline(ctx, 'gelu_forward'),
      [x.buffer, out.buffer, Uint32Array.of(count, x.offset, 0, out.offset)],
      [gridStrideWorkgroups(ctx.device, count, ELEMENTWISE_WG_SIZE)],
    ),
  ];
}

/** Accumulates dx += dout · gelu'(x) over `count` elements. */
export function geluBackward(
  ctx: GpuContext,
  args: { x: TensorRef; dout: TensorRef; dx: TensorRef; count: number },
): Dispatch[] {
  const { x, dout, dx, count } = args;
  return [
    ctx.dispatch(
      'gelu backward',
      pipeline(ctx, 'gelu_backward'),
      [x.buffer, dx.buffer, Uint32Array.of(count, x.offset, dout.offset, dx.offset), dout.buffer],
      [gridStrideWorkgroups(ctx.device, count, ELEMENTWISE_WG_SIZE)],
    ),
  ];
}
