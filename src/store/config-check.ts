/**
 * Model-size presets and the configuration check the page shows: the engine's own check (src/train/config.ts)
 * plus what only the loaded data can tell (are there targets with n predecessors, how long are the prompts).
 */
import { withItemText } from '../prompt/item-text';
import { maxPromptLength } from '../prompt/pack';
import { SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID, type TokenizedDataset } from '../prompt/types';
import { type ConfigCheck, MIN_PROMPTS_PER_STEP, checkTrainConfig, effectiveK, oneClassProblem, promptsPerStep } from '../train/config';
import type { ModelSize, TrainConfig } from '../train/protocol';
import { type GpuLimits, type MemoryEstimate, memoryEstimate, memoryProblem } from './memory';
import { trainingCost } from './prompt-view';

export type ModelPresetName = 'tiny' | 'small' | 'base' | 'large';

export const MODEL_PRESETS: Record<ModelPresetName, Omit<ModelSize, 'positionEncoding' | 'forgetting'> & { description: string }> = {
  tiny: { dModel: 32, nHeads: 2, nLayers: 1, dFF: 64, description: 'seconds per step even on software WebGPU' },
  small: { dModel: 64, nHeads: 4, nLayers: 2, dFF: 256, description: 'the default: trains in about a minute on a laptop GPU' },
  base: { dModel: 128, nHeads: 4, nLayers: 4, dFF: 512, description: 'for the medium and large datasets' },
  large: { dModel: 256, nHeads: 8, nLayers: 6, dFF: 1024, description: 'a discrete GPU is advised' },
};

/** The preset a model size matches, or null when the sizes were edited by hand. */
export function modelPresetOf(model: ModelSize): ModelPresetName | null {
  for (const [name, preset] of Object.entries(MODEL_PRESETS) as [ModelPresetName, (typeof MODEL_PRESETS)[ModelPresetName]][]) {
    if (preset.dModel === model.dModel && preset.nHeads === model.nHeads && preset.nLayers === model.nLayers && preset.dFF === model.dFF) {
      return name;
    }
  }
  return null;
}

/** Prompts longer than this are legal but make the mask picture and software WebGPU slow. */
const LONG_PROMPT_TOKENS = 4096;

export interface FullConfigCheck extends ConfigCheck {
  /** Longest train prompt under this n and k (tokens), when data is loaded and n is valid. */
  longestPrompt: number | null;
  /**
   * Targets of each split under this n: its interactions with at least n predecessors (the first n interactions of a
   * history are context only, so a split holds more interactions than targets).
   */
  targets: { train: number; valid: number; test: number } | null;
  /** GPU memory the run would need, when the data and the model sizes allow an estimate. */
  memory: MemoryEstimate | null;
}

/**
 * The configuration against the loaded data and, when known, the adapter's buffer limits: a run whose largest
 * buffer would not fit is an error naming the estimate and the setting to lower.
 */
export function checkConfig(config: TrainConfig, loaded: TokenizedDataset | null, limits: GpuLimits | null = null): FullConfigCheck {
  const check = checkTrainConfig(config);
  // Prompts as this run writes them (its item text sets their length).
  const dataset = loaded && check.errors.length === 0 ? withItemText(loaded, config.itemText) : loaded;
  const errors = [...check.errors];
  const notes = [...check.notes];
  let longestPrompt: number | null = null;
  let targets: FullConfigCheck['targets'] = null;
  let memory: MemoryEstimate | null = null;
  const k = effectiveK(config);
  if (dataset && Number.isInteger(config.n) && config.n >= 1 && Number.isInteger(k) && k >= 1) {
    const counts = [0, 0, 0]; // by split code
    let longestHistory = 0;
    for (const user of dataset.users) {
      longestHistory = Math.max(longestHistory, user.items.length);
      for (let h = config.n; h < user.items.length; h++) counts[user.split[h]]++;
    }
    targets = { train: counts[SPLIT_TRAIN], valid: counts[SPLIT_VALID], test: counts[SPLIT_TEST] };
    if (targets.train === 0) {
      errors.push(
        `no training target has n = ${config.n} interactions before it (the longest history in "${dataset.name}" has ${longestHistory}); lower n or load more data`,
      );
    } else {
      const classes = oneClassProblem(dataset, config.n);
      if (classes) errors.push(classes);
      longestPrompt = maxPromptLength(dataset, config.n, k);
      if (longestPrompt > LONG_PROMPT_TOKENS) {
        notes.push(`prompts reach ${longestPrompt} tokens: the mask picture and software WebGPU will be slow; lower n or k`);
      }
      // The model sizes must be valid for the layout the estimate counts (the engine's check said so above).
      if (check.errors.length === 0) {
        const cost = trainingCost(dataset, config.n, k);
        const step = promptsPerStep(config.batchTargets, cost.prompts, cost.targets);
        const stepPrompts = step.prompts;
        if (step.lossDenominator > 1.5 * config.batchTargets) {
          notes.push(
            `a DTI step takes at least ${MIN_PROMPTS_PER_STEP} prompts (never one user's window), here about ${step.lossDenominator} targets: ` +
              `more than the ${config.batchTargets} targets per step SW takes; raise targets per step to ${step.lossDenominator} or more for the same targets per step`,
          );
        }
        memory = memoryEstimate(config, k, dataset.vocab.tokens.length, longestPrompt, stepPrompts, limits);
        const problem = memoryProblem(memory, config);
        if (problem) errors.push(problem);
      }
    }
  }
  return { errors, notes, longestPrompt, targets, memory };
}
