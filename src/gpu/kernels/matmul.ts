/**
 * Matmul forward and backward (shaders/matmul.wgsl), plus the deterministic column sums that bias gradients and
 * chunked reductions share (also used by rmsnorm's weight gradient).
 */
import source from '../../../shaders/matmul.wgsl?raw';
import type { Dispatch, GpuContext, TensorRef } from '../context';

/** Threads per matmul workgroup. */
const WG_X = 8;
const WG_Y = 8;
/** Outputs per thread along each axis (fixed in matmul.wgsl): a workgroup covers 64×64 outputs. */
const BLOCK = 8;
/** Threads per column_sum workgroup (one thread per column). */
const SUM_WG = 64;
/**
 * dW = xᵀ·dy reduces over all M rows while its output can be small (K×N): below this many threads the reduction is
 * split over row chunks (workgroup z) so that a GPU has enough parallel work.
 */
const TARGET_THREADS = 16384;
/** The smallest row chunk worth a split of dW's reduction. */
const MIN_CHUNK_ROWS = 256;

type MatmulForm = 'matmul_nn' | 'matmul_nt' | 'matmul_tn';

interface Product {
  a: TensorRef;
  b: TensorRef;
  bias: TensorRef | null;
  out: TensorRef;
  rows: number;
  cols: number;
  depth: number;
  /** Depth split: chunk z writes its partial product at out + z·rows·cols. */
  depthPerChunk: number;
  accumulate: boolean;
}

function productDispatch(ctx: GpuContext, label: string, form: MatmulForm, p: Product): Dispatch {
  const pipeline = ctx.pipeline(source, form, { WG_X, WG_Y, ACCUMULATE: +p.accumulate, HAS_BIAS: +(p.bias !== null) });
  const uniform = Uint32Array.of(
    p.rows,
    p.cols,
    p.depth,
    p.depthPerChunk,
    p.a.offset,
    p.b.offset,
    p.bias?.offset ?? 0,
    p.out.offset,
  );
  // Without a bias the binding is unused; `a` fills it (two read-only bindings of one buffer are allowed).
  const resources = [p.a.buffer, p.b.buffer, (p.bias ?? p.a).buffer, p.out.buffer, uniform];
  return ctx.dispatch(label, pipeline, resources, [
    Math.ceil(p.cols / (BLOCK * WG_X)),
    Math.ceil(p.rows / (BLOCK * WG_Y)),
    Math.ceil(p.depth / p.depthPerChunk),
  ]);
}

export function matmulFlops(M: number, K: number, N: number): number {
  return 2 * M * K * N;
}

/** out[M,N] = x[M,K] @ w[K,N] + bias[N] (overwrites out). */
export function matmulForward(
  ctx: GpuContext,
  args: { x: TensorRef; w: TensorRef; bias: TensorRef | null; out: TensorRef; M: number; K: number; N: number },
): Dispatch[] {
  const { x, w, bias, out, M, K, N } = args;
  return [
    productDispatch(ctx, 'matmul forward', 'matmul_nn', {
      a: x,
      b: w,
      bias,
      out,
      rows: M,
      cols: N,
      depth: K,
      depthPerChunk: K,
      accumulate: false,
    }),
  ];
}

/** Accumulates dx += dout @ wᵀ (when dx is given), dw += xᵀ @ dout and dbias += column sums of dout (when given). */
export function matmulBackward(
  ctx: GpuContext,
  args: {
    dout: TensorRef;
    x: TensorRef;
    w: TensorRef;
    dx: TensorRef | null;
    dw: TensorRef;
    dbias: TensorRef | null;
    M: number;
    K: number;
    N: number;
  },
): Dispatch[] {
  const { dout, x, w, dx, dw, dbias, M, K, N } = args;
  const dispatches: Dispatch[] = [];
  if (dx) {
    dispatches.push(
      productDispatch(ctx, 'matmul dx', 'matmul_nt', {
        a: dout,
        b: w,
        bias: null,
        out: dx,
        rows: M,
        cols: K,
        depth: N,
        depthPerChunk: N,
        accumulate: true,
      }),
    );
  }
  const blocks = Math.ceil(K / BLOCK) * Math.ceil(N / BLOCK);
  const wantedChunks = Math.min(Math.ceil(TARGET_THREADS / blocks), Math.floor(M / MIN_CHUNK_ROWS));
  const depthPerChunk = wantedChunks > 1 ? Math.ceil(M / wantedChunks) : M;
  const chunks = Math.ceil(M / depthPerChunk);
  dispatches.push(
    ...reduceInChunks(ctx, 'matmul dw', chunks, K * N, dw, (target, accumulate) => [
      productDispatch(ctx, 'matmul dw', 'matmul_tn', {
        a: x,
        b: dout,
        bias: null,
        out: target,
        rows: K,
        cols: N,
        depth: M,
        depthPerChunk,
        accumulate,
      }),
    ]),
  );
  if (dbias) dispatches.push(...columnSum(ctx, 'matmul dbias', dout, dbias, M, N));
  return dispatches;
}

/**
 * A reduction whose work is split into `chunks` partial results of `cols` values each. `pass` writes them to `target`
 * (chunk c at target + c·cols), overwriting or accumulating as told. One chunk accumulates straight into `out`;
 * more go through a scratch buffer (allocated now, at build time) that a column sum then adds into `out`.
 */
export function reduceInChunks(
  ctx: GpuContext,
  label: string,
  chunks: number,
  cols: number,
  out: TensorRef,
  pass: (target: TensorRef, accumulate: boolean) => Dispatch[],
): Dispatch[] {
  if (chunks === 1) return pass(out, true);
  const scratch = { buffer: ctx.storage(`${label} partials`, chunks * cols * 4), offset: 0 };
  return [...pass(scratch, false), ...columnSum(ctx, `${label} sum`, scratch, out, chunks, cols)];
}

/** Rows per chunk of a reduction over `rows` rows: one pass up to 1024 rows, else about √rows so both passes are short. */
export function rowsPerChunk(rows: number): number {
  return rows <= 1024 ? rows : Math.ceil(Math.sqrt(rows));
}

/** out[j] += Σ_r input[r·cols + j] for r < rows, j < cols (deterministic order; two passes for many rows). */
export function columnSum(
  ctx: GpuContext,
  label: string,
  input: TensorRef,
  out: TensorRef,
  rows: number,
  cols: number,
): Dispatch[] {
  const chunkRows = rowsPerChunk(rows);
  const chunks = Math.ceil(rows / chunkRows);
  return reduceInChunks(ctx, label, chunks, cols, out, (target, accumulate) => [
    ctx.dispatch(
      label,
      ctx.pipeline(source, 'column_sum', { SUM_WG, ACCUMULATE: +accumulate }),
      [input.buffer, target.buffer, Uint32Array.of(rows, cols, chunkRows, input.offset, target.offset)],
      [Math.ceil(cols / SUM_WG), chunks],
    ),
  ]);
}
