/**
 * The model on the GPU: parameter state, activations, and the prepared dispatches of a training step, in the order of
 * docs/ENGINE.md. Each layer's forward and backward sit next to each other (llm.c style); every buffer is allocated
 * and every bind group built once, when the model is created, so a step only uploads the batch and records commands.
 */
import { GpuContext, type Dispatch, type TensorRef, encodeDispatches, readBuffer, tensorRef } from '../gpu/context';
import { adamwStep, createAdamHyper, writeAdamHyper } from '../gpu/kernels/adamw';
import { addForward } from '../gpu/kernels/add';
import { attentionBackward, attentionForward } from '../gpu/kernels/attention';
import { ctrLossBackward, ctrLossForward } from '../gpu/kernels/ctr-loss';
import { buildIndex, embeddingBackward, embeddingForward } from '../gpu/kernels/embedding';
import { geluBackward, geluForward } from '../gpu/kernels/gelu';
import { gradNorm } from '../gpu/kernels/grad-norm';
import { matmulBackward, matmulForward } from '../gpu/kernels/matmul';
import { rmsnormBackward, rmsnormForward } from '../gpu/kernels/rmsnorm';
import { ropeBackward, ropeForward } from '../gpu/kernels/rope';
import type { Batch, IsolationLevel } from '../prompt/types';
import { attentionPlan, attentionPlanLayout } from '../prompt/ranges';
import { headDim, type ModelConfig } from './config';
import { type ParamLayout, initParams, paramLayout } from './params';

export interface OptimizerSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
}

export const DEFAULT_OPTIMIZER: OptimizerSettings = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };

/** Batch geometry a model instance is built for: B rows of L tokens, at most maxTargets targets, and the mask. */
export interface BatchShape {
  B: number;
  L: number;
  maxTargets: number;
  n: number;
  isolation: IsolationLevel;
}

/** Parameters, gradients and AdamW moments: shared by the training instance and the evaluation instance. */
export class ParamState {
  readonly layout: ParamLayout;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;

  constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    initial: Float32Array = initParams(config),
  ) {
    this.layout = paramLayout(config);
    if (initial.length !== this.layout.total) {
      throw new Error(`parameter count ${initial.length} does not match the model configuration (${this.layout.total})`);
    }
    const bytes = this.layout.total * 4;
    this.params = ctx.storage('params', bytes, initial);
    this.grads = ctx.storage('grads', bytes);
    this.m = ctx.storage('adam.m', bytes);
    this.v = ctx.storage('adam.v', bytes);
  }

  async readParams(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.ctx.device, this.params, this.layout.total * 4));
  }

  private checkpoint: GPUBuffer | null = null;

  /** Allocates the best-validation copy up front, so a training run meets a lack of memory while it is set up. */
  reserveCheckpoint(): GPUBuffer {
    return (this.checkpoint ??= this.ctx.storage('params.checkpoint', this.layout.total * 4));
  }

  /** Keeps a copy of the parameters on the GPU (the best-validation checkpoint), replacing the previous one. */
  saveCheckpoint(): void {
    const encoder = this.ctx.device.createCommandEncoder({ label: 'save checkpoint' });
    encoder.copyBufferToBuffer(this.params, 0, this.reserveCheckpoint(), 0, this.layout.total * 4);
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  /** Puts the saved checkpoint's parameters back; false when none was saved. */
  restoreCheckpoint(): boolean {
    if (!this.checkpoint) return false;
    const encoder = this.ctx.device.createCommandEncoder({ label: 'restore checkpoint' });
    encoder.copyBufferToBuffer(this.checkpoint, 0, this.params, 0, this.layout.total * 4);
    this.ctx.device.queue.submit([encoder.finish()]);
    return true;
  }

  async readGrads(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.ctx.device, this.grads, this.layout.total * 4));
  }
}

