/**
 * End to end on the GPU: the real kernels learn a task whose labels depend on the history, and the loop reports
 * steps, validation and test metrics through its events.
 */
import { describe, expect, it } from 'vitest';
import { nodeDevice } from '../gpu/node-device';
import { checkConfig } from '../store/config-check';
import { initParams } from '../model/params';
import { TOKEN_YES } from '../prompt/types';
import { makeBatch } from '../prompt/batch';
import { packPrompts } from '../prompt/pack';
import { referenceForward } from '../model/reference/model';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainerEvent } from './protocol';
import { syntheticDataset } from './synthetic';
import { evaluateParams } from './evaluate';
import { learningRateAt, train } from './trainer';
import { TrainingError } from './training-error';

const dataset = syntheticDataset({ task: 'propensity', users: 160, historyLength: 24, seed: 9 });

const config: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  n: 8,
  k: 4,
  paradigm: 'dti',
  isolation: 'strict',
  model: { dModel: 32, nHeads: 2, nLayers: 2, dFF: 64, positionEncoding: 'rope', forgetting: false },
  learningRate: 1e-2,
  // 16 prompts of k = 4 targets per step.
  batchTargets: 64,
  epochs: 2,
  seed: 1,
  evalsPerEpoch: 4,
  patience: 0,
};

