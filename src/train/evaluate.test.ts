/**
 * The fast evaluation is exact: under strict isolation with a relative position encoding (or none), scoring test
 * targets many per DTI prompt gives every target the logit its own sliding-window prompt gives, on the built-in data
 * and, where it is present, on real MovieLens ratings (../shared/data/ml-latest-small). The weights are the seeded
 * initial ones scaled up, so that the logits spread out (exactness holds for any weights).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBuiltin, parseFiles } from '../data/index';
import { sampleUsers } from '../data/sample';
import { GpuContext } from '../gpu/context';
import { nodeDevice } from '../gpu/node-device';
import { ParamState } from '../model/gpu-model';
import { initParams } from '../model/params';
import { longestPrompt } from '../prompt/batch';
import { withItemText } from '../prompt/item-text';
import { packPrompts } from '../prompt/pack';
import type { PositionEncoding, TokenizedDataset } from '../prompt/types';
import { EXACT_EVAL_TARGETS_PER_PROMPT, createEvaluator, evalTargetsPerPrompt, evaluationPrompts, scorePrompts } from './evaluate';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './protocol';

const REAL = '../shared/data/ml-latest-small';

const logit = (p: number) => Math.log(p / (1 - p));
/** Initial weights (std 0.02) times this give logits of about unit spread. */
const WEIGHT_SCALE = 4;

async function compareScoring(dataset: TokenizedDataset, config: TrainConfig): Promise<{ targets: number; maxDifference: number; spread: number }> {
  const gpu = await nodeDevice();
  const written = withItemText(dataset, config.itemText);
  const packed = evaluationPrompts(written, config, 'test');
  const single = packPrompts(written, { n: config.n, k: 1, split: 'test' });
  expect(packed.length).toBeLessThan(single.length);
  const modelConfig = { ...config.model, vocabSize: dataset.vocab.tokens.length, maxSeqLen: longestPrompt(packed), seed: 5 };
  const params = initParams(modelConfig).map((x) => x * WEIGHT_SCALE);
  const ctx = new GpuContext(gpu.device);
  try {
    const state = new ParamState(ctx, modelConfig, params);
    const fast = await scorePrompts(createEvaluator(state, config, packed), packed, 'test');
    const slow = await scorePrompts(createEvaluator(state, config, single), single, 'test');
    expect(Array.from(fast.labels)).toEqual(Array.from(slow.labels));
    let maxDifference = 0;
    let low = Infinity;
    let high = -Infinity;
    for (let i = 0; i < slow.predictions.length; i++) {
      maxDifference = Math.max(maxDifference, Math.abs(logit(fast.predictions[i]) - logit(slow.predictions[i])));
      low = Math.min(low, logit(slow.predictions[i]));
      high = Math.max(high, logit(slow.predictions[i]));
    }
    return { targets: slow.predictions.length, maxDifference, spread: high - low };
  } finally {
    ctx.destroy();
  }
}

const small: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  n: 6,
  k: 8,
  itemText: 'both',
  model: { dModel: 32, nHeads: 2, nLayers: 2, dFF: 64, positionEncoding: 'rope', forgetting: false },
};

describe('evaluation packing', () => {
  it('packs many targets per prompt only where that is exact', () => {
    const at = (isolation: TrainConfig['isolation'], positionEncoding: PositionEncoding) =>
      evalTargetsPerPrompt({ isolation, model: { ...small.model, positionEncoding } });
    expect([at('strict', 'rope'), at('strict', 'alibi'), at('strict', 'none')]).toEqual([EXACT_EVAL_TARGETS_PER_PROMPT, EXACT_EVAL_TARGETS_PER_PROMPT, EXACT_EVAL_TARGETS_PER_PROMPT]);
    expect([at('strict', 'learned'), at('window', 'rope'), at('sum-isolated', 'none'), at('full-causal', 'alibi')]).toEqual([1, 1, 1, 1]);
  });

  const cases = [
    ...(['rope', 'alibi', 'none'] as const).map((positionEncoding) => ({ positionEncoding, forgetting: false })),
    { positionEncoding: 'alibi' as const, forgetting: true },
  ];
  for (const { positionEncoding, forgetting } of cases) {
    it(`gives every test target its SW logit on the built-in data (strict, ${positionEncoding}${forgetting ? ' + forgetting' : ''})`, async () => {
      const dataset = loadBuiltin('small').dataset;
      const result = await compareScoring(dataset, { ...small, model: { ...small.model, positionEncoding, forgetting } });
      expect(result.targets).toBeGreaterThan(300);
      expect(result.spread).toBeGreaterThan(0.5);
      expect(result.maxDifference).toBeLessThan(1e-4);
    });
  }

  it.skipIf(!existsSync(`${REAL}/ratings.csv`))(
    'gives every test target its SW logit on real MovieLens ratings (ml-latest-small, 40 users, when present)',
    async () => {
      const files = ['ratings.csv', 'movies.csv'].map((name) => new File([readFileSync(`${REAL}/${name}`)], name));
      const loaded = await parseFiles(files, { labelRule: { threshold: 4, inclusive: true } });
      const result = await compareScoring(sampleUsers(loaded.dataset, 40), { ...small, n: 10, k: 20 });
      expect(result.targets).toBeGreaterThan(300);
      expect(result.spread).toBeGreaterThan(0.5);
      expect(result.maxDifference).toBeLessThan(1e-4);
    },
  );
});
