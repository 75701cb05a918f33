import { Rng } from '../util/rng';
import { INIT_STD, type ModelConfig } from './config';

/**
 * One flat Float32Array holds every parameter (llm.c style); gradients and AdamW moments use the same layout.
 * Matrices come first so weight decay applies to the prefix [0, decayedCount) and never to biases or norm gains.
 * Matrices are stored row-major as [in, out]: y = x @ W + b.
 */
export interface LayerTensors {
  qkvW: Tensor; // [d, 3d]: columns [0,d) = q, [d,2d) = k, [2d,3d) = v; head h owns columns h*hd..(h+1)*hd of each
  attnOutW: Tensor; // [d, d]
  fcW: Tensor; // [d, dFF]
  fcOutW: Tensor; // [dFF, d]
  qkvB: Tensor; // [3d]
  attnOutB: Tensor; // [d]
  fcB: Tensor; // [dFF]
  fcOutB: Tensor; // [d]
  norm1W: Tensor; // [d]
  norm2W: Tensor; // [d]
}

export interface Tensor {
  name: string;
  offset: number;
  shape: number[];
  size: number;
}

export interface ParamLayout {
  wte: Tensor; // [V, d]; also the LM head (tied), so [YES]/[NO] rows are the CTR readout
  wpe: Tensor; // [maxSeqLen, d] with learned positions, else size 0
  layers: LayerTensors[];
  finalNormW: Tensor; // [d]
  /** Every tensor in layout order. */
  tensors: Tensor[];
  decayedCount: number;
  total: number;
}

export function paramLayout(config: ModelConfig): ParamLayout {
  const { vocabSize: V, dModel: d, dFF: f, nLayers } = config;
  const tensors: Tensor[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]): Tensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, offset, shape, size };
    offset += size;
    tensors.push(t);
    return t;
  };
  const wte = add('wte', [V, d]);
  const wpe = add('wpe', config.positionEncoding === 'learned' ? [config.maxSeqLen, d] : [0, d]);
  const matrices = Array.from({ length: nLayers }, (_, l) => ({
    qkvW: add(`h${l}.qkvW`, [d, 3 * d]),
    attnOutW: add(`h${l}.attnOutW`, [d, d]),
    fcW: add(`h${l}.fcW`, [d, f]),
    fcOutW: add(`h${l}.fcOutW`, [f, d]),
  }));
  const decayedCount = offset;
  const layers: LayerTensors[] = matrices.map((m, l) => ({
    ...m,
    qkvB: add(`h${l}.qkvB`, [3 * d]),
    attnOutB: add(`h${l}.attnOutB`, [d]),
    fcB: add(`h${l}.fcB`, [f]),
    fcOutB: add(`h${l}.fcOutB`, [d]),
    norm1W: add(`h${l}.norm1W`, [d]),
    norm2W: add(`h${l}.norm2W`, [d]),
  }));
  const finalNormW = add('finalNormW', [d]);
  return { wte, wpe, layers, finalNormW, tensors, decayedCount, total: offset };
}

/**
 * GPT-2 initialisation, deterministic from config.seed: matrices ~ N(0, 0.02), residual projections scaled by
 * 1/sqrt(2·layers), biases 0, norm gains 1.
 */
export function initParams(config: ModelConfig, layout: ParamLayout = paramLayout(config)): Float32Array {
  const params = new Float32Array(layout.total);
  const rng = new Rng(config.seed);
  const residualStd = INIT_STD / Math.sqrt(2 * config.nLayers);
  const fillNormal = (t: Tensor, std: number) => {
    for (let i = 0; i < t.size; i++) params[t.offset + i] = rng.normal() * std;
  };
  fillNormal(layout.wte, INIT_STD);
  fillNormal(layout.wpe, INIT_STD);
  for (const layer of layout.layers) {
    fillNormal(layer.qkvW, INIT_STD);
    fillNormal(layer.attnOutW, residualStd);
    fillNormal(layer.fcW, INIT_STD);
    fillNormal(layer.fcOutW, residualStd);
    params.fill(1, layer.norm1W.offset, layer.norm1W.offset + layer.norm1W.size);
    params.fill(1, layer.norm2W.offset, layer.norm2W.offset + layer.norm2W.size);
  }
  params.fill(1, layout.finalNormW.offset, layout.finalNormW.offset + layout.finalNormW.size);
  return params;
}

export function tensorView(params: Float32Array, t: Tensor): Float32Array {
  return params.subarray(t.offset, t.offset + t.size);
}