/** Bytes of GPU memory a run needs, by part, so the UI can show it and refuse runs that cannot fit. */
export function estimateMemory(config: ModelConfig, shape: Pick<BatchShape, 'B' | 'L' | 'maxTargets'>, training = true) {
  const { dModel: d, dFF: f, nLayers: nl, nHeads: h } = config;
  const rows = shape.B * shape.L;
  const parameters = paramLayout(config).total * 4;
  const perLayerActivations = rows * (d /*norm1*/ + 3 * d /*qkv*/ + d /*attn*/ + d /*mid*/ + d /*norm2*/ + 2 * f /*fc*/ + 2) + shape.B * h * shape.L;
  const activations = 4 * (nl * perLayerActivations + (nl + 1) * rows * d + 3 * rows * d + rows);
  const perLayerGradients = rows * (2 * f + 3 * d + 3 * d);
  // Plus attention's D = rowsum(dout ∘ out) scratch, one for all layers.
  const activationGradients = training ? 4 * (nl * perLayerGradients + 2 * rows * d + shape.B * h * shape.L) : 0;
  const batch = 4 * (rows * 8 + 2 * shape.maxTargets + config.vocabSize + config.maxSeqLen + 4);
  // Gradients, AdamW's two moments and the best-validation copy of the parameters.
  const optimizer = training ? 4 * parameters : 0;
  const largestBuffer = 4 * Math.max(nl * rows * f, (nl + 1) * rows * d, nl * rows * 3 * d, paramLayout(config).total);
  return {
    parameters,
    optimizer,
    activations,
    activationGradients,
    batch,
    total: parameters + optimizer + activations + activationGradients + batch,
    largestBuffer,
  };
}

/**
 * Most tokens (rows × length) one batch of a model instance holds: large enough to keep a GPU busy, small enough for a
 * browser tab's memory (about 150 MiB of activations for the default model when training).
 */
export const MAX_BATCH_TOKENS = 16384;

/** What bounds one buffer: a device's limits, or WebGPU's defaults (which every adapter offers) when none is known. */
export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}
export const DEFAULT_BUFFER_LIMITS: BufferLimits = { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 };

/** The most rows of L tokens one batch may hold: MAX_BATCH_TOKENS, and the largest buffer the limits allow (at least 1). */
export function rowsThatFit(limits: BufferLimits, config: ModelConfig, L: number): number {
  const { dModel: d, dFF: f, nLayers: nl } = config;
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  // The largest per-row buffer of estimateMemory (the stacked fc activations, residual stream or qkv).
  const bytesPerRow = 4 * L * Math.max(nl * f, (nl + 1) * d, nl * 3 * d);
  return Math.max(1, Math.min(Math.floor(MAX_BATCH_TOKENS / L), Math.floor(maxBinding / bytesPerRow)));
}

/** Throws a message naming the setting to lower when the run cannot fit the device's limits. */
export function checkFits(device: GPUDevice, config: ModelConfig, shape: BatchShape, training = true): void {
  const estimate = estimateMemory(config, shape, training);
  const maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (estimate.largestBuffer > maxBinding) {
    const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
    throw new Error(
      `This run needs a ${mib(estimate.largestBuffer)} activation buffer but the GPU allows ${mib(maxBinding)} per buffer ` +
        `(total estimate ${mib(estimate.total)}). Lower k or n (micro-batches of ${shape.B} prompts of ${shape.L} tokens), ` +
        `d_ff (${config.dFF}) or the number of layers (${config.nLayers}).`,
    );
  }
}

interface LayerActivations {
  residualIn: TensorRef;
  norm1: TensorRef;
  rstd1: TensorRef;
  qkv: TensorRef;
  attn: TensorRef;
  lse: TensorRef;
  residualMid: TensorRef;
  norm2: TensorRef;
  rstd2: TensorRef;
  fcPre: TensorRef;
  fcAct: TensorRef;
  residualOut: TensorRef;
}

