/**
 * The prompts a run trains and scores on, and the model they size: one function for the trainer and for the export
 * to PyTorch (src/train/shards.ts), so a handed-over run packs exactly what the lab packs.
 */
import type { ModelConfig } from '../model/config';
import { longestPrompt } from '../prompt/batch';
import { withItemText } from '../prompt/item-text';
import { packPrompts } from '../prompt/pack';
import type { PackedPrompt, TokenizedDataset } from '../prompt/types';
import { effectiveK, promptsPerStep } from './config';
import { evaluationPrompts, validationSampleUsers } from './evaluate';
import type { TrainConfig } from './protocol';

export interface RunPrompts {
  /** The dataset written with the run's item text. */
  written: TokenizedDataset;
  /** Training prompts: n context interactions, then up to k targets (SW: k = 1). */
  train: PackedPrompt[];
  /** The fixed validation sample scored at every validation point. */
  validSample: PackedPrompt[];
  valid: PackedPrompt[];
  test: PackedPrompt[];
  /** Vocabulary and longest prompt from the data, the rest from the run. */
  modelConfig: ModelConfig;
  /** Prompts per optimizer step and the step's loss denominator. */
  step: { prompts: number; lossDenominator: number };
}

export function runPrompts(dataset: TokenizedDataset, config: TrainConfig): RunPrompts {
  const written = withItemText(dataset, config.itemText);
  const train = packPrompts(written, { n: config.n, k: effectiveK(config), split: 'train' });
  const validSample = evaluationPrompts(written, config, 'valid', validationSampleUsers(written, config.n));
  const valid = evaluationPrompts(written, config, 'valid');
  const test = evaluationPrompts(written, config, 'test');
  const modelConfig: ModelConfig = {
    ...config.model,
    vocabSize: dataset.vocab.tokens.length,
    maxSeqLen: Math.max(longestPrompt(train), longestPrompt(valid), longestPrompt(test), 1),
    seed: config.seed,
  };
  const step = promptsPerStep(
    config.batchTargets,
    train.length,
    train.reduce((sum, prompt) => sum + prompt.targets.length, 0),
  );
  return { written, train, validSample, valid, test, modelConfig, step };
}
