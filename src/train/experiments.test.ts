import { describe, expect, it } from 'vitest';
import { type RunOutcome, summarizeRuns, sweepConfigs } from './experiments';
import { DEFAULT_TRAIN_CONFIG, type Metrics, type TrainConfig } from './protocol';

const metrics = (auc: number): Metrics => ({
  auc,
  logLoss: 0.6,
  accuracy: 0.6,
  count: 100,
  meanPrediction: 0.5,
  clickRate: 0.5,
  calibrationSlope: 1,
});

const outcome = (config: TrainConfig, auc: number, trainMs: number): RunOutcome => ({ config, trainMs, tokensProcessed: 1000, test: metrics(auc) });

describe('sweeps with and without distance-based forgetting', () => {
  const configs = sweepConfigs(DEFAULT_TRAIN_CONFIG, { ks: [1, 20], levels: ['window'], encodings: ['rope'], forgetting: [false, true], seeds: [1] });

  it('train SW and DTI once per forgetting choice', () => {
    expect(configs.map((c) => [c.paradigm, c.k, c.model.forgetting])).toEqual([
      ['sw', 1, false],
      ['dti', 20, false],
      ['sw', 1, true],
      ['dti', 20, true],
    ]);
  });

  it('compare each DTI row with the SW row of the same forgetting choice, and say which it is', () => {
    const runs = configs.map((c, i) => outcome(c, [0.7, 0.68, 0.72, 0.71][i], [4000, 1000, 8000, 2000][i]));
    const { rows, markdown } = summarizeRuns(runs);
    const dti = rows.filter((r) => r.k === 20);
    expect(dti.map((r) => [r.label, r.forgetting])).toEqual([
      ['DTI k=20 window rope', false],
      ['DTI k=20 window rope forgetting', true],
    ]);
    expect(dti.map((r) => r.speedUp)).toEqual([4, 4]);
    expect(dti.map((r) => Number(r.aucVsSw.toFixed(4)))).toEqual([-0.02, -0.01]);
    expect(markdown).toContain('SW window rope forgetting');
  });
});
