/**
 * The whole model of docs/ENGINE.md on the CPU, composed of the reference ops: forward, backward and an AdamW trainer.
 * The ground truth for the GPU model's tests, and a no-WebGPU fallback for tiny runs.
 *
 * Works in float32 (the engine's precision) or float64 (pass a Float64Array of parameters: every activation and
 * gradient then has the same type, which the finite-difference tests use).
 */
import type { Batch } from '../../prompt/types';
import { type ModelConfig, headDim } from '../config';
import { type ParamLayout, type Tensor, paramLayout } from '../params';
import {
  type AdamWOptions,
  type AttentionShape,
  type FloatArray,
  adamwStep,
  addForward,
  attentionBackward,
  attentionForward,
  attentionWeights,
  ctrLogitsForward,
  ctrLossBackward,
  ctrLossForward,
  embeddingBackward,
  embeddingForward,
  geluBackward,
  geluForward,
  matmulBackward,
  matmulForward,
  rmsnormBackward,
  rmsnormForward,
  ropeBackward,
  ropeForward,
} from './ops';

export interface ReferenceResult<A extends FloatArray = Float32Array> {
  loss: number;
  probs: A;
  losses: A;
  /** Same layout as the parameters (src/model/params.ts). */
  grads: A;
}

export interface ReferenceForwardResult<A extends FloatArray = Float32Array> {
  loss: number;
  probs: A;
  losses: A;
  /** z_t per target: the YES-minus-NO logit at the target's [SUM] token. */
  logits: A;
}

/** What one layer's backward needs from its forward. */
interface LayerActivations {
  input: FloatArray; // residual stream entering the layer [rows, d]
  norm1: FloatArray;
  rstd1: FloatArray;
  qkv: FloatArray; // after RoPE when it applies: what attention consumed
  attention: FloatArray;
  lse: FloatArray;
  middle: FloatArray; // residual stream after the attention block
  norm2: FloatArray;
  rstd2: FloatArray;
  fcPre: FloatArray; // before GELU [rows, dFF]
  fcAct: FloatArray; // after GELU
}

interface ForwardTape {
  layers: LayerActivations[];
  residualOut: FloatArray; // residual stream after the last layer
  finalNorm: FloatArray; // xf
  rstdFinal: FloatArray;
  losses: FloatArray;
  probs: FloatArray;
  loss: number;
}

type Allocate = (length: number) => FloatArray;

function allocatorLike(params: FloatArray): Allocate {
  return params instanceof Float64Array ? (length) => new Float64Array(length) : (length) => new Float32Array(length);
}

function view(buffer: FloatArray, t: Tensor): FloatArray {
  return buffer.subarray(t.offset, t.offset + t.size);
}

function checkInputs(config: ModelConfig, layout: ParamLayout, params: FloatArray, batch: Batch): void {
  if (params.length !== layout.total) {
    throw new Error(`parameter buffer has ${params.length} values, the configuration needs ${layout.total}`);
  }
  const rows = batch.B * batch.L;
  for (let r = 0; r < rows; r++) {
    const token = batch.tokens[r];
    if (token < 0 || token >= config.vocabSize) throw new Error(`token ${token} at row ${r} is outside the vocabulary`);
    if (config.positionEncoding === 'learned' && (batch.positions[r] < 0 || batch.positions[r] >= config.maxSeqLen)) {
      throw new Error(`position ${batch.positions[r]} at row ${r} is outside the ${config.maxSeqLen} learned positions`);
    }
  }
}

function attentionShape(config: ModelConfig, batch: Batch): AttentionShape {
  return {
    B: batch.B,
    L: batch.L,
    nHeads: config.nHeads,
    headDim: headDim(config),
    n: batch.n,
    level: batch.isolation,
    alibi: config.positionEncoding === 'alibi',
    forgetting: config.forgetting,
  };
}

