/**
 * The peer implementation: the model of docs/ENGINE.md written the way a TensorFlow.js user would write it, with
 * TF.js ops only (any backend; the benchmark uses 'webgpu'). The DTI mask is materialized as an additive dense
 * [B, 1, L, L] mask (0 where isAllowed, -1e9 elsewhere), gradients come from tf.variableGrads, clipping by the
 * global norm and AdamW (decoupled weight decay) are applied by hand, and a whole step runs inside tf.tidy.
 *
 * Parameters are tf.variables initialised from the lab's flat parameter buffer (src/model/params.ts layout), so both
 * implementations can start from the same point and their losses can be compared step by step.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { type ModelConfig, RMS_EPS, ROPE_BASE, headDim } from '../src/model/config';
import { type ParamLayout, paramLayout, tensorView } from '../src/model/params';
import type { OptimizerSettings } from '../src/model/gpu-model';
import { isAllowed } from '../src/prompt/mask';
import { type Batch, TOKEN_NO, TOKEN_YES } from '../src/prompt/types';

/** A batch as plain arrays for TF.js: built once on the CPU, uploaded as tensors every step (like the lab's upload). */
export interface DenseBatch {
  B: number;
  L: number;
  tokens: Int32Array; // [B·L]
  positions: Float32Array; // [B·L], for RoPE angles
  mask: Float32Array; // [B, 1, L, L] additive: 0 allowed, -1e9 blocked
  targetIndex: Int32Array; // [T], flat b·L + sumPos
  targetLabel: Float32Array; // [T]
}

export const MASK_BLOCKED = -1e9;

/** Materializes the lab's mask (isAllowed of src/prompt/mask.ts) as a dense additive mask. */
export function denseBatch(batch: Batch): DenseBatch {
  const { B, L, meta, n, isolation } = batch;
  const mask = new Float32Array(B * L * L).fill(MASK_BLOCKED);
  for (let b = 0; b < B; b++) {
    const row = b * L;
    for (let q = 0; q < L; q++) {
      const base = (b * L + q) * L;
      for (let p = 0; p <= q; p++) if (isAllowed(q, p, meta[row + q], meta[row + p], n, isolation)) mask[base + p] = 0;
    }
  }
  return {
    B,
    L,
    tokens: batch.tokens.slice(),
    positions: Float32Array.from(batch.positions),
    mask,
    targetIndex: batch.targetIndex.slice(),
    targetLabel: batch.targetLabel.slice(),
  };
}

interface LayerVars {
  qkvW: tf.Variable;
  attnOutW: tf.Variable;
  fcW: tf.Variable;
  fcOutW: tf.Variable;
  qkvB: tf.Variable;
  attnOutB: tf.Variable;
  fcB: tf.Variable;
  fcOutB: tf.Variable;
  norm1W: tf.Variable;
  norm2W: tf.Variable;
}

export interface TfStepResult {
  /** Mean loss before the update (scalar; the caller reads and disposes it). */
  loss: tf.Scalar;
  /** Global gradient norm before clipping (scalar; the caller reads and disposes it). */
  gradNorm: tf.Scalar;
}

const GELU_C = Math.sqrt(2 / Math.PI);

export class TfModel {
  readonly layout: ParamLayout;
  readonly wte: tf.Variable;
  readonly wpe: tf.Variable | null;
  readonly layers: LayerVars[];
  readonly finalNormW: tf.Variable;
  /** Every trainable variable, with whether AdamW decays it, and its moments. */
  private readonly slots: { p: tf.Variable; m: tf.Variable; v: tf.Variable; decay: boolean }[] = [];
  private readonly invFrequency: tf.Tensor2D | null;
  private t = 0;
  private static instances = 0;

