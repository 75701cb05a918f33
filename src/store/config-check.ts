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

/**
 * What the check reads from the data for one n, k and item text: passes over every interaction (a second or more at
 * 25 M interactions), so a check keeps them and the next check reuses them while the data, n, k and item text stay.
 */
export interface DataFacts {
  loaded: TokenizedDataset;
  n: number;
  k: number;
  /** null: the data's own item text (the configuration's is not valid). */
  itemText: TrainConfig['itemText'] | null;
  /** The data as this run's prompts write it (its item text sets their length). */
  dataset: TokenizedDataset;
  /** Targets of each split: interactions with at least n predecessors. */
  targets: { train: number; valid: number; test: number };
  longestHistory: number;
  /** Why the training targets cannot train a CTR model (all of one class), or null. */
  oneClass: string | null;
  /** Longest train prompt (tokens) and the DTI prompts and targets of an epoch; null without training targets. */
  longestPrompt: number | null;
  cost: { prompts: number; targets: number } | null;
}

export function dataFacts(loaded: TokenizedDataset, n: number, k: number, itemText: TrainConfig['itemText'] | null): DataFacts {
  const dataset = itemText === null ? loaded : withItemText(loaded, itemText);
  const counts = [0, 0, 0]; // by split code
  let longestHistory = 0;
  for (const user of dataset.users) {
    longestHistory = Math.max(longestHistory, user.items.length);
    for (let h = n; h < user.items.length; h++) counts[user.split[h]]++;
  }
  const targets = { train: counts[SPLIT_TRAIN], valid: counts[SPLIT_VALID], test: counts[SPLIT_TEST] };
  const trainable = targets.train > 0;
  return {
    loaded,
    n,
    k,
    itemText,
    dataset,
    targets,
    longestHistory,
    oneClass: trainable ? oneClassProblem(dataset, n) : null,
    longestPrompt: trainable ? maxPromptLength(dataset, n, k) : null,
    cost: trainable ? trainingCost(dataset, n, k) : null,
  };
}

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
  /** The data facts this check read, for the next check to reuse (dataFacts). */
  facts: DataFacts | null;
}

/**
 * The configuration against the loaded data and, when known, the adapter's buffer limits: a run whose largest
 * buffer would not fit is an error naming the estimate and the setting to lower. `previous` lends its data facts when
 * they are for the same data, n, k and item text (a change of the learning rate or the model reads no data).
 */
export function checkConfig(
  config: TrainConfig,
  loaded: TokenizedDataset | null,
  limits: GpuLimits | null = null,
  previous: FullConfigCheck | null = null,
): FullConfigCheck {
  const check = checkTrainConfig(config);
  const errors = [...check.errors];
  const notes = [...check.notes];
  let memory: MemoryEstimate | null = null;
  const k = effectiveK(config);
  if (!loaded || !(Number.isInteger(config.n) && config.n >= 1 && Number.isInteger(k) && k >= 1)) {
    return { errors, notes, longestPrompt: null, targets: null, memory, facts: null };
  }
  const itemText = check.errors.length === 0 ? config.itemText : null;
  const kept = previous?.facts;
  const facts =
    kept && kept.loaded === loaded && kept.n === config.n && kept.k === k && kept.itemText === itemText ? kept : dataFacts(loaded, config.n, k, itemText);
  const { dataset, targets, longestPrompt, cost } = facts;
  if (longestPrompt === null || cost === null) {
    errors.push(
      `no training target has n = ${config.n} interactions before it (the longest history in "${dataset.name}" has ${facts.longestHistory}); lower n or load more data`,
    );
  } else {
    if (facts.oneClass) errors.push(facts.oneClass);
    if (longestPrompt > LONG_PROMPT_TOKENS) {
      notes.push(`prompts reach ${longestPrompt} tokens: the mask picture and software WebGPU will be slow; lower n or k`);
    }
    // The model sizes must be valid for the layout the estimate counts (the engine's check said so above).
    if (check.errors.length === 0) {
      const step = promptsPerStep(config.batchTargets, cost.prompts, cost.targets);
      if (step.lossDenominator > 1.5 * config.batchTargets) {
        notes.push(
          `a DTI step takes at least ${MIN_PROMPTS_PER_STEP} prompts (never one user's window), here about ${step.lossDenominator} targets: ` +
            `more than the ${config.batchTargets} targets per step SW takes; raise targets per step to ${step.lossDenominator} or more for the same targets per step`,
        );
      }
      memory = memoryEstimate(config, k, dataset.vocab.tokens.length, longestPrompt, step.prompts, limits);
      const problem = memoryProblem(memory, config);
      if (problem) errors.push(problem);
    }
  }
  return { errors, notes, longestPrompt, targets, memory, facts };
}