describe('training on the GPU', () => {
  // Each user clicks at 95 % or at 5 %: only the context's labels tell which (items carry no signal).
  it('learns a history-dependent task: test AUC above 0.9 on held-out targets', async () => {
    const events: TrainerEvent[] = [];
    // The page's prompt, scored while training: a train prompt of user 3, layer 1's head 0.
    const shown = packPrompts(dataset, { n: config.n, k: config.k, split: 'train', users: [3] })[0];
    const inspect = () => ({ key: 'user 3', prompt: shown, layer: 1, head: 0 });
    const result = await train(await nodeDevice(), dataset, config, { emit: (e) => events.push(e), inspect });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.length).toBe(result.steps);
    expect(result.steps).toBe(60); // 160 users × 12 train targets / k = 4 / 16 prompts per step, two epochs
    expect(result.stopReason).toBe('completed');
    // Four validation points per epoch on the fixed sample; the kept weights are the best point's.
    const sample = events.filter((e) => e.type === 'eval' && e.sample);
    expect(sample.map((e) => e.type === 'eval' && e.step)).toEqual([8, 15, 23, 30, 38, 45, 53, 60]);
    expect(result.validCurve.map((p) => p.step)).toEqual([8, 15, 23, 30, 38, 45, 53, 60]);
    const best = result.validCurve.reduce((b, p) => (p.auc > b.auc ? p : b));
    expect(result.bestStep).toBe(best.step);
    expect(result.stopMessage).toMatch(new RegExp(`kept step ${best.step}'s weights`));
    // Time stamps grow with the steps and exclude evaluation.
    for (let i = 1; i < result.validCurve.length; i++) expect(result.validCurve[i].elapsedMs).toBeGreaterThan(result.validCurve[i - 1].elapsedMs);
    expect(result.validCurve.at(-1)!.elapsedMs).toBeCloseTo(result.trainMs, 0);
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
    // The inspections: P(click) of each shown target and one head's attention, from weights that moved, the last from
    // the kept weights (the same as the reference model on them).
    const inspections = events.filter((e) => e.type === 'inspection');
    expect(inspections.length).toBeGreaterThanOrEqual(2);
    const L = shown.tokens.length;
    for (const e of inspections) {
      expect([e.key, e.layer, e.head, e.probs.length, e.attention.length]).toEqual(['user 3', 1, 0, shown.targets.length, L * L]);
      const sums = Array.from({ length: L }, (_, q) => e.attention.subarray(q * L, (q + 1) * L).reduce((a, b) => a + b, 0));
      for (const sum of sums) expect(sum).toBeCloseTo(1, 4);
    }
    const final = inspections.at(-1)!;
    const modelConfig = result.modelConfig;
    const reference = referenceForward(modelConfig, result.params, makeBatch([shown], { L, n: config.n, isolation: config.isolation }));
    for (let t = 0; t < shown.targets.length; t++) expect(final.probs[t]).toBeCloseTo(reference.probs[t], 5);
    expect(Array.from(inspections[0].probs)).not.toEqual(Array.from(final.probs));
    // The kept parameters, evaluated again as an imported model would be, give the same test metrics.
    const again = await evaluateParams(await nodeDevice(), dataset, config, result.params);
    expect(again.test.auc).toBeCloseTo(result.test.auc, 5);
    expect(again.test.count).toBe(result.test.count);
    // Test predictions in canonical order, with the interval, the baselines on the same targets and no warning.
    expect(result.testPredictions).toHaveLength(result.test.count);
    expect(result.testAucInterval.low).toBeLessThan(result.test.auc);
    expect(result.testAucInterval.high).toBeGreaterThan(result.test.auc);
    expect(result.baselines.count).toBe(result.test.count);
    // Only the context's labels carry signal: the user's click rate ranks as well as the model, item popularity barely.
    expect(result.baselines.userRate).toBeGreaterThan(0.9);
    expect(result.baselines.popularity).toBeLessThan(0.7);
    expect(result.evalTargetsPerPrompt).toBeGreaterThan(1);
  });

  it('keeps the best validation point when the validation AUC falls later, and stops early after `patience` points', async () => {
    // Training past the point where the validation AUC peaks: a high learning rate over many epochs.
    const events: TrainerEvent[] = [];
    const run = { ...config, learningRate: 0.05, epochs: 30, patience: 3 };
    const result = await train(await nodeDevice(), dataset, run, { emit: (e) => events.push(e) });
    const curve = result.validCurve;
    const bestIndex = curve.reduce((b, p, i) => (p.auc > curve[b].auc ? i : b), 0);
    expect(result.stopReason).toBe('early-stopped');
    expect(result.steps).toBeLessThan(30 * 30);
    // Exactly `patience` points after the best one, none of them better.
    expect(curve.length - 1 - bestIndex).toBe(3);
    expect(result.bestStep).toBe(curve[bestIndex].step);
    expect(result.stopMessage).toMatch(/Stopped early at step \d+ of 900: the validation AUC did not improve for 3 validation points/);
    // The test scores are the best point's weights: the final validation of them on the whole split matches the sample.
    const final = events.filter((e) => e.type === 'eval' && !e.sample);
    expect(final.map((e) => e.type === 'eval' && [e.split, e.step])).toEqual([
      ['valid', result.bestStep],
      ['test', result.bestStep],
    ]);
    // (Every validation user is in the sample here: the restored weights score the whole split as they scored it.)
    const finalValid = final[0].type === 'eval' ? final[0].metrics.auc : NaN;
    expect(finalValid).toBeCloseTo(curve[bestIndex].auc, 6);
    const again = await evaluateParams(await nodeDevice(), dataset, run, result.params);
    expect(again.test.auc).toBeCloseTo(result.test.auc, 5);
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

  it('refuses training targets of one class (all clicks or none), in the trainer and in the page\'s check', async () => {
    for (const label of [0, 1]) {
      const oneClass = { ...dataset, users: dataset.users.map((user) => ({ ...user, labels: user.labels.map(() => label) })) };
      const message = new RegExp(`all \\d+ training targets of "${dataset.name}" are ${label ? 'clicks' : 'non-clicks'}.*another click threshold`);
      await expect(train(await nodeDevice(), oneClass, config, { emit: () => {} })).rejects.toMatchObject({ kind: 'invalid-config', message: expect.stringMatching(message) });
      expect(checkConfig(config, oneClass).errors.join('\n')).toMatch(message);
    }
    expect(checkConfig(config, dataset).errors).toEqual([]);
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