interface LayerGradients {
  dfcAct: TensorRef;
  dfcPre: TensorRef;
  dnorm2: TensorRef;
  dattn: TensorRef;
  dqkv: TensorRef;
  dnorm1: TensorRef;
}

/** Step statistics copied back asynchronously: [mean loss, loss non-finite, grad norm, grad non-finite]. */
export interface StepStats {
  loss: number;
  lossNonFinite: boolean;
  gradNorm: number;
  gradNonFinite: boolean;
}

const STATS_BYTES = 16;

/** The prepared dispatches of one sequence length (see GpuModel.stepFor). */
interface StepDispatches {
  forward: Dispatch[];
  backward: Dispatch[];
}

/**
 * Activation gradients of a training instance (cleared before every micro-batch; the parameter gradients, in
 * state.grads, only before an optimizer step's first) and attention backward's scratch.
 */
interface GradientBuffers {
  layers: LayerGradients[];
  dresidual: TensorRef;
  dfinal: TensorRef;
  /** Attention backward's D = rowsum(dout ∘ out) scratch, shared by the layers and the batch lengths. */
  attentionRowDot: GPUBuffer;
}

export class GpuModel {
  readonly device: GPUDevice;
  readonly config: ModelConfig;
  private readonly ctx: GpuContext;
  private readonly batchBuffers: Record<
    'tokens' | 'positions' | 'meta' | 'attentionPlan' | 'targetIndex' | 'targetLabel' | 'targetCount',
    GPUBuffer
  >;
  private readonly tokenIndex: { offsets: GPUBuffer; rows: GPUBuffer };
  private readonly positionIndex: { offsets: GPUBuffer; rows: GPUBuffer } | null;
  private readonly acts: LayerActivations[];
  private readonly projOut: TensorRef;
  private readonly finalNorm: TensorRef;
  private readonly finalRstd: TensorRef;
  private readonly losses: TensorRef;
  private readonly gradients: GradientBuffers | null;
  private readonly probs: GPUBuffer;
  private readonly stats: GPUBuffer;
  private readonly normStats: GPUBuffer | null;
  private readonly hyper: GPUBuffer | null;
  /** Dispatches by sequence length, built on first use: every batch length up to shape.L shares the buffers. */
  private readonly steps = new Map<number, StepDispatches>();
  private readonly optimizerDispatches: Dispatch[];
  private readonly clearPerBatch: GPUBuffer[] = [];
  private readonly readbackPool: GPUBuffer[] = [];
  private optimizerStep = 0;

