import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_CONFIG } from '../train/protocol';
import { compareRuns } from './compare';
import { runsCurvesCsv, runsJson, runsSummaryCsv } from './export';
import type { RunRecord } from './run-types';

const metrics = (auc: number) => ({ auc, logLoss: 0.5, accuracy: 0.7, count: 10, meanPrediction: 0.55, clickRate: 0.5, calibrationSlope: 0.9 });
const run = (id: string, paradigm: 'sw' | 'dti', trainMs: number | null, auc = 0.7): RunRecord => ({
  id,
  name: id,
  createdAt: 0,
  config: { ...DEFAULT_TRAIN_CONFIG, paradigm },
  dataset: { name: 'data, "quoted"', preset: null, users: 1, interactions: 1 },
  status: trainMs === null ? 'failed' : 'done',
  steps: [{ step: 1, epoch: 1, loss: 0.6, elapsedMs: 10, targetsPerSec: 1, tokensPerSec: 2, targets: 3, tokens: 4 }],
  evals: [{ step: 1, split: 'valid', ...metrics(auc) }],
  result: trainMs === null ? null : { steps: 1, trainMs, tokensProcessed: trainMs * 10, targetsProcessed: 5, valid: metrics(auc), test: metrics(auc), stopped: false },
  error: null,
  adapter: null,
  hasModel: false,
});

describe('comparison', () => {
  it('takes the first SW run as the default baseline', () => {
    const rows = compareRuns([run('dti', 'dti', 100, 0.72), run('sw', 'sw', 400, 0.7)], null);
    expect(rows.map((r) => r.isBaseline)).toEqual([false, true]);
    expect(rows[0].speedUp).toBe(4);
    expect(rows[0].tokenRatio).toBe(0.25);
    expect(rows[0].aucDelta).toBeCloseTo(0.02);
  });

  it('carries the test calibration: predicted over observed CTR and the slope', () => {
    const [row] = compareRuns([run('sw', 'sw', 400)], null);
    expect(row.testPredictedOverObserved).toBeCloseTo(1.1, 12);
    expect(row.testCalibrationSlope).toBe(0.9);
  });

  it('says where runs do not compare like with like, and drops the ratios when the task differs', () => {
    const sw = run('sw', 'sw', 400, 0.7);
    const same = run('dti', 'dti', 100, 0.72);
    expect(compareRuns([sw, same], 'sw')[1].differences).toEqual([]);

    const otherData = { ...run('upload', 'dti', 100, 0.5), dataset: { name: 'export.csv', preset: null, users: 4, interactions: 120 } };
    const otherN = { ...run('n20', 'dti', 100, 0.75), config: { ...DEFAULT_TRAIN_CONFIG, paradigm: 'dti' as const, n: 20 } };
    const shortRun = { ...run('short', 'dti', 100, 0.71), config: { ...DEFAULT_TRAIN_CONFIG, paradigm: 'dti' as const, maxSteps: 10 } };
    const [, data, n, short] = compareRuns([sw, otherData, otherN, shortRun], 'sw');
    expect(data).toMatchObject({ speedUp: null, tokenRatio: null, aucDelta: null, testAuc: 0.5 });
    expect(data.differences[0]).toMatch(/trained on export\.csv, the baseline on data, "quoted".*left out/);
    expect(n).toMatchObject({ speedUp: null, aucDelta: null });
    expect(n.differences[0]).toMatch(/n = 20, the baseline's n = 10: other test targets/);
    // Less training: the figures stay (the same task), with the difference said.
    expect(short.speedUp).toBe(4);
    expect(short.differences).toEqual(['trained at most 10 steps of 1 epoch, the baseline 1 epoch']);
    // Other click labels on the same targets: another task.
    const relabelled = { ...run('click5', 'dti', 100, 0.8), dataset: { ...sw.dataset, prep: { split: 'per-user' as const, clickAtLeast: 5 } } };
    const [, other] = compareRuns([sw, relabelled], 'sw');
    expect(other.aucDelta).toBeNull();
    expect(other.differences[0]).toMatch(/clicks at a rating of 5 or more, the baseline's with the per-user split and the format's click rule/);
    // A run still training (no result yet) is not said to differ in having been stopped.
    const training = { ...run('live', 'dti', null), status: 'running' as const };
    expect(compareRuns([sw, training], 'sw')[1].differences).toEqual([]);
  });

  it('leaves ratios empty for runs without a result', () => {
    const rows = compareRuns([run('sw', 'sw', 400), run('failed', 'dti', null)], 'sw');
    expect(rows[1]).toMatchObject({ speedUp: null, tokenRatio: null, aucDelta: null, testAuc: null });
  });
});

describe('export', () => {
  it('quotes CSV cells that need it and leaves missing values empty', () => {
    const csv = runsSummaryCsv([run('a', 'sw', null)]);
    const row = csv.split('\n')[1];
    expect(row).toContain('"data, ""quoted"""');
    expect(row).toMatch(/,,,,,,,$/); // no test metrics
  });

  it('writes every metric of both splits, calibration included', () => {
    const [header, row] = runsSummaryCsv([run('a', 'sw', 100)]).trim().split('\n');
    expect(header).toMatch(/,valid_auc,valid_logloss,valid_accuracy,valid_count,valid_mean_p,valid_click_rate,valid_calibration_slope,test_auc,.*,test_calibration_slope$/);
    expect(row).toMatch(/,0\.7,0\.5,0\.7,10,0\.55,0\.5,0\.9,0\.7,0\.5,0\.7,10,0\.55,0\.5,0\.9$/);
  });

  it('writes one curve row per step with the validation metrics of that step', () => {
    const lines = runsCurvesCsv([run('a', 'sw', 100)]).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/valid_auc,valid_logloss,valid_accuracy,valid_mean_p,valid_click_rate,valid_calibration_slope$/);
    expect(lines[1]).toBe('a,1,1,0.6,10,1,2,3,4,0.7,0.5,0.7,0.55,0.5,0.9');
  });

  it('writes NaN metrics as null in JSON', () => {
    const json = JSON.parse(runsJson([{ ...run('a', 'sw', 100), evals: [{ step: 1, split: 'valid', ...metrics(NaN) }] }]));
    expect(json.runs[0].evals[0].auc).toBeNull();
    expect(json.format).toBe('dti-lab-runs/1');
  });
});