function runForward(config: ModelConfig, layout: ParamLayout, params: FloatArray, batch: Batch): ForwardTape {
  checkInputs(config, layout, params, batch);
  const allocate = allocatorLike(params);
  const { dModel: d, dFF: f, nHeads: H } = config;
  const hd = headDim(config);
  const rows = batch.B * batch.L;
  const learned = config.positionEncoding === 'learned';
  const shape = attentionShape(config, batch);

  let x = allocate(rows * d);
  embeddingForward(
    x,
    batch.tokens,
    learned ? batch.positions : null,
    view(params, layout.wte),
    learned ? view(params, layout.wpe) : null,
    rows,
    d,
  );

  const layers: LayerActivations[] = [];
  for (const tensors of layout.layers) {
    const a: LayerActivations = {
      input: x,
      norm1: allocate(rows * d),
      rstd1: allocate(rows),
      qkv: allocate(rows * 3 * d),
      attention: allocate(rows * d),
      lse: allocate(batch.B * H * batch.L),
      middle: allocate(rows * d),
      norm2: allocate(rows * d),
      rstd2: allocate(rows),
      fcPre: allocate(rows * f),
      fcAct: allocate(rows * f),
    };
    rmsnormForward(a.norm1, a.rstd1, a.input, view(params, tensors.norm1W), rows, d);
    matmulForward(a.qkv, a.norm1, view(params, tensors.qkvW), view(params, tensors.qkvB), rows, d, 3 * d);
    if (config.positionEncoding === 'rope') ropeForward(a.qkv, batch.positions, rows, H, hd);
    attentionForward(a.attention, a.lse, a.qkv, batch.meta, batch.positions, shape);
    const projected = allocate(rows * d);
    matmulForward(projected, a.attention, view(params, tensors.attnOutW), view(params, tensors.attnOutB), rows, d, d);
    addForward(a.middle, a.input, projected, rows * d);

    rmsnormForward(a.norm2, a.rstd2, a.middle, view(params, tensors.norm2W), rows, d);
    matmulForward(a.fcPre, a.norm2, view(params, tensors.fcW), view(params, tensors.fcB), rows, d, f);
    geluForward(a.fcAct, a.fcPre, rows * f);
    const fcOut = allocate(rows * d);
    matmulForward(fcOut, a.fcAct, view(params, tensors.fcOutW), view(params, tensors.fcOutB), rows, f, d);
    const next = allocate(rows * d);
    addForward(next, a.middle, fcOut, rows * d);
    layers.push(a);
    x = next;
  }

  const finalNorm = allocate(rows * d);
  const rstdFinal = allocate(rows);
  rmsnormForward(finalNorm, rstdFinal, x, view(params, layout.finalNormW), rows, d);
  const T = batch.targetIndex.length;
  const losses = allocate(T);
  const probs = allocate(T);
  const loss = ctrLossForward(losses, probs, finalNorm, view(params, layout.wte), batch.targetIndex, batch.targetLabel, d, batch.lossDenominator);
  return { layers, residualOut: x, finalNorm, rstdFinal, losses, probs, loss };
}

/** Forward only: the mean loss, per-target losses, probabilities and logits. */
export function referenceForward<A extends FloatArray = Float32Array>(
  config: ModelConfig,
  params: A,
  batch: Batch,
): ReferenceForwardResult<A> {
  const layout = paramLayout(config);
  const tape = runForward(config, layout, params, batch);
  const logits = allocatorLike(params)(batch.targetIndex.length);
  ctrLogitsForward(logits, tape.finalNorm, view(params, layout.wte), batch.targetIndex, config.dModel);
  return { loss: tape.loss, probs: tape.probs as A, losses: tape.losses as A, logits: logits as A };
}

/**
 * What the page shows of a model on one prompt: P(click) of each target and the attention probabilities of one layer's
 * head ([L, L], row = query) for batch row 0.
 */
export function referenceInspect(
  config: ModelConfig,
  params: Float32Array,
  batch: Batch,
  layer: number,
  head: number,
): { probs: Float32Array; attention: Float64Array } {
  const layout = paramLayout(config);
  if (!(Number.isInteger(layer) && layer >= 0 && layer < config.nLayers)) throw new RangeError(`layer ${layer} is not one of the model's ${config.nLayers}`);
  if (!(Number.isInteger(head) && head >= 0 && head < config.nHeads)) throw new RangeError(`head ${head} is not one of the model's ${config.nHeads}`);
  const tape = runForward(config, layout, params, batch);
  const { qkv, lse } = tape.layers[layer];
  return { probs: tape.probs as Float32Array, attention: attentionWeights(qkv, lse, batch.meta, batch.positions, attentionShape(config, batch), 0, head) };
}

