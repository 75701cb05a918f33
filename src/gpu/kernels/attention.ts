import source from '../../../shaders/attention.wgsl?raw';
import { ATTENTION_GROUP, attentionPlanLayout } from '../../prompt/ranges';
import type { IsolationLevel } from '../../prompt/types';
import type { Dispatch, GpuContext, TensorRef } from '../context';
import { isSoftwareDevice } from '../device';

/**
 * Query/key tile size of shaders/attention.wgsl (its `const TILE`, read from the source so the two never disagree).
 * Pass it to attentionWork (src/prompt/ranges.ts) to count the work the kernels do for a batch's attention plan.
 */
export const ATTENTION_TILE: number = readConst(source, 'TILE');
// The plan (src/prompt/ranges.ts) describes work in groups of the shader's rows per thread.
if (readConst(source, 'ROWS') !== ATTENTION_GROUP) throw new Error('attention.wgsl: ROWS differs from ATTENTION_GROUP');
/** Largest head dimension the kernels support (`HD_MAX` of the source, the size of their per-thread arrays). */
export const ATTENTION_MAX_HEAD_DIM: number = readConst(source, 'HD_MAX');

function constLine(name: string): RegExp {
  return new RegExp(`const ${name}: u32 = (\\d+)u;`);
}

function readConst(wgsl: string, name: string): number {
  const match = constLine(name).exec(wgsl);
  if (!match) throw new Error(`attention.wgsl: no \`const ${name}: u32 = …u;\` line`);
  return Number(match[1]);
}

/**
 * The shader with its private arrays sized to the head dimension (an override cannot size them, and WGSL zero-fills
 * them at every invocation's start: at HD_MAX = 128 that costs SwiftShader more than a small kernel's work).
 */
function specialized(headDim: number): string {
  return source.replace(constLine('HD_MAX'), `const HD_MAX: u32 = ${headDim}u;`);
}

/** Streamed rows per barrier pair (`CHUNK` in the shader) unless the head dimension forces fewer. */
const PREFERRED_CHUNK = 32;

const LEVEL_CODE: Record<IsolationLevel, number> = { 'full-causal': 0, window: 1, 'sum-isolated': 2, strict: 3 };
const MAX_WORKGROUPS = 65535;

/**
 * Forward FLOPs of attention over `allowedCells` (q, p) cells per head (the count tileStats takes: cells of the B×L×L
 * mask): q·k and p·v, 2·hd each per cell. The backward with recomputation costs about 2.5× this (q·k twice, dout·v
 * twice, dq, dk, dv).
 */
export function attentionFlops(allowedCells: number, headDim: number, nHeads: number): number {
  return 4 * allowedCells * headDim * nHeads;
}

export interface AttentionForwardArgs {
  qkv: TensorRef; // [B*L, 3d]
  /**
   * u32 [B*L], (interaction << 2) | role. Not bound: the plan carries a copy of it (src/prompt/ranges.ts), which
   * leaves the dQ kernel within 8 storage buffers. Kept so callers need not change.
   */
  meta: TensorRef;
  positions: TensorRef; // i32 [B*L]; read only with alibi
  /** i32 [attentionPlanLayout(B, L, level).length]: the batch's attentionPlan (src/prompt/ranges.ts). */
  plan: TensorRef;
  out: TensorRef; // [B*L, d], overwritten
  lse: TensorRef; // [B, H, L], overwritten
  B: number;
  L: number;
  nHeads: number;
  headDim: number;
  n: number;
  level: IsolationLevel;
  alibi: boolean;
  /** Distance-based forgetting (ModelConfig.forgetting): the bias also counts interaction distance. */
  forgetting: boolean;
  /**
   * Rows streamed through workgroup memory per barrier pair, a multiple of 4. Default: 32, or less when the head
   * dimension needs it to fit the device's workgroup memory. For tuning and tests: every value gives bit-identical
   * results (keys are always consumed in the same 4-aligned blocks). Ignored on software devices, which stage nothing.
   */
  chunk?: number;
}

