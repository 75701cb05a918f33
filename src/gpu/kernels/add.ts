/** Elementwise add (shaders/add.wgsl), and the dispatch sizing shared by the elementwise kernels. */
import source from '../../../shaders/add.wgsl?raw';
import type { Dispatch, GpuContext, TensorRef } from '../context';

export const ELEMENTWISE_WG_SIZE = 256;
/** 4096 workgroups (1M threads) fill any GPU; larger tensors loop inside the kernel (grid-stride). */
const MAX_ELEMENTWISE_WORKGROUPS = 4096;

/** Workgroups for a grid-stride elementwise kernel over `count` elements. */
export function elementwiseWorkgroups(count: number): number {
  return Math.max(1, Math.min(Math.ceil(count / ELEMENTWISE_WG_SIZE), MAX_ELEMENTWISE_WORKGROUPS));
}

/** out = a + b over `count` elements (overwrites out). */
export function addForward(ctx: GpuContext, args: { a: TensorRef; b: TensorRef; out: TensorRef; count: number }): Dispatch[] {
  const { a, b, out, count } = args;
  return [
    ctx.dispatch(
      'add',
      ctx.pipeline(source, 'add_forward', { WG_SIZE: ELEMENTWISE_WG_SIZE }),
      [a.buffer, b.buffer, out.buffer, Uint32Array.of(count, a.offset, b.offset, out.offset)],
      [elementwiseWorkgroups(count)],
    ),
  ];
}