  /**
   * Allocates every buffer for the largest batch of `shape` (B rows of shape.L tokens). A batch may be shorter (any
   * L up to shape.L): its rows then lie packed at the start of each buffer, and only its B·L rows are computed.
   */
  constructor(
    readonly state: ParamState,
    readonly shape: BatchShape,
    readonly training: boolean,
    private readonly optimizer: OptimizerSettings = DEFAULT_OPTIMIZER,
  ) {
    const { ctx, config, layout } = state;
    this.ctx = ctx;
    this.device = ctx.device;
    this.config = config;
    if (shape.L > config.maxSeqLen) throw new Error(`sequence length ${shape.L} exceeds the model's maxSeqLen ${config.maxSeqLen}`);
    checkFits(ctx.device, config, shape, training);
    const { B, L, maxTargets, isolation } = shape;
    const { dModel: d, dFF: f, nLayers: nl, nHeads: H } = config;
    const rows = B * L;

    const int32 = (label: string, count: number) => ctx.storage(label, count * 4);
    this.batchBuffers = {
      tokens: int32('batch.tokens', rows),
      positions: int32('batch.positions', rows),
      meta: int32('batch.meta', rows),
      attentionPlan: int32('batch.attentionPlan', attentionPlanLayout(B, L, isolation).length),
      targetIndex: int32('batch.targetIndex', maxTargets),
      targetLabel: int32('batch.targetLabel', maxTargets),
      targetCount: int32('batch.targetCount', 4),
    };
    this.tokenIndex = { offsets: int32('tokenIndex.offsets', config.vocabSize + 1), rows: int32('tokenIndex.rows', rows) };
    this.positionIndex =
      config.positionEncoding === 'learned'
        ? { offsets: int32('positionIndex.offsets', config.maxSeqLen + 1), rows: int32('positionIndex.rows', rows) }
        : null;

    // One buffer per activation kind, sliced per layer (a dispatch never reads and writes one buffer).
    const stack = (label: string, perLayer: number, layers = nl) => ({ buffer: ctx.storage(label, perLayer * layers * 4), perLayer });
    const at = (s: { buffer: GPUBuffer; perLayer: number }, l: number) => tensorRef(s.buffer, s.perLayer * l);
    const residualStream = stack('act.residual', rows * d, nl + 1);
    const residualMid = stack('act.residualMid', rows * d);
    const norm1 = stack('act.norm1', rows * d);
    const rstd1 = stack('act.rstd1', rows);
    const qkv = stack('act.qkv', rows * 3 * d);
    const attn = stack('act.attn', rows * d);
    const lse = stack('act.lse', B * H * L);
    const norm2 = stack('act.norm2', rows * d);
    const rstd2 = stack('act.rstd2', rows);
    const fcPre = stack('act.fcPre', rows * f);
    const fcAct = stack('act.fcAct', rows * f);
    this.projOut = tensorRef(ctx.storage('act.projOut', rows * d * 4));
    this.finalNorm = tensorRef(ctx.storage('act.finalNorm', rows * d * 4));
    this.finalRstd = tensorRef(ctx.storage('act.finalRstd', rows * 4));
    this.losses = tensorRef(ctx.storage('loss.perTarget', maxTargets * 4));
    this.probs = ctx.storage('loss.probs', maxTargets * 4);
    this.stats = ctx.storage('loss.stats', STATS_BYTES);
    this.acts = Array.from({ length: nl }, (_, l) => ({
      residualIn: at(residualStream, l),
      norm1: at(norm1, l),
      rstd1: at(rstd1, l),
      qkv: at(qkv, l),
      attn: at(attn, l),
      lse: at(lse, l),
      residualMid: at(residualMid, l),
      norm2: at(norm2, l),
      rstd2: at(rstd2, l),
      fcPre: at(fcPre, l),
      fcAct: at(fcAct, l),
      residualOut: at(residualStream, l + 1),
    }));

    this.gradients = null;
    this.normStats = null;
    this.hyper = null;
    this.optimizerDispatches = [];
    if (training) {
      // Gradients accumulate, so every activation gradient is cleared before each micro-batch (and the parameter
      // gradients before each step's first).
      const gradStack = (label: string, perLayer: number) => {
        const s = stack(label, perLayer);
        this.clearPerBatch.push(s.buffer);
        return s;
      };
      const dfcAct = gradStack('grad.fcAct', rows * f);
      const dfcPre = gradStack('grad.fcPre', rows * f);
      const dnorm2 = gradStack('grad.norm2', rows * d);
      const dattn = gradStack('grad.attn', rows * d);
      const dqkv = gradStack('grad.qkv', rows * 3 * d);
      const dnorm1 = gradStack('grad.norm1', rows * d);
      const dresidualBuffer = ctx.storage('grad.residual', rows * d * 4);
      const dfinalBuffer = ctx.storage('grad.finalNorm', rows * d * 4);
      this.clearPerBatch.push(dresidualBuffer, dfinalBuffer);
      this.gradients = {
        layers: Array.from({ length: nl }, (_, l) => ({
          dfcAct: at(dfcAct, l),
          dfcPre: at(dfcPre, l),
          dnorm2: at(dnorm2, l),
          dattn: at(dattn, l),
          dqkv: at(dqkv, l),
          dnorm1: at(dnorm1, l),
        })),
        dresidual: tensorRef(dresidualBuffer),
        dfinal: tensorRef(dfinalBuffer),
        attentionRowDot: ctx.storage('grad.attentionRowDot', B * H * L * 4),
      };

      // ---- clipping and AdamW, on the GPU: the norm never comes back to the CPU ----
      this.normStats = ctx.storage('grad.norm', STATS_BYTES);
      this.hyper = createAdamHyper(ctx);
      this.optimizerDispatches = [
        ...gradNorm(ctx, { grads: tensorRef(state.grads), count: layout.total, out: tensorRef(this.normStats) }),
        ...adamwStep(ctx, {
          params: tensorRef(state.params),
          grads: tensorRef(state.grads),
          m: tensorRef(state.m),
          v: tensorRef(state.v),
          count: layout.total,
          decayedCount: layout.decayedCount,
          hyper: this.hyper,
          norm: tensorRef(this.normStats),
        }),
      ];
    }
    this.stepFor(L);
  }