export interface AttentionBackwardArgs extends Omit<AttentionForwardArgs, 'out' | 'lse'> {
  out: TensorRef; // [B*L, d], the forward's output
  lse: TensorRef; // [B, H, L], the forward's lse
  dout: TensorRef; // [B*L, d]
  dqkv: TensorRef; // [B*L, 3d], accumulated into (+=)
  /** Scratch of at least B·L·H f32 for D = rowsum(dout ∘ out): the caller allocates it once and may share it. */
  rowDot: GPUBuffer;
}

type Shape = Pick<AttentionForwardArgs, 'B' | 'L' | 'nHeads' | 'headDim' | 'n' | 'level' | 'alibi' | 'forgetting' | 'chunk'>;

function check(label: string, s: Shape): void {
  const { B, L, nHeads, headDim } = s;
  for (const [name, value] of Object.entries({ B, L, nHeads, headDim })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${label}: ${name} must be a positive integer, got ${value}`);
  }
  if (headDim > ATTENTION_MAX_HEAD_DIM) {
    throw new Error(`${label}: head dimension ${headDim} exceeds the kernel's maximum of ${ATTENTION_MAX_HEAD_DIM}`);
  }
  if (!Number.isInteger(s.n) || s.n < 0) throw new Error(`${label}: n must be a non-negative integer, got ${s.n}`);
  const directGroups = Math.ceil((Math.ceil((L + ATTENTION_TILE) / ATTENTION_GROUP) * nHeads * ATTENTION_GROUP) / ATTENTION_TILE);
  if (directGroups > MAX_WORKGROUPS || nHeads > MAX_WORKGROUPS || B > MAX_WORKGROUPS) {
    throw new Error(`${label}: B=${B}, L=${L}, H=${nHeads} exceed the dispatch limits`);
  }
}

/** The `Params` uniform of attention.wgsl (20 × 4 bytes; `scale` is the only f32). */
function params(
  s: Shape,
  offsets: { qkv: number; positions: number; plan: number; out: number; lse: number; dout?: number; dqkv?: number },
): Uint32Array {
  const words = new Uint32Array(20);
  const floats = new Float32Array(words.buffer);
  const { slots, keySlots } = attentionPlanLayout(s.B, s.L, s.level);
  // n is clamped so that interaction + n cannot wrap in u32 (any n >= the interaction count acts the same).
  words.set([s.B, s.L, s.nHeads, Math.min(s.n, 2 ** 30), LEVEL_CODE[s.level], s.alibi ? 1 : 0]);
  floats[6] = 1 / Math.sqrt(s.headDim);
  words.set(
    [offsets.qkv, offsets.positions, offsets.plan, offsets.out, offsets.lse, offsets.dout ?? 0, offsets.dqkv ?? 0, slots, keySlots],
    7,
  );
  return words;
}

/**
 * Pipeline constants: the head dimension; KEY_ORDER (strict: the plan reorders the keys), ALIBI (positions are read
 * only then) and FORGET (the bias counts interaction distance), so each pipeline carries only its mask's code; on software devices DIRECT (each thread reads its
 * streamed rows from storage: there barriers and staging cost more than they save; CHUNK 4 then only keeps the unused
 * workgroup arrays small); on GPUs the largest chunk (a multiple of 4, at most PREFERRED_CHUNK) whose workgroup memory, 2·CHUNK·hd + 5·CHUNK
 * words, fits the device (WebGPU guarantees 16 KiB: chunk 28 at hd = 64, 12 at hd = 128).
 */
function constants(ctx: GpuContext, s: Shape): Record<string, number> {
  const mask = { KEY_ORDER: s.level === 'strict' ? 1 : 0, ALIBI: s.alibi ? 1 : 0, FORGET: s.forgetting ? 1 : 0 };
  if (isSoftwareDevice(ctx.device)) return { HEAD_DIM: s.headDim, CHUNK: 4, DIRECT: 1, ...mask };
  const limitWords = ctx.device.limits.maxComputeWorkgroupStorageSize / 4;
  const fit = Math.floor(limitWords / (2 * s.headDim + 5) / 4) * 4;
  if (fit < 4) throw new Error(`attention: head dimension ${s.headDim} does not fit this device's workgroup memory`);
  const chunk = s.chunk ?? Math.min(PREFERRED_CHUNK, fit);
  if (!Number.isInteger(chunk) || chunk < 4 || chunk % 4 !== 0 || chunk > fit) {
    throw new Error(`attention: chunk ${chunk} must be a multiple of 4 in [4, ${fit}] for head dimension ${s.headDim}`);
  }
  return { HEAD_DIM: s.headDim, CHUNK: chunk, DIRECT: 0, ...mask };
}

