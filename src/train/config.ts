import { validateModelConfig } from '../model/config';
import { ISOLATION_LEVELS, ITEM_TEXTS, POSITION_ENCODINGS, SPLIT_TRAIN, type TokenizedDataset } from '../prompt/types';
import type { ModelSize, TrainConfig } from './protocol';

export interface ConfigCheck {
  /** Problems that prevent a run, each naming the setting and what is expected. */
  errors: string[];
  /** Consequences worth knowing that do not block a run. */
  notes: string[];
}

const integerIn = (errors: string[], label: string, value: number, min: number, max: number) => {
  if (!Number.isInteger(value) || value < min || value > max) errors.push(`${label} must be a whole number from ${min} to ${max} (got ${value})`);
};

/** Validates a training configuration; invalid values are explained, never clamped. */
export function checkTrainConfig(config: TrainConfig): ConfigCheck {
  const errors: string[] = [];
  const notes: string[] = [];
  integerIn(errors, 'n (context interactions)', config.n, 1, 200);
  integerIn(errors, 'k (targets per prompt)', config.k, 1, 500);
  integerIn(errors, 'targets per step', config.batchTargets, 1, 65536);
  integerIn(errors, 'epochs', config.epochs, 1, 1000);
  integerIn(errors, 'max steps', config.maxSteps, 0, 10_000_000);
  integerIn(errors, 'seed', config.seed, 0, 2 ** 31 - 1);
  integerIn(errors, 'validation points per epoch', config.evalsPerEpoch, 1, 100);
  integerIn(errors, 'patience', config.patience, 0, 1000);
  if (!ITEM_TEXTS.includes(config.itemText)) errors.push(`item text must be one of ${ITEM_TEXTS.join(', ')} (got ${config.itemText})`);
  if (!(config.learningRate > 0 && config.learningRate <= 1)) errors.push(`learning rate must be in (0, 1] (got ${config.learningRate})`);
  if (!(config.weightDecay >= 0 && config.weightDecay < 1)) errors.push(`weight decay must be in [0, 1) (got ${config.weightDecay})`);
  if (!(config.maxGradNorm >= 0)) errors.push(`gradient clipping norm must be 0 (off) or positive (got ${config.maxGradNorm})`);
  if (!ISOLATION_LEVELS.includes(config.isolation)) errors.push(`isolation must be one of ${ISOLATION_LEVELS.join(', ')} (got ${config.isolation})`);
  if (!POSITION_ENCODINGS.includes(config.model.positionEncoding)) {
    errors.push(`position encoding must be one of ${POSITION_ENCODINGS.join(', ')} (got ${config.model.positionEncoding})`);
  }
  const m = config.model;
  const sizeErrors: string[] = [];
  integerIn(sizeErrors, 'layers', m.nLayers, 1, 48);
  integerIn(sizeErrors, 'd_model', m.dModel, 4, 4096);
  integerIn(sizeErrors, 'heads', m.nHeads, 1, 64);
  integerIn(sizeErrors, 'd_ff', m.dFF, 4, 16384);
  errors.push(...sizeErrors);
  if (sizeErrors.length === 0) {
    // Whatever else is wrong, sizes that cannot go together are said at once (not after the other errors are fixed).
    // Vocabulary and length come from the data; placeholders keep the shape checks meaningful.
    errors.push(...validateModelConfig({ ...m, vocabSize: 1, maxSeqLen: 1, seed: config.seed }));
  }
  if (config.paradigm === 'sw' && config.k !== 1) notes.push(`sliding window packs one target per prompt, so k = ${config.k} is not used`);
  if (config.paradigm === 'dti' && config.k === 1) notes.push('DTI with k = 1 is the sliding window');
  if (config.paradigm === 'dti' && config.k > 1 && config.model.positionEncoding === 'learned') {
    notes.push('learned absolute positions put each target at a different position than at serving time (positional bias; method §4.2)');
  }
  if (config.paradigm === 'dti' && config.k > 1 && (config.isolation === 'window' || config.isolation === 'full-causal')) {
    notes.push(`with isolation "${config.isolation}" hidden states leak history beyond the window into later targets (method §4.1)`);
  }
  return { errors, notes };
}

/** Targets per prompt actually used: SW is DTI with k = 1. */
export function effectiveK(config: Pick<TrainConfig, 'paradigm' | 'k'>): number {
  return config.paradigm === 'sw' ? 1 : config.k;
}

/**
 * Why the training targets under this n cannot teach a CTR model (all clicks, or none: the loss has nothing to tell
 * apart and every AUC is undefined), or null. Says which rule to change rather than training on them.
 */
export function oneClassProblem(dataset: TokenizedDataset, n: number): string | null {
  let clicks = 0;
  let count = 0;
  for (const user of dataset.users) {
    for (let h = n; h < user.items.length; h++) {
      if (user.split[h] !== SPLIT_TRAIN) continue;
      clicks += user.labels[h];
      count++;
    }
  }
  if (count === 0 || (clicks > 0 && clicks < count)) return null;
  return (
    `all ${count} training targets of "${dataset.name}" are ${clicks === 0 ? 'non-clicks' : 'clicks'}: a CTR model learns from the ` +
    'difference, and no AUC can be computed; choose another click threshold or other data'
  );
}

/** The fewest prompts of one DTI optimizer step: a step is never one user's window of k targets. */
export const MIN_PROMPTS_PER_STEP = 4;

/**
 * Prompts per optimizer step for about `batchTargets` targets, given the prompts' mean targets (1 for SW), and the
 * step's loss denominator: the targets such a step holds on average, so every target of an epoch weighs the same
 * whether its step holds full or partial prompts. A DTI step takes at least MIN_PROMPTS_PER_STEP prompts, so with
 * few targets per step and a large k it holds more targets than asked (checkConfig of src/store says so).
 */
export function promptsPerStep(batchTargets: number, prompts: number, targets: number): { prompts: number; lossDenominator: number } {
  const meanTargets = prompts ? targets / prompts : 1;
  const minimum = meanTargets > 1 ? MIN_PROMPTS_PER_STEP : 1;
  const count = Math.max(1, Math.min(prompts, Math.max(minimum, Math.round(batchTargets / meanTargets))));
  return { prompts: count, lossDenominator: Math.max(1, Math.round(count * meanTargets)) };
}

/**
 * A configuration as saved before the lab had these settings: batch size in prompts, one validation per epoch, no
 * forgetting.
 */
type SavedConfig = Partial<Omit<TrainConfig, 'model'>> &
  Pick<TrainConfig, 'n' | 'k' | 'paradigm' | 'isolation'> & { model: Omit<ModelSize, 'forgetting'> & Partial<ModelSize> } & {
    batchSize?: number;
    evalEvery?: number;
  };

/**
 * A saved configuration (a stored run, an imported model) in today's fields, saying what the run did: words for item
 * text, its batch of prompts as targets per step, one validation per epoch, no early stopping, no forgetting.
 */
export function upgradeConfig(saved: SavedConfig): TrainConfig {
  const { batchSize, evalEvery: _evalEvery, model, ...rest } = saved;
  return {
    model: { forgetting: false, ...model },
    itemText: 'words',
    batchTargets: (batchSize ?? 1) * effectiveK({ paradigm: saved.paradigm, k: saved.k }),
    evalsPerEpoch: 1,
    patience: 0,
    learningRate: 3e-3,
    epochs: 1,
    maxSteps: 0,
    seed: 1,
    weightDecay: 0.01,
    maxGradNorm: 1,
    ...rest,
  };
}