  /** The forward and backward dispatches for batches of B rows of L tokens (built once per length, then reused). */
  private stepFor(L: number): StepDispatches {
    const cached = this.steps.get(L);
    if (cached) return cached;
    const { ctx, config, state, acts, gradients } = this;
    const { layout } = state;
    const { B, maxTargets, n, isolation } = this.shape;
    const { dModel: d, dFF: f, nLayers: nl, nHeads: H } = config;
    const rows = B * L;
    const learned = config.positionEncoding === 'learned';
    const rope = config.positionEncoding === 'rope';
    const bb = this.batchBuffers;
    const P = (t: { offset: number }) => tensorRef(state.params, t.offset);
    const G = (t: { offset: number }) => tensorRef(state.grads, t.offset);
    const { projOut, finalNorm, finalRstd } = this;
    const hd = headDim(config);
    const mask = { meta: tensorRef(bb.meta), positions: tensorRef(bb.positions), plan: tensorRef(bb.attentionPlan), B, L, nHeads: H, headDim: hd, n, level: isolation, alibi: config.positionEncoding === 'alibi', forgetting: config.forgetting };

    // ---- forward ----
    const fwd: Dispatch[] = [];
    fwd.push(
      ...embeddingForward(ctx, {
        tokens: tensorRef(bb.tokens),
        positions: learned ? tensorRef(bb.positions) : null,
        wte: P(layout.wte),
        wpe: learned ? P(layout.wpe) : null,
        out: acts[0].residualIn,
        rows,
        d,
      }),
    );
    layout.layers.forEach((w, l) => {
      const a = acts[l];
      fwd.push(...rmsnormForward(ctx, { x: a.residualIn, w: P(w.norm1W), out: a.norm1, rstd: a.rstd1, rows, d }));
      fwd.push(...matmulForward(ctx, { x: a.norm1, w: P(w.qkvW), bias: P(w.qkvB), out: a.qkv, M: rows, K: d, N: 3 * d }));
      if (rope) fwd.push(...ropeForward(ctx, { qkv: a.qkv, positions: tensorRef(bb.positions), rows, nHeads: H, headDim: hd }));
      fwd.push(...attentionForward(ctx, { ...mask, qkv: a.qkv, out: a.attn, lse: a.lse }));
      fwd.push(...matmulForward(ctx, { x: a.attn, w: P(w.attnOutW), bias: P(w.attnOutB), out: projOut, M: rows, K: d, N: d }));
      fwd.push(...addForward(ctx, { a: a.residualIn, b: projOut, out: a.residualMid, count: rows * d }));
      fwd.push(...rmsnormForward(ctx, { x: a.residualMid, w: P(w.norm2W), out: a.norm2, rstd: a.rstd2, rows, d }));
      fwd.push(...matmulForward(ctx, { x: a.norm2, w: P(w.fcW), bias: P(w.fcB), out: a.fcPre, M: rows, K: d, N: f }));
      fwd.push(...geluForward(ctx, { x: a.fcPre, out: a.fcAct, count: rows * f }));
      fwd.push(...matmulForward(ctx, { x: a.fcAct, w: P(w.fcOutW), bias: P(w.fcOutB), out: projOut, M: rows, K: f, N: d }));
      fwd.push(...addForward(ctx, { a: a.residualMid, b: projOut, out: a.residualOut, count: rows * d }));
    });
    const lastResidual = acts[nl - 1].residualOut;
    fwd.push(...rmsnormForward(ctx, { x: lastResidual, w: P(layout.finalNormW), out: finalNorm, rstd: finalRstd, rows, d }));
    const targets = {
      targetIndex: tensorRef(bb.targetIndex),
      targetLabel: tensorRef(bb.targetLabel),
      targetCount: tensorRef(bb.targetCount),
      maxTargets,
      d,
    };
    fwd.push(
      ...ctrLossForward(ctx, { ...targets, xf: finalNorm, wte: P(layout.wte), losses: this.losses, probs: tensorRef(this.probs), stats: tensorRef(this.stats) }),
    );

    // ---- backward (reverse order) ----
    const bwd: Dispatch[] = [];
    if (gradients) {
      const { dresidual, dfinal } = gradients;
      bwd.push(...ctrLossBackward(ctx, { ...targets, xf: finalNorm, wte: P(layout.wte), probs: tensorRef(this.probs), dxf: dfinal, dwte: G(layout.wte) }));
      bwd.push(...rmsnormBackward(ctx, { dout: dfinal, x: lastResidual, w: P(layout.finalNormW), rstd: finalRstd, dx: dresidual, dw: G(layout.finalNormW), rows, d }));
      // dresidual holds d(residualOut of layer l); the residual adds pass it through unchanged, so each sub-block adds into it.
      for (let l = nl - 1; l >= 0; l--) {
        const w = layout.layers[l];
        const a = acts[l];
        const g = gradients.layers[l];
        bwd.push(...matmulBackward(ctx, { dout: dresidual, x: a.fcAct, w: P(w.fcOutW), dx: g.dfcAct, dw: G(w.fcOutW), dbias: G(w.fcOutB), M: rows, K: f, N: d }));
        bwd.push(...geluBackward(ctx, { x: a.fcPre, dout: g.dfcAct, dx: g.dfcPre, count: rows * f }));
        bwd.push(...matmulBackward(ctx, { dout: g.dfcPre, x: a.norm2, w: P(w.fcW), dx: g.dnorm2, dw: G(w.fcW), dbias: G(w.fcB), M: rows, K: d, N: f }));
        bwd.push(...rmsnormBackward(ctx, { dout: g.dnorm2, x: a.residualMid, w: P(w.norm2W), rstd: a.rstd2, dx: dresidual, dw: G(w.norm2W), rows, d }));
        bwd.push(...matmulBackward(ctx, { dout: dresidual, x: a.attn, w: P(w.attnOutW), dx: g.dattn, dw: G(w.attnOutW), dbias: G(w.attnOutB), M: rows, K: d, N: d }));
        bwd.push(...attentionBackward(ctx, { ...mask, qkv: a.qkv, out: a.attn, lse: a.lse, dout: g.dattn, dqkv: g.dqkv, rowDot: gradients.attentionRowDot }));
        if (rope) bwd.push(...ropeBackward(ctx, { dqkv: g.dqkv, positions: tensorRef(bb.positions), rows, nHeads: H, headDim: hd }));
        bwd.push(...matmulBackward(ctx, { dout: g.dqkv, x: a.norm1, w: P(w.qkvW), dx: g.dnorm1, dw: G(w.qkvW), dbias: G(w.qkvB), M: rows, K: d, N: 3 * d }));
        bwd.push(...rmsnormBackward(ctx, { dout: g.dnorm1, x: a.residualIn, w: P(w.norm1W), rstd: a.rstd1, dx: dresidual, dw: G(w.norm1W), rows, d }));
      }
      bwd.push(...embeddingBackward(ctx, { dout: dresidual, offsets: tensorRef(this.tokenIndex.offsets), rows: tensorRef(this.tokenIndex.rows), dtable: G(layout.wte), tableRows: config.vocabSize, d }));
      if (this.positionIndex) {
        bwd.push(...embeddingBackward(ctx, { dout: dresidual, offsets: tensorRef(this.positionIndex.offsets), rows: tensorRef(this.positionIndex.rows), dtable: G(layout.wpe), tableRows: config.maxSeqLen, d }));
      }
    }
    const step = { forward: fwd, backward: bwd };
    this.steps.set(L, step);
    return step;
  }

