/** RMSNorm forward and backward (shaders/rmsnorm.wgsl); eps 1e-5. */
import source from '../../../shaders/rmsnorm.wgsl?raw';
import type { Dispatch, GpuContext, TensorRef } from '../context';
import { isSoftwareDevice } from '../device';
import { reduceInChunks, rowsPerChunk } from './matmul';

/**
 * GPUs: 4 rows × 16 threads per workgroup, so one barrier serves 4 rows and 16 neighbouring threads read each row.
 * CPU adapters: 64 rows × 1 thread, because their cost is per workgroup (measured 20-70 µs each on SwiftShader).
 */
function layout(ctx: GpuContext): { ROWS_PER_WG: number; THREADS_PER_ROW: number } {
  return isSoftwareDevice(ctx.device) ? { ROWS_PER_WG: 64, THREADS_PER_ROW: 1 } : { ROWS_PER_WG: 4, THREADS_PER_ROW: 16 };
}

function pipeline(ctx: GpuContext, entryPoint: string, accumulate = false): GPUComputePipeline {
  return ctx.pipeline(source, entryPoint, { ...layout(ctx), ACCUMULATE: +accumulate });
}

/** The shader's Params struct; unused offsets are 0. */
function uniform(
  rows: number,
  d: number,
  offsets: { x: number; w?: number; rstd: number; dout?: number; result: number },
  chunkRows = 0,
): Uint32Array {
  return Uint32Array.of(rows, d, offsets.x, offsets.w ?? 0, offsets.rstd, offsets.dout ?? 0, offsets.result, chunkRows);
}

/** out = x · rstd · w row by row, rstd[r] = 1/sqrt(mean(x[r]²) + eps) (overwrites out and rstd). */
export function rmsnormForward(
  ctx: GpuContext,
  args: { x: TensorRef; w: TensorRef; out: TensorRef; rstd: TensorRef; rows: number; d: number },
): Dispatch[] {
  const { x, w, out, rstd, rows, d } = args;
  const { ROWS_PER_WG } = layout(ctx);
  const params = uniform(rows, d, { x: x.offset, w: w.offset, rstd: rstd.offset, result: out.offset });
  return [
    ctx.dispatch('rmsnorm forward', pipeline(ctx, 'rmsnorm_forward'), [x.buffer, w.buffer, rstd.buffer, out.buffer, params], [
      Math.ceil(rows / ROWS_PER_WG),
    ]),
  ];
}

/** Accumulates dx += ∂loss/∂x and dw += ∂loss/∂w, using the rstd saved by the forward pass. */
export function rmsnormBackward(
  ctx: GpuContext,
  args: {
    dout: TensorRef;
    x: TensorRef;
    w: TensorRef;
    rstd: TensorRef;
    dx: TensorRef;
    dw: TensorRef;
    rows: number;
    d: number;
  },
): Dispatch[] {
  const { dout, x, w, rstd, dx, dw, rows, d } = args;
  const { ROWS_PER_WG, THREADS_PER_ROW } = layout(ctx);
  const dxParams = uniform(rows, d, { x: x.offset, w: w.offset, rstd: rstd.offset, dout: dout.offset, result: dx.offset });
  const dxDispatch = ctx.dispatch(
    'rmsnorm dx',
    pipeline(ctx, 'rmsnorm_backward_dx'),
    [x.buffer, dout.buffer, rstd.buffer, dx.buffer, dxParams, w.buffer],
    [Math.ceil(rows / ROWS_PER_WG)],
  );
  // dw sums over all rows: partial sums over row chunks (one thread per column and chunk), then a column sum.
  const chunkRows = rowsPerChunk(rows);
  const chunks = Math.ceil(rows / chunkRows);
  const dwDispatches = reduceInChunks(ctx, 'rmsnorm dw', chunks, d, dw, (target, accumulate) => [
    ctx.dispatch(
      'rmsnorm dw',
      pipeline(ctx, 'rmsnorm_backward_dw', accumulate),
      [
        x.buffer,
        dout.buffer,
        rstd.buffer,
        target.buffer,
        uniform(rows, d, { x: x.offset, rstd: rstd.offset, dout: dout.offset, result: target.offset }, chunkRows),
      ],
      [Math.ceil(d / (ROWS_PER_WG * THREADS_PER_ROW)), chunks],
    ),
  ]);
  return [dxDispatch, ...dwDispatches];
}
