import source from '../../../shaders/embedding.wgsl?raw';
import { type Dispatch, type GpuContext, type TensorRef, gridStrideWorkgroups } from '../context';

const WORKGROUP = 256; // WG in embedding.wgsl

export interface EmbeddingForwardArgs {
  tokens: TensorRef; // i32 [rows]
  positions: TensorRef | null; // i32 [rows]; with wpe when positionEncoding = 'learned'
  wte: TensorRef; // [V, d]
  wpe: TensorRef | null; // [maxSeqLen, d]
  out: TensorRef; // [rows, d], overwritten
  rows: number;
  d: number;
}

/** out[r] = wte[tokens[r]] (+ wpe[positions[r]]). */
export function embeddingForward(ctx: GpuContext, args: EmbeddingForwardArgs): Dispatch[] {
  const { tokens, positions, wte, wpe, out, rows, d } = args;
  if ((positions === null) !== (wpe === null)) throw new Error('embeddingForward: positions and wpe go together');
  const total = rows * d;
  const shape = new Uint32Array([
    total,
    d,
    tokens.offset,
    wte.offset,
    out.offset,
    positions?.offset ?? 0,
    wpe?.offset ?? 0,
  ]);
  const resources = [shape, tokens.buffer, wte.buffer, out.buffer];
  if (positions && wpe) resources.push(positions.buffer, wpe.buffer);
  const entry = positions ? 'forward_positions' : 'forward_tokens';
  return [ctx.dispatch('embedding.forward', ctx.pipeline(source, entry), resources, [gridStrideWorkgroups(ctx.device, total, WORKGROUP)])];
}

export interface EmbeddingIndex {
  /** offsets[v] .. offsets[v+1] is the slice of `rows` with id v; length vocab + 1. */
  offsets: Int32Array;
  /** Row indices sorted by id, stable (rows of one id stay in increasing order). */
  rows: Int32Array;
}

/**
 * Counting sort of a batch's ids (tokens for wte, positions for wpe), run on the CPU per batch and uploaded: it gives
 * the backward kernel one writer per table row, so the gradient is deterministic without float atomics.
 */
export function buildIndex(ids: Int32Array, vocab: number): EmbeddingIndex {
  const offsets = new Int32Array(vocab + 1);
  for (const id of ids) {
    if (id < 0 || id >= vocab) throw new Error(`buildIndex: id ${id} outside [0, ${vocab})`);
    offsets[id + 1]++;
  }
  for (let v = 0; v < vocab; v++) offsets[v + 1] += offsets[v];
  const cursor = offsets.slice(0, vocab);
  const rows = new Int32Array(ids.length);
  for (let r = 0; r < ids.length; r++) rows[cursor[ids[r]]++] = r;
  return { offsets, rows };
}

export interface EmbeddingBackwardArgs {
  dout: TensorRef; // [rows, d]
  offsets: TensorRef; // i32 [tableRows + 1], from buildIndex
  rows: TensorRef; // i32 [rows], from buildIndex
  dtable: TensorRef; // [tableRows, d], accumulated into
  tableRows: number;
  d: number;
}

/** dtable[v] += Σ dout[r] over the rows r with id v. One launch per table (wte with tokens, wpe with positions). */
export function embeddingBackward(ctx: GpuContext, args: EmbeddingBackwardArgs): Dispatch[] {
  const { dout, offsets, rows, dtable, tableRows, d } = args;
  const total = tableRows * d;
  const shape = new Uint32Array([total, d, dout.offset, offsets.offset, rows.offset, dtable.offset]);
  return [
    ctx.dispatch(
      'embedding.backward',
      ctx.pipeline(source, 'backward'),
      [shape, dout.buffer, offsets.buffer, rows.buffer, dtable.buffer],
      [gridStrideWorkgroups(ctx.device, total, WORKGROUP)],
    ),
  ];
}