  constructor(
    readonly config: ModelConfig,
    initial: Float32Array,
    private readonly optimizer: OptimizerSettings,
  ) {
    this.layout = paramLayout(config);
    if (initial.length !== this.layout.total) throw new Error(`expected ${this.layout.total} parameters, got ${initial.length}`);
    const made = new Map<string, tf.Variable>();
    // Variable names are global in TF.js: prefix them so several models can coexist.
    const prefix = `peer${TfModel.instances++}/`;
    for (const t of this.layout.tensors) {
      if (t.size === 0) continue;
      // tf.variable keeps its initial value's data, so the initial tensors can go at once.
      const [p, m, v] = tf.tidy(() => [
        tf.variable(tf.tensor(tensorView(initial, t).slice(), t.shape), true, prefix + t.name),
        tf.variable(tf.zeros(t.shape), false),
        tf.variable(tf.zeros(t.shape), false),
      ]);
      const decay = t.offset < this.layout.decayedCount;
      this.slots.push({ p, m, v, decay });
      made.set(t.name, p);
    }
    const get = (name: string) => {
      const v = made.get(name);
      if (!v) throw new Error(`no variable ${name}`);
      return v;
    };
    this.wte = get('wte');
    this.wpe = this.layout.wpe.size > 0 ? get('wpe') : null;
    this.layers = this.layout.layers.map((_, l) => ({
      qkvW: get(`h${l}.qkvW`),
      attnOutW: get(`h${l}.attnOutW`),
      fcW: get(`h${l}.fcW`),
      fcOutW: get(`h${l}.fcOutW`),
      qkvB: get(`h${l}.qkvB`),
      attnOutB: get(`h${l}.attnOutB`),
      fcB: get(`h${l}.fcB`),
      fcOutB: get(`h${l}.fcOutB`),
      norm1W: get(`h${l}.norm1W`),
      norm2W: get(`h${l}.norm2W`),
    }));
    this.finalNormW = get('finalNormW');
    const hd = headDim(config);
    this.invFrequency =
      config.positionEncoding === 'rope'
        ? tf.tensor2d(Float32Array.from({ length: hd / 2 }, (_, i) => Math.pow(ROPE_BASE, (-2 * i) / hd)), [1, hd / 2])
        : null;
  }

