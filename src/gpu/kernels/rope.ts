import source from '../../../shaders/rope.wgsl?raw';
import { ROPE_BASE } from '../../model/config';
import { type Dispatch, type GpuContext, type TensorRef, gridStrideWorkgroups } from '../context';

const WORKGROUP = 64; // WG in rope.wgsl

export interface RopeForwardArgs {
  qkv: TensorRef; // [rows, 3d], q and k parts rotated in place
  positions: TensorRef; // i32 [rows]
  rows: number;
  nHeads: number;
  headDim: number;
}

export interface RopeBackwardArgs {
  dqkv: TensorRef; // [rows, 3d], q and k parts rotated back in place
  positions: TensorRef; // i32 [rows]
  rows: number;
  nHeads: number;
  headDim: number;
}

/** Rotates q and k of every head in place: pairs (2i, 2i+1) by position · 10000^(-2i/hd). */
export function ropeForward(ctx: GpuContext, args: RopeForwardArgs): Dispatch[] {
  return [rope(ctx, 'rope_forward', args.qkv, args)];
}

/** The transpose of ropeForward (rotation by the opposite angle), in place on the gradient; not an accumulation. */
export function ropeBackward(ctx: GpuContext, args: RopeBackwardArgs): Dispatch[] {
  return [rope(ctx, 'rope_backward', args.dqkv, args)];
}

function rope(
  ctx: GpuContext,
  entry: 'rope_forward' | 'rope_backward',
  target: TensorRef,
  args: { positions: TensorRef; rows: number; nHeads: number; headDim: number },
): Dispatch {
  const { positions, rows, nHeads, headDim } = args;
  if (headDim % 2 !== 0 || headDim < 2) throw new Error(`${entry}: RoPE needs an even head dimension, got ${headDim}`);
  const half = headDim / 2;
  // Frequencies in f64 on the CPU, rounded once to f32 (see the precision note in rope.wgsl).
  const inverseFrequency = Float32Array.from({ length: half }, (_, i) => Math.pow(ROPE_BASE, (-2 * i) / headDim));
  const frequencies = ctx.storage('rope.inverseFrequency', inverseFrequency.byteLength, inverseFrequency);
  const total = rows * nHeads * half;
  const shape = new Uint32Array([total, nHeads, headDim, target.offset, positions.offset, 0, 0, 0]);
  const groups = gridStrideWorkgroups(ctx.device, total, WORKGROUP);
  return ctx.dispatch(entry.replace('_', '.'), ctx.pipeline(source, entry), [shape, positions.buffer, frequencies, target.buffer], [groups]);
}
