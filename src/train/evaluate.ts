/**
 * Evaluation (method doc §5): every validation and test target scored as it would be served, by its own n-interaction
 * window. Under strict isolation with a relative position encoding (or none) a DTI prompt gives every target exactly
 * its sliding-window logit (the lab's exactness property, src/model/gpu-model.test.ts), so those runs score many
 * targets per prompt; every other run scores SW prompts, in batches as large as memory allows.
 */
import { GpuContext } from '../gpu/context';
import type { AcquiredDevice } from '../gpu/device';
import type { ModelConfig } from '../model/config';
import { GpuModel, ParamState, rowsThatFit } from '../model/gpu-model';
import { paramLayout } from '../model/params';
import { batchLength, longestPrompt, makeBatch } from '../prompt/batch';
import { withItemText } from '../prompt/item-text';
import { SPLIT_CODE, type SplitName, packPrompts } from '../prompt/pack';
import type { PackedPrompt, TokenizedDataset } from '../prompt/types';
import { Rng } from '../util/rng';
import { NO_METRICS, ctrMetrics } from './metrics';
import type { Metrics, TrainConfig } from './protocol';
import { TrainingError } from './training-error';

/** Targets per evaluation prompt where DTI packing is exact: long prompts cost the model no more per target. */
export const EXACT_EVAL_TARGETS_PER_PROMPT = 32;

/** Validation targets scored at each validation point during training (all of them at the end). */
export const VALIDATION_SAMPLE_TARGETS = 4096;

/** The validation sample's users are the same for every run and seed, so validation curves compare. */
const VALIDATION_SAMPLE_SEED = 7;

/** Whether packing several targets per prompt scores exactly what SW prompts would, under this run's rule. */
export function exactPacking(config: Pick<TrainConfig, 'isolation' | 'model'>): boolean {
  return config.isolation === 'strict' && config.model.positionEncoding !== 'learned';
}

export function evalTargetsPerPrompt(config: Pick<TrainConfig, 'isolation' | 'model'>): number {
  return exactPacking(config) ? EXACT_EVAL_TARGETS_PER_PROMPT : 1;
}

/** Targets of a split one prompt per target would have: interactions of the split with at least n before them. */
export function countTargets(dataset: TokenizedDataset, n: number, split: SplitName, users?: readonly number[]): number {
  const code = SPLIT_CODE[split];
  let count = 0;
  for (const u of users ?? dataset.users.keys()) {
    const user = dataset.users[u];
    for (let t = n; t < user.items.length; t++) if (user.split[t] === code) count++;
  }
  return count;
}

/**
 * The users whose validation targets form the fixed validation sample: users in a seeded order until their targets
 * reach VALIDATION_SAMPLE_TARGETS (every user when the split is smaller), listed in dataset order.
 */
export function validationSampleUsers(dataset: TokenizedDataset, n: number): number[] {
  const order = new Rng(VALIDATION_SAMPLE_SEED).shuffle([...dataset.users.keys()]);
  const chosen: number[] = [];
  let targets = 0;
  for (const u of order) {
    if (targets >= VALIDATION_SAMPLE_TARGETS) break;
    const count = countTargets(dataset, n, 'valid', [u]);
    if (count === 0) continue;
    chosen.push(u);
    targets += count;
  }
  return chosen.sort((a, b) => a - b);
}

/** The prompts that score a split's targets under this run's rule (the dataset already written with its item text). */
export function evaluationPrompts(
  dataset: TokenizedDataset,
  config: Pick<TrainConfig, 'n' | 'isolation' | 'model'>,
  split: 'valid' | 'test',
  users?: readonly number[],
): PackedPrompt[] {
  return packPrompts(dataset, { n: config.n, k: evalTargetsPerPrompt(config), split, users });
}

export interface Scored {
  metrics: Metrics;
  /** P(click) per target, in the prompts' order (the canonical order for prompts from evaluationPrompts). */
  predictions: Float32Array;
  labels: Uint8Array;
}

/** A forward-only model instance sized for these prompts: as many rows as fit MAX_BATCH_TOKENS and the device. */
export function createEvaluator(state: ParamState, config: Pick<TrainConfig, 'n' | 'isolation'>, prompts: readonly PackedPrompt[]): GpuModel {
  const L = Math.max(1, longestPrompt(prompts));
  const B = Math.max(1, Math.min(prompts.length, rowsThatFit(state.ctx.device.limits, state.config, L)));
  const perPrompt = prompts.reduce((m, p) => Math.max(m, p.targets.length), 1);
  return new GpuModel(state, { B, L, maxTargets: B * perPrompt, n: config.n, isolation: config.isolation }, false);
}

