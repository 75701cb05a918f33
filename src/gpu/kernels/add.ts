/** Elementwise add (shaders/add.wgsl), and the workgroup size shared by the elementwise kernels. */
import source from '../../../shaders/add.wgsl?raw';
import { type Dispatch, type GpuContext, type TensorRef, gridStrideWorkgroups } from '../context';

export const ELEMENTWISE_WG_SIZE = 256;

/** out = a + b over `count` elements (overwrites out). */
export function addForward(ctx: GpuContext, args: { a: TensorRef; b: TensorRef; out: TensorRef; count: number }): Dispatch[] {
  const { a, b, out, count } = args;
  return [
    ctx.dispatch(
      'add',
      ctx.pipeline(source, 'add_forward', { WG_SIZE: ELEMENTWISE_WG_SIZE }),
      [a.buffer, b.buffer, out.buffer, Uint32Array.of(count, a.offset, b.offset, out.offset)],
      [gridStrideWorkgroups(ctx.device, count, ELEMENTWISE_WG_SIZE)],
    ),
  ];
}
