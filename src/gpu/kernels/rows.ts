/** Rows by index (shaders/rows.wgsl): a batch's target rows out of its B·L rows, and back. */
import source from '../../../shaders/rows.wgsl?raw';
import { type Dispatch, type GpuContext, type TensorRef, gridStrideWorkgroups } from '../context';

const WORKGROUP = 256; // WG in rows.wgsl

export interface RowsArgs {
  x: TensorRef;
  out: TensorRef;
  index: TensorRef; // i32 [maxRows]: distinct flat rows (a batch's targetIndex)
  count: TensorRef; // u32: the number of rows this step (targetCount[0]), at most maxRows
  maxRows: number;
  d: number;
}

function rowsDispatch(ctx: GpuContext, entry: 'gather_rows' | 'scatter_add_rows', args: RowsArgs): Dispatch {
  const { x, out, index, count, maxRows, d } = args;
  const params = Uint32Array.of(d, maxRows, x.offset, out.offset, index.offset, count.offset);
  return ctx.dispatch(entry.replace(/_/g, ' '), ctx.pipeline(source, entry), [x.buffer, out.buffer, index.buffer, count.buffer, params], [
    gridStrideWorkgroups(ctx.device, maxRows * d, WORKGROUP),
  ]);
}

/** out[i] = x[index[i]] for the count rows, 0 for the rest of out's maxRows rows (overwrites out). */
export function gatherRows(ctx: GpuContext, args: RowsArgs): Dispatch[] {
  return [rowsDispatch(ctx, 'gather_rows', args)];
}

/** out[index[i]] += x[i] for the count rows (accumulates; out has the full row count). */
export function scatterAddRows(ctx: GpuContext, args: RowsArgs): Dispatch[] {
  return [rowsDispatch(ctx, 'scatter_add_rows', args)];
}