/** Forward and backward: the loss and the gradient of the mean loss with respect to every parameter. */
export function referenceForwardBackward<A extends FloatArray = Float32Array>(
  config: ModelConfig,
  params: A,
  batch: Batch,
): ReferenceResult<A> {
  const layout = paramLayout(config);
  const tape = runForward(config, layout, params, batch);
  const allocate = allocatorLike(params);
  const { dModel: d, dFF: f, nHeads: H } = config;
  const hd = headDim(config);
  const rows = batch.B * batch.L;
  const learned = config.positionEncoding === 'learned';
  const shape = attentionShape(config, batch);
  const grads = allocate(layout.total);
  const dwte = view(grads, layout.wte);

  // Backward ops accumulate, so every activation gradient starts from a fresh zeroed buffer (or a copy of the
  // residual gradient, which is how the skip connection adds its share).
  const dFinalNorm = allocate(rows * d);
  ctrLossBackward(dFinalNorm, dwte, tape.finalNorm, view(params, layout.wte), tape.probs, batch.targetIndex, batch.targetLabel, d, batch.lossDenominator);
  let dResidual = allocate(rows * d);
  rmsnormBackward(
    dResidual,
    view(grads, layout.finalNormW),
    dFinalNorm,
    tape.residualOut,
    view(params, layout.finalNormW),
    tape.rstdFinal,
    rows,
    d,
  );

  for (let l = layout.layers.length - 1; l >= 0; l--) {
    const tensors = layout.layers[l];
    const a = tape.layers[l];
    const g = (t: Tensor) => view(grads, t);
    const p = (t: Tensor) => view(params, t);

    // MLP block: x_out = middle + gelu(norm2(middle) @ fcW + fcB) @ fcOutW + fcOutB
    const dFcAct = allocate(rows * f);
    matmulBackward(dFcAct, g(tensors.fcOutW), g(tensors.fcOutB), dResidual, a.fcAct, p(tensors.fcOutW), rows, f, d);
    const dFcPre = allocate(rows * f);
    geluBackward(dFcPre, a.fcPre, dFcAct, rows * f);
    const dNorm2 = allocate(rows * d);
    matmulBackward(dNorm2, g(tensors.fcW), g(tensors.fcB), dFcPre, a.norm2, p(tensors.fcW), rows, d, f);
    const dMiddle = dResidual.slice();
    rmsnormBackward(dMiddle, g(tensors.norm2W), dNorm2, a.middle, p(tensors.norm2W), a.rstd2, rows, d);

    // Attention block: middle = input + attention(rope(norm1(input) @ qkvW + qkvB)) @ attnOutW + attnOutB
    const dAttention = allocate(rows * d);
    matmulBackward(dAttention, g(tensors.attnOutW), g(tensors.attnOutB), dMiddle, a.attention, p(tensors.attnOutW), rows, d, d);
    const dQkv = allocate(rows * 3 * d);
    attentionBackward(dQkv, dAttention, a.attention, a.lse, a.qkv, batch.meta, batch.positions, shape);
    if (config.positionEncoding === 'rope') ropeBackward(dQkv, batch.positions, rows, H, hd);
    const dNorm1 = allocate(rows * d);
    matmulBackward(dNorm1, g(tensors.qkvW), g(tensors.qkvB), dQkv, a.norm1, p(tensors.qkvW), rows, d, 3 * d);
    const dInput = dMiddle.slice();
    rmsnormBackward(dInput, g(tensors.norm1W), dNorm1, a.input, p(tensors.norm1W), a.rstd1, rows, d);
    dResidual = dInput;
  }

  embeddingBackward(
    dwte,
    learned ? view(grads, layout.wpe) : null,
    dResidual,
    batch.tokens,
    learned ? batch.positions : null,
    rows,
    d,
  );
  return { loss: tape.loss, probs: tape.probs as A, losses: tape.losses as A, grads: grads as A };
}

/** Full-batch AdamW training on the CPU. Owns copies of the parameters and moments. */
export class ReferenceTrainer {
  readonly params: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Steps taken so far (AdamW's 1-based step is t after increment). */
  t = 0;
  private readonly decayedCount: number;

  constructor(
    readonly config: ModelConfig,
    params: Float32Array,
    private readonly opts: Omit<AdamWOptions, 'step' | 'decayedCount'>,
  ) {
    const layout = paramLayout(config);
    if (params.length !== layout.total) {
      throw new Error(`parameter buffer has ${params.length} values, the configuration needs ${layout.total}`);
    }
    this.params = params.slice();
    this.m = new Float32Array(layout.total);
    this.v = new Float32Array(layout.total);
    this.decayedCount = layout.decayedCount;
  }

  /** One forward, backward and AdamW update; returns the loss before the update. */
  step(batch: Batch): number {
    const { loss, grads } = referenceForwardBackward(this.config, this.params, batch);
    this.t += 1;
    adamwStep(this.params, grads, this.m, this.v, { ...this.opts, step: this.t, decayedCount: this.decayedCount });
    return loss;
  }
}