  /** Uploads a batch (queue writes, no submission) and returns the dispatches for its length. */
  uploadBatch(batch: Batch): StepDispatches {
    const { B, L, maxTargets } = this.shape;
    if (batch.B !== B || batch.L > L) throw new Error(`batch is ${batch.B}×${batch.L}, the model was built for ${B} rows of at most ${L}`);
    const T = batch.targetIndex.length;
    if (T > maxTargets) throw new Error(`batch has ${T} targets, the model was built for at most ${maxTargets}`);
    // The kernels apply the model's mask rule; the batch's plan skips tiles by its own: they must be the same rule.
    if (batch.n !== this.shape.n || batch.isolation !== this.shape.isolation) {
      throw new Error(
        `batch was made for n = ${batch.n}, ${batch.isolation}; the model was built for n = ${this.shape.n}, ${this.shape.isolation}`,
      );
    }
    const q = this.device.queue;
    const bb = this.batchBuffers;
    const write = (buffer: GPUBuffer, data: ArrayBufferView) => q.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    write(bb.tokens, batch.tokens);
    write(bb.positions, batch.positions);
    write(bb.meta, batch.meta);
    // The attention plan depends on the batch's n and level (it was built for them, like keyStart and queryEnd).
    write(bb.attentionPlan, batch.attentionPlan ?? attentionPlan(batch.meta, batch.keyStart, batch.queryEnd, B, batch.L, batch.isolation));
    if (T > 0) {
      write(bb.targetIndex, batch.targetIndex);
      write(bb.targetLabel, batch.targetLabel);
    }
    write(bb.targetCount, new Uint32Array([T, batch.lossDenominator, 0, 0]));
    if (this.training) {
      const tokenIndex = buildIndex(batch.tokens, this.config.vocabSize);
      write(this.tokenIndex.offsets, tokenIndex.offsets);
      write(this.tokenIndex.rows, tokenIndex.rows);
      if (this.positionIndex) {
        const positionIndex = buildIndex(batch.positions, this.config.maxSeqLen);
        write(this.positionIndex.offsets, positionIndex.offsets);
        write(this.positionIndex.rows, positionIndex.rows);
      }
    }
    return this.stepFor(batch.L);
  }