  /** The mean BCE loss of a batch (inside a tidy or a gradient scope). */
  loss(batch: { tokens: tf.Tensor1D; positions: tf.Tensor1D; mask: tf.Tensor4D; targetIndex: tf.Tensor1D; targetLabel: tf.Tensor1D }, B: number, L: number): tf.Scalar {
    const { dModel: d, nHeads: H } = this.config;
    const hd = headDim(this.config);
    const rows = B * L;
    const pe = this.config.positionEncoding;
    if (pe === 'alibi' || this.config.forgetting) throw new Error('the TF.js peer implements rope, learned and none, not alibi or forgetting');

    let x: tf.Tensor2D = tf.gather(this.wte, batch.tokens) as tf.Tensor2D; // [rows, d]
    if (this.wpe) x = tf.add(x, tf.gather(this.wpe, tf.cast(batch.positions, 'int32')));

    // RoPE, interleaved pairs (2i, 2i+1) inside each head: angle = position · 10000^(-2i/hd).
    let rope: ((t: tf.Tensor2D) => tf.Tensor2D) | null = null;
    if (this.invFrequency) {
      const angle = tf.matMul(tf.reshape(batch.positions, [rows, 1]), this.invFrequency); // [rows, hd/2]
      const cos = tf.reshape(tf.cos(angle), [rows, 1, hd / 2, 1]);
      const sin = tf.reshape(tf.sin(angle), [rows, 1, hd / 2, 1]);
      rope = (t) => {
        const pairs = tf.reshape(t, [rows, H, hd / 2, 2]);
        const x0 = tf.slice(pairs, [0, 0, 0, 0], [rows, H, hd / 2, 1]);
        const x1 = tf.slice(pairs, [0, 0, 0, 1], [rows, H, hd / 2, 1]);
        const r0 = tf.sub(tf.mul(x0, cos), tf.mul(x1, sin));
        const r1 = tf.add(tf.mul(x0, sin), tf.mul(x1, cos));
        return tf.reshape(tf.concat([r0, r1], 3), [rows, d]);
      };
    }

    const heads = (t: tf.Tensor2D) => tf.transpose(tf.reshape(t, [B, L, H, hd]), [0, 2, 1, 3]); // [B, H, L, hd]
    const scale = tf.scalar(1 / Math.sqrt(hd));
    for (const w of this.layers) {
      const n1 = rmsnorm(x, w.norm1W);
      const qkv = tf.add(tf.matMul(n1, w.qkvW), w.qkvB); // [rows, 3d]
      let [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      if (rope) {
        q = rope(q);
        k = rope(k);
      }
      const scores = tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), scale), batch.mask); // [B, H, L, L]
      const probs = tf.softmax(scores);
      const attn = tf.reshape(tf.transpose(tf.matMul(probs, heads(v)), [0, 2, 1, 3]), [rows, d]) as tf.Tensor2D;
      x = tf.add(x, tf.add(tf.matMul(attn, w.attnOutW), w.attnOutB));
      const n2 = rmsnorm(x, w.norm2W);
      const h = gelu(tf.add(tf.matMul(n2, w.fcW), w.fcB));
      x = tf.add(x, tf.add(tf.matMul(h, w.fcOutW), w.fcOutB));
    }
    const xf = rmsnorm(x, this.finalNormW);
    const xt = tf.gather(xf, batch.targetIndex); // [T, d]
    const readout = tf.sub(tf.slice(this.wte, [TOKEN_YES, 0], [1, d]), tf.slice(this.wte, [TOKEN_NO, 0], [1, d])); // [1, d]
    const z = tf.sum(tf.mul(xt, readout), 1); // [T]
    const y = batch.targetLabel;
    // BCE with logits, stably: max(z, 0) - z·y + log(1 + exp(-|z|)).
    const losses = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    return tf.mean(losses) as tf.Scalar;
  }

  /**
   * One training step: upload the batch, loss and gradients (tf.variableGrads), global-norm clipping, AdamW.
   * Returns the loss and gradient norm as scalars without reading them (the GPU work stays queued).
   */
  trainStep(data: DenseBatch, learningRate: number): TfStepResult {
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.optimizer;
    this.t += 1;
    const t = this.t;
    return tf.tidy(() => {
      const { B, L } = data;
      const batch = {
        tokens: tf.tensor1d(data.tokens, 'int32'),
        positions: tf.tensor1d(data.positions, 'float32'),
        mask: tf.tensor4d(data.mask, [B, 1, L, L]),
        targetIndex: tf.tensor1d(data.targetIndex, 'int32'),
        targetLabel: tf.tensor1d(data.targetLabel, 'float32'),
      };
      const { value, grads } = tf.variableGrads(() => this.loss(batch, B, L));
      // A chain of adds, not tf.addN: addN binds every input in one shader, past the storage-buffer limit of small
      // adapters (SwiftShader's 8 per stage) once there are more than a handful of parameter tensors.
      const sumSquares = this.slots.map(({ p }) => tf.sum(tf.square(grads[p.name]))).reduce((a, b) => tf.add(a, b));
      const gradNorm = tf.sqrt(sumSquares) as tf.Scalar;
      const clipScale = maxGradNorm > 0 ? tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxGradNorm), tf.add(gradNorm, tf.scalar(1e-6)))) : tf.scalar(1);
      const b1 = tf.scalar(beta1);
      const b2 = tf.scalar(beta2);
      const c1 = tf.scalar(1 - beta1);
      const c2 = tf.scalar(1 - beta2);
      const lr = tf.scalar(learningRate);
      const bias1 = tf.scalar(1 - Math.pow(beta1, t));
      const bias2 = tf.scalar(1 - Math.pow(beta2, t));
      const epsilon = tf.scalar(eps);
      const wd = tf.scalar(weightDecay);
      for (const { p, m, v, decay } of this.slots) {
        const g = tf.mul(grads[p.name], clipScale);
        const mNew = tf.add(tf.mul(b1, m), tf.mul(c1, g));
        const vNew = tf.add(tf.mul(b2, v), tf.mul(c2, tf.square(g)));
        let update: tf.Tensor = tf.div(tf.div(mNew, bias1), tf.add(tf.sqrt(tf.div(vNew, bias2)), epsilon));
        if (decay && weightDecay > 0) update = tf.add(update, tf.mul(wd, p));
        m.assign(mNew);
        v.assign(vNew);
        p.assign(tf.sub(p, tf.mul(lr, update)));
      }
      return { loss: value, gradNorm };
    });
  }

  dispose(): void {
    for (const { p, m, v } of this.slots) {
      p.dispose();
      m.dispose();
      v.dispose();
    }
    this.invFrequency?.dispose();
  }
}

function rmsnorm(x: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D {
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(x), 1, true), tf.scalar(RMS_EPS)));
  return tf.mul(tf.mul(x, rstd), w);
}

/** GELU, tanh approximation: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))). */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.scalar(GELU_C), tf.add(x, tf.mul(tf.scalar(0.044715), tf.mul(x, tf.square(x)))));
  return tf.mul(tf.mul(tf.scalar(0.5), x), tf.add(tf.scalar(1), tf.tanh(inner)));
}
