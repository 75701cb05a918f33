/**
 * The GPU memory a run would need, estimated before it starts with the engine's own formula (estimateMemory in
 * src/model/gpu-model.ts), and compared with the adapter's buffer limits when the page knows them. The worker checks
 * the same again (checkFits) on the device it trains on.
 */
import type { ModelConfig } from '../model/config';
import { DEFAULT_BUFFER_LIMITS, estimateMemory, rowsThatFit } from '../model/gpu-model';
import type { TrainConfig } from '../train/protocol';

/** The adapter limits that bound one buffer (read once on the page from navigator.gpu.requestAdapter()). */
export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface MemoryEstimate {
  /** Bytes by part. */
  parameters: number;
  /** Gradients and the two AdamW moments. */
  optimizer: number;
  activations: number;
  activationGradients: number;
  /** Token ids, mask metadata, targets and labels of one batch. */
  batch: number;
  total: number;
  /** The largest single buffer, which must fit the adapter's per-buffer limit. */
  largestBuffer: number;
  /** What the estimate assumed: prompts per micro-batch, tokens per prompt (longest train prompt), targets per micro-batch. */
  B: number;
  L: number;
  maxTargets: number;
  /** The adapter's per-buffer limit, when known. */
  limit: number | null;
}

/** 1536 -> "1.5 KiB", 3.2e8 -> "305.2 MiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

export function bufferLimit(limits: GpuLimits | null): number | null {
  return limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : null;
}

/**
 * Training memory for this configuration on a dataset of `vocabSize` tokens whose longest train prompt has
 * `longestPrompt` tokens, with `stepPrompts` prompts per optimizer step: the trainer's micro-batches of B rows (as
 * many of the step's prompts as fit MAX_BATCH_TOKENS and the buffer limit), L = that length, maxTargets = B·k.
 */
export function memoryEstimate(
  config: TrainConfig,
  k: number,
  vocabSize: number,
  longestPrompt: number,
  stepPrompts: number,
  limits: GpuLimits | null,
): MemoryEstimate {
  const L = Math.max(1, longestPrompt);
  const model: ModelConfig = { ...config.model, vocabSize, maxSeqLen: L, seed: config.seed };
  const B = Math.min(stepPrompts, rowsThatFit(limits ?? DEFAULT_BUFFER_LIMITS, model, L));
  const maxTargets = B * k;
  const parts = estimateMemory(model, { B, L, maxTargets }, true);
  return { ...parts, B, L, maxTargets, limit: bufferLimit(limits) };
}

/**
 * Why the estimate does not fit the adapter, naming the setting to lower, or null when it fits or the limits are
 * unknown.
 */
export function memoryProblem(estimate: MemoryEstimate, config: TrainConfig): string | null {
  const { limit } = estimate;
  if (limit === null || estimate.largestBuffer <= limit) return null;
  const { nLayers: nl, dModel: d, dFF: f } = config.model;
  const head =
    `the largest GPU buffer would hold ${formatBytes(estimate.largestBuffer)} (total estimate ${formatBytes(estimate.total)}) ` +
    `but this GPU allows ${formatBytes(limit)} per buffer`;
  const parameterBytes = estimate.parameters;
  if (parameterBytes > limit) {
    return `${head}: the parameters alone take ${formatBytes(parameterBytes)}; lower d_model (${d}), d_ff (${f}) or the number of layers (${nl})`;
  }
  // The parameters fit and micro-batches shrink to what fits, so only a single prompt can be too long.
  return (
    `${head}, even with one prompt per batch; lower n or k (prompts of ${estimate.L} tokens), ` +
    `d_ff (${f}) or the number of layers (${nl})`
  );
}