  /**
   * One optimizer step over the targets of several micro-batches (gradient accumulation): each micro-batch's forward
   * and backward in its own submission (its batch upload must land before it runs), the gradient norm and AdamW after
   * the last. Every micro-batch's lossDenominator is the whole step's, so the accumulated gradient is the step's.
   * Returns a promise of the step's statistics that resolves whenever the GPU gets there; the caller decides how many
   * to keep in flight.
   */
  trainStep(microBatches: readonly Batch[], learningRate: number): Promise<StepStats> {
    if (!this.training || !this.hyper) throw new Error('this model instance was built for evaluation only');
    this.optimizerStep++;
    writeAdamHyper(this.device, this.hyper, { ...this.optimizer, lr: learningRate, step: this.optimizerStep });
    const readback = this.takeReadback((microBatches.length + 1) * STATS_BYTES);
    this.submitGradients(microBatches, readback);
    return readback.mapAsync(GPUMapMode.READ).then(() => {
      const v = new Float32Array(readback.getMappedRange().slice(0));
      readback.unmap();
      this.readbackPool.push(readback);
      let loss = 0;
      let lossNonFinite = false;
      for (let i = 0; i < microBatches.length; i++) {
        loss += v[4 * i];
        lossNonFinite ||= v[4 * i + 1] !== 0;
      }
      const norm = 4 * microBatches.length;
      return { loss, lossNonFinite: lossNonFinite || !Number.isFinite(loss), gradNorm: v[norm], gradNonFinite: v[norm + 1] !== 0 };
    });
  }

