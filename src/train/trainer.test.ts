/**
 * End to end on the GPU: the real kernels learn a task whose labels depend on the history, and the loop reports
 * steps, validation and test metrics through its events.
 */
import { describe, expect, it } from 'vitest';
import { nodeDevice } from '../gpu/node-device';
import { initParams } from '../model/params';
import { TOKEN_YES } from '../prompt/types';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainerEvent } from './protocol';
import { syntheticDataset } from './synthetic';
import { TrainingError, evaluateParams, learningRateAt, train } from './trainer';

const dataset = syntheticDataset({ task: 'propensity', users: 160, historyLength: 24, seed: 9 });

const config: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  n: 8,
  k: 4,
  paradigm: 'dti',
  isolation: 'strict',
  model: { dModel: 32, nHeads: 2, nLayers: 2, dFF: 64, positionEncoding: 'rope' },
  learningRate: 1e-2,
  batchSize: 16,
  epochs: 2,
  seed: 1,
};

describe('training on the GPU', () => {
  // Each user clicks at 95 % or at 5 %: only the context's labels tell which (items carry no signal).
  it('learns a history-dependent task: test AUC above 0.9 on held-out targets', async () => {
    const events: TrainerEvent[] = [];
    const result = await train(await nodeDevice(), dataset, config, { emit: (e) => events.push(e) });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.length).toBe(result.steps);
    expect(result.steps).toBe(60); // 160 users × 12 train targets / k = 4 / batch 16, two epochs
    // The loss went down from chance (ln 2) and the held-out AUC is high.
    const last = result.losses.slice(-10).reduce((a, b) => a + b) / 10;
    expect(result.losses[0]).toBeGreaterThan(0.6);
    expect(last).toBeLessThan(0.4);
    expect(result.test.count).toBe(160 * 2);
    expect(result.test.auc).toBeGreaterThan(0.9);
    // Calibration is measured on the same targets: half the users click at 95 %, half at 5 %.
    expect(result.test.clickRate).toBeGreaterThan(0.3);
    expect(result.test.clickRate).toBeLessThan(0.7);
    expect(result.test.meanPrediction).toBeGreaterThan(0.3);
    expect(result.test.meanPrediction).toBeLessThan(0.7);
    expect(Number.isFinite(result.test.calibrationSlope)).toBe(true);
    expect(events.at(-1)?.type).toBe('done');
    // The trained parameters, evaluated again as an imported model would be, give the same test metrics.
    const again = await evaluateParams(await nodeDevice(), dataset, config, result.params);
    expect(again.test.auc).toBeCloseTo(result.test.auc, 5);
    expect(again.test.count).toBe(result.test.count);
  });

  it('refuses to evaluate a model with learned positions on prompts longer than it learned', async () => {
    const learned = { ...config, model: { ...config.model, positionEncoding: 'learned' as const } };
    const modelConfig = { ...learned.model, vocabSize: dataset.vocab.tokens.length, maxSeqLen: 12, seed: 1 };
    const evaluation = evaluateParams(await nodeDevice(), dataset, learned, initParams(modelConfig));
    await expect(evaluation).rejects.toThrow(/learned positions for prompts of up to 12 tokens, but .*\(n = 8\) are up to \d+ tokens/);
    await expect(evaluation).rejects.toMatchObject({ kind: 'invalid-config' });
  });

  it('refuses an invalid configuration with the setting named', async () => {
    const bad = { ...config, model: { ...config.model, nHeads: 3 } };
    await expect(train(await nodeDevice(), dataset, bad, { emit: () => {} })).rejects.toThrow(/divisible by the number of heads/);
    await expect(train(await nodeDevice(), dataset, bad, { emit: () => {} })).rejects.toBeInstanceOf(TrainingError);
  });

  it('stops a run whose loss turns non-finite, with a message that says what to try', async () => {
    const short = { ...config, epochs: 1, maxSteps: 20 };
    const probe = await train(await nodeDevice(), dataset, { ...short, maxSteps: 1 }, { emit: () => {} });
    // One NaN in the [YES] row of the tied head (as an earlier overflow would leave) makes every target's loss NaN.
    const poisoned = probe.params.slice();
    poisoned[TOKEN_YES * config.model.dModel] = NaN;
    const run = train(await nodeDevice(), dataset, short, { emit: () => {}, initialParams: poisoned });
    await expect(run).rejects.toThrow(/diverged at step 1: the (loss|gradient norm) became .*lower learning rate/s);
    // Evaluated without training (an imported model), the same weights give NaN predictions: refused, not scored.
    const scored = evaluateParams(await nodeDevice(), dataset, config, poisoned);
    await expect(scored).rejects.toThrow(/validation predictions are not finite numbers/);
    await expect(scored).rejects.toBeInstanceOf(TrainingError);
  });

  it('warms up, then decays the learning rate', () => {
    expect(learningRateAt(1, 1000, 1)).toBeCloseTo(0.02);
    expect(learningRateAt(50, 1000, 1)).toBeCloseTo(1);
    expect(learningRateAt(1000, 1000, 1)).toBeCloseTo(0.1);
  });
});