/** The plan buffer must hold attentionPlanLayout(B, L, level).length i32 from its offset. */
function checkPlan(label: string, s: Shape, plan: TensorRef): void {
  const needed = (plan.offset + attentionPlanLayout(s.B, s.L, s.level).length) * 4;
  if (plan.buffer.size < needed) {
    throw new Error(`${label}: the plan buffer holds ${plan.buffer.size} bytes, B=${s.B} L=${s.L} need ${needed} from its offset`);
  }
}

/**
 * Workgroups: staged, query tiles (forward, dQ: over the plan's query slots) or key tiles (dK/dV: over its key slots)
 * × heads × batch; direct, (groups of 4 rows × heads) / threads per workgroup × batch (the shader's `owner`).
 */
function workgroups(ctx: GpuContext, s: Shape, over: 'queries' | 'keys'): [number, number, number] {
  const layout = attentionPlanLayout(s.B, s.L, s.level);
  if (isSoftwareDevice(ctx.device)) {
    const groups = over === 'queries' ? layout.queryGroupCount : layout.keyGroupCount;
    return [Math.ceil((groups * s.nHeads * ATTENTION_GROUP) / ATTENTION_TILE), 1, s.B];
  }
  const rows = over === 'queries' ? layout.slots : layout.keySlots;
  return [Math.ceil(rows / ATTENTION_TILE), s.nHeads, s.B];
}

/** out, lse = masked causal attention of qkv (flash style: online softmax, work as the plan says). */
export function attentionForward(ctx: GpuContext, args: AttentionForwardArgs): Dispatch[] {
  check('attentionForward', args);
  const { qkv, positions, plan, out, lse } = args;
  checkPlan('attentionForward', args, plan);
  const uniform = params(args, {
    qkv: qkv.offset,
    positions: positions.offset,
    plan: plan.offset,
    out: out.offset,
    lse: lse.offset,
  });
  const pipeline = ctx.pipeline(specialized(args.headDim), 'attention_forward', constants(ctx, args));
  return [
    ctx.dispatch(
      'attention.forward',
      pipeline,
      [uniform, qkv.buffer, positions.buffer, plan.buffer, out.buffer, lse.buffer],
      workgroups(ctx, args, 'queries'),
    ),
  ];
}

/**
 * dqkv += the gradient of attention given dout: dQ per query tile (which also computes D = rowsum(dout ∘ out) of its
 * rows into the rowDot scratch), then dK/dV per key tile (which reads D), each with one writer per row
 * (no atomics, deterministic).
 */
export function attentionBackward(ctx: GpuContext, args: AttentionBackwardArgs): Dispatch[] {
  check('attentionBackward', args);
  const { qkv, positions, plan, out, lse, dout, dqkv, rowDot, B, L, nHeads, headDim } = args;
  checkPlan('attentionBackward', args, plan);
  if (rowDot.size < B * L * nHeads * 4) {
    throw new Error(`attentionBackward: the rowDot scratch holds ${rowDot.size} bytes, B=${B} L=${L} H=${nHeads} need ${B * L * nHeads * 4}`);
  }
  const pipelineConstants = constants(ctx, args);
  const uniform = params(args, {
    qkv: qkv.offset,
    positions: positions.offset,
    plan: plan.offset,
    out: out.offset,
    lse: lse.offset,
    dout: dout.offset,
    dqkv: dqkv.offset,
  });
  const common = [uniform, qkv.buffer, positions.buffer, plan.buffer, dout.buffer, lse.buffer, rowDot, dqkv.buffer];
  return [
    ctx.dispatch(
      'attention.backward.dq',
      ctx.pipeline(specialized(headDim), 'attention_backward_dq', pipelineConstants),
      [...common, out.buffer],
      workgroups(ctx, args, 'queries'),
    ),
    ctx.dispatch(
      'attention.backward.dkv',
      ctx.pipeline(specialized(headDim), 'attention_backward_dkv', pipelineConstants),
      common,
      workgroups(ctx, args, 'keys'),
    ),
  ];
}