  /** Forward and backward without the optimizer (tests and gradient inspection); gradients stay in state.grads. */
  async computeGradients(microBatches: readonly Batch[]): Promise<void> {
    if (!this.training) throw new Error('this model instance was built for evaluation only');
    this.submitGradients(microBatches, null);
    await this.device.queue.onSubmittedWorkDone();
  }

  /**
   * Forward and backward of each micro-batch in its own submission, the parameter gradients cleared before the first.
   * With a readback (a training step), each micro-batch's loss statistics are copied to it in turn, and the last
   * submission also clips, applies AdamW and copies the gradient norm after them.
   */
  private submitGradients(microBatches: readonly Batch[], statsReadback: GPUBuffer | null): void {
    if (microBatches.length === 0) throw new Error('a training step needs at least one batch');
    microBatches.forEach((batch, i) => {
      const step = this.uploadBatch(batch);
      const optimize = statsReadback !== null && i === microBatches.length - 1;
      const encoder = this.device.createCommandEncoder({ label: 'train step' });
      if (i === 0) encoder.clearBuffer(this.state.grads);
      for (const buffer of this.clearPerBatch) encoder.clearBuffer(buffer);
      const pass = encoder.beginComputePass({ label: 'train step' });
      encodeDispatches(pass, step.forward);
      encodeDispatches(pass, step.backward);
      if (optimize) encodeDispatches(pass, this.optimizerDispatches);
      pass.end();
      if (statsReadback) encoder.copyBufferToBuffer(this.stats, 0, statsReadback, i * STATS_BYTES, STATS_BYTES);
      if (optimize) encoder.copyBufferToBuffer(this.normStats!, 0, statsReadback, microBatches.length * STATS_BYTES, STATS_BYTES);
      this.device.queue.submit([encoder.finish()]);
    });
  }

  /** Forward only; resolves to P(click) of the batch's targets. */
  async predict(batch: Batch): Promise<Float32Array> {
    const step = this.uploadBatch(batch);
    const T = batch.targetIndex.length;
    const encoder = this.device.createCommandEncoder({ label: 'predict' });
    const pass = encoder.beginComputePass({ label: 'predict' });
    encodeDispatches(pass, step.forward);
    pass.end();
    const bytes = Math.max(16, Math.ceil((T * 4) / 16) * 16);
    const readback = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(this.probs, 0, readback, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const probs = new Float32Array(readback.getMappedRange().slice(0, T * 4));
    readback.destroy();
    return probs;
  }

  /** Every dispatch of a training step on full-length batches, in order (for profiling). */
  allDispatches(): Dispatch[] {
    const step = this.stepFor(this.shape.L);
    return [...step.forward, ...step.backward, ...this.optimizerDispatches];
  }

  /**
   * Dispatches of a training step of one full-length micro-batch, and its queue submissions: 1, as each micro-batch
   * is its own submission (a step of m micro-batches makes m).
   */
  stepComposition(): { dispatches: number; submissions: number } {
    return {
      dispatches: this.allDispatches().length,
      submissions: 1,
    };
  }

  private takeReadback(bytes: number): GPUBuffer {
    const index = this.readbackPool.findIndex((buffer) => buffer.size === bytes);
    return index >= 0 ? this.readbackPool.splice(index, 1)[0] : this.state.ctx.readback('step stats readback', bytes);
  }
}