/**
 * Scores the targets of `prompts`. Prompts go by length, so each batch runs at about its prompts' own length; the
 * predictions come back in the prompts' order. `onProgress` gets the share of targets scored.
 */
export async function scorePrompts(
  evaluator: GpuModel,
  prompts: readonly PackedPrompt[],
  split: 'valid' | 'test',
  onProgress: (fraction: number) => void = () => {},
): Promise<Scored> {
  const { B, L, n, isolation } = evaluator.shape;
  const offsets: number[] = [];
  let total = 0;
  for (const prompt of prompts) {
    offsets.push(total);
    total += prompt.targets.length;
  }
  const predictions = new Float32Array(total);
  const labels = new Uint8Array(total);
  const byLength = [...prompts.keys()].sort((a, b) => prompts[a].tokens.length - prompts[b].tokens.length);
  let scored = 0;
  for (let start = 0; start < byLength.length; start += B) {
    const group = byLength.slice(start, start + B);
    const groupPrompts = group.map((i) => prompts[i]);
    const batch = makeBatch(groupPrompts, { L: batchLength(groupPrompts, L), B, n, isolation });
    const probs = await evaluator.predict(batch);
    let t = 0;
    for (const i of group) {
      prompts[i].targets.forEach((target, j) => {
        predictions[offsets[i] + j] = probs[t++];
        labels[offsets[i] + j] = target.label;
      });
    }
    scored += t;
    onProgress(total ? scored / total : 1);
  }
  // A NaN has no rank and no side of 0.5: metrics of such predictions would be undefined, not a number to report.
  const nonFinite = predictions.reduce((count, p) => count + (Number.isFinite(p) ? 0 : 1), 0);
  if (nonFinite) {
    throw new TrainingError(
      'diverged',
      `${nonFinite} of ${total} ${split === 'valid' ? 'validation' : 'test'} predictions are not finite numbers: ` +
        'the weights hold NaN or infinite values (a training step that overflowed, or an imported model that contains them).',
    );
  }
  return { metrics: total ? ctrMetrics(predictions, labels) : { ...NO_METRICS }, predictions, labels };
}

/**
 * Evaluates given parameters (for instance an imported model) on a dataset's validation and test splits. The
 * dataset must use the vocabulary the parameters were trained with; the caller checks that.
 */
export async function evaluateParams(
  gpu: AcquiredDevice,
  dataset: TokenizedDataset,
  config: TrainConfig,
  params: Float32Array,
): Promise<{ valid: Metrics; test: Metrics }> {
  const written = withItemText(dataset, config.itemText);
  const validPrompts = evaluationPrompts(written, config, 'valid');
  const testPrompts = evaluationPrompts(written, config, 'test');
  if (validPrompts.length + testPrompts.length === 0) return { valid: { ...NO_METRICS }, test: { ...NO_METRICS } };
  const evalLength = Math.max(longestPrompt(validPrompts), longestPrompt(testPrompts), 1);
  const modelConfig: ModelConfig = { ...config.model, vocabSize: dataset.vocab.tokens.length, maxSeqLen: evalLength, seed: config.seed };
  const layout = paramLayout(modelConfig);
  if (config.model.positionEncoding === 'learned') {
    // Learned positions were sized for the training run's longest prompt: evaluation may not run past them.
    const learnedPositions = (params.length - (layout.total - layout.wpe.size)) / config.model.dModel;
    if (evalLength > learnedPositions) {
      throw new TrainingError(
        'invalid-config',
        `this model learned positions for prompts of up to ${learnedPositions} tokens, but this dataset's evaluation prompts ` +
          `(n = ${config.n}) are up to ${evalLength} tokens long; evaluate it with a smaller n or on data with shorter items`,
      );
    }
    modelConfig.maxSeqLen = learnedPositions;
  }
  const ctx = new GpuContext(gpu.device);
  try {
    let state: ParamState;
    try {
      state = new ParamState(ctx, modelConfig, params);
    } catch (error) {
      throw new TrainingError('too-large', (error as Error).message);
    }
    const score = async (prompts: PackedPrompt[], split: 'valid' | 'test') => {
      if (prompts.length === 0) return { ...NO_METRICS };
      let evaluator: GpuModel;
      try {
        evaluator = createEvaluator(state, config, prompts);
      } catch (error) {
        throw new TrainingError('too-large', (error as Error).message);
      }
      return (await scorePrompts(evaluator, prompts, split)).metrics;
    };
    return { valid: await score(validPrompts, 'valid'), test: await score(testPrompts, 'test') };
  } finally {
    ctx.destroy();
  }
}
