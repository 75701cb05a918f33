import type { PositionEncoding } from '../prompt/types';

export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nHeads: number;
  nLayers: number;
  dFF: number;
  /** Longest packed sequence the model accepts (learned positions are allocated for this many). */
  maxSeqLen: number;
  positionEncoding: PositionEncoding;
  /**
   * Distance-based forgetting: every head's attention score of query q on key p also gets −slope_h · (i_q − i_p), the
   * interaction distance, with ALiBi's slopes (attentionBiasSlope). A reconstruction (dti-method.md §4.1): relative,
   * so it keeps strict DTI equal to SW, and it fades history that leaks through layers instead of cutting it.
   */
  forgetting: boolean;
  seed: number;
}

export const RMS_EPS = 1e-5;
export const ROPE_BASE = 10000;
export const INIT_STD = 0.02;

export function headDim(config: ModelConfig): number {
  return config.dModel / config.nHeads;
}

/** Checks a model configuration; returns human-readable problems (empty when valid). */
export function validateModelConfig(config: ModelConfig): string[] {
  const problems: string[] = [];
  const positive = ['vocabSize', 'dModel', 'nHeads', 'nLayers', 'dFF', 'maxSeqLen'] as const;
  for (const key of positive) {
    if (!Number.isInteger(config[key]) || config[key] <= 0) problems.push(`${key} must be a positive integer (got ${config[key]})`);
  }
  if (config.dModel % config.nHeads !== 0) {
    problems.push(`d_model (${config.dModel}) must be divisible by the number of heads (${config.nHeads})`);
  } else if (config.positionEncoding === 'rope' && headDim(config) % 2 !== 0) {
    problems.push(`RoPE needs an even head dimension (d_model / heads = ${headDim(config)})`);
  }
  if (headDim(config) > 128) problems.push(`head dimension ${headDim(config)} exceeds the attention kernel's limit of 128`);
  return problems;
}

/**
 * Slope of head h (0-based) out of H, 2^(-8(h+1)/H): ALiBi's, per token of distance, and distance-based forgetting's,
 * per interaction of distance. With both on, a head's bias is −slope · (token distance + interaction distance).
 */
export function attentionBiasSlope(h: number, nHeads: number): number {
  return Math.pow(2, (-8 * (h + 1)) / nHeads);
}
