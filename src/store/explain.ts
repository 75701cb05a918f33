/**
 * Explain mode: a guided walk from one sliding-window prompt to DTI. Each step sets the real configuration (the views
 * then show the real data under it); the numbers the steps quote are counted on the loaded dataset.
 */
import { interactionLength } from '../prompt/pack';
import { SPLIT_TRAIN, type TokenizedDataset } from '../prompt/types';
import type { TrainConfig } from '../train/protocol';
import { type TrainingCost, trainingCost } from './prompt-view';

export type ExplainStepId = 'sw-prompt' | 'repeated-work' | 'packing' | 'window-mask' | 'leakage' | 'positions' | 'result';

export interface ExplainStep {
  id: ExplainStepId;
  title: string;
  /** Configuration changes the step makes (applied on top of the current one). */
  apply(config: TrainConfig): TrainConfig;
  /** Show the receptive field of the prompt's last target. */
  showField: boolean;
  /** Show token positions in the prompt view. */
  showPositions?: boolean;
  /** Id of the page section the step points at (scrolled into view and highlighted). */
  focus: 'prompt-view' | 'mask-view' | 'runs';
}

/** k used by the DTI steps when the configuration has k = 1. */
const EXPLAIN_K = 10;
export const dtiK = (config: TrainConfig) => (config.k > 1 ? config.k : EXPLAIN_K);

export const EXPLAIN_STEPS: readonly ExplainStep[] = [
  {
    id: 'sw-prompt',
    title: 'One prompt, one target',
    apply: (c) => ({ ...c, paradigm: 'sw', isolation: 'window' }),
    showField: false,
    focus: 'prompt-view',
  },
  {
    id: 'repeated-work',
    title: 'The repeated work of the sliding window',
    apply: (c) => ({ ...c, paradigm: 'sw', isolation: 'window' }),
    showField: false,
    focus: 'prompt-view',
  },
  {
    id: 'packing',
    title: 'Packing k targets into one prompt',
    apply: (c) => ({ ...c, paradigm: 'dti', k: dtiK(c), isolation: 'full-causal' }),
    showField: false,
    focus: 'prompt-view',
  },
  {
    id: 'window-mask',
    title: 'The window mask',
    apply: (c) => ({ ...c, paradigm: 'dti', k: dtiK(c), isolation: 'window' }),
    showField: false,
    focus: 'mask-view',
  },
  {
    id: 'leakage',
    title: 'Hidden-state leakage',
    apply: (c) => ({
      ...c,
      paradigm: 'dti',
      k: dtiK(c),
      isolation: 'window',
      // One layer cannot leak: a [SUM] then reads only its window. Two layers show the path through the context.
      model: { ...c.model, nLayers: Math.max(2, c.model.nLayers) },
    }),
    showField: true,
    focus: 'mask-view',
  },
  {
    id: 'positions',
    title: 'Positional bias',
    apply: (c) => ({ ...c, paradigm: 'dti', k: dtiK(c), isolation: 'strict', model: { ...c.model, positionEncoding: 'learned' } }),
    showField: false,
    showPositions: true,
    focus: 'prompt-view',
  },
  {
    id: 'result',
    title: 'The measured result',
    apply: (c) => ({ ...c, paradigm: 'dti', k: dtiK(c), isolation: 'strict', model: { ...c.model, positionEncoding: 'rope' } }),
    showField: false,
    focus: 'runs',
  },
];

export interface ExplainFacts {
  n: number;
  k: number;
  sw: TrainingCost;
  dti: TrainingCost;
  /** Tokens of the train split's interactions counted once each: what an epoch would cost with no re-encoding. */
  distinctTokens: number;
}

export function explainFacts(dataset: TokenizedDataset, n: number, k: number): ExplainFacts {
  let distinctTokens = 0;
  for (const user of dataset.users) {
    // Every interaction a train prompt reads: the train targets and the n context interactions before them.
    let lastTrain = -1;
    for (let h = n; h < user.items.length; h++) if (user.split[h] === SPLIT_TRAIN) lastTrain = h;
    for (let h = 0; h <= lastTrain; h++) distinctTokens += interactionLength(dataset, user.items[h]);
  }
  return { n, k, sw: trainingCost(dataset, n, 1), dti: trainingCost(dataset, n, k), distinctTokens };
}
