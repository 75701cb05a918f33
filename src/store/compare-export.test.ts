import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_CONFIG } from '../train/protocol';
import { Rng } from '../util/rng';
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

/** The parts of a run's result that the current trainer reports (runs saved before lack them). */
const doneSummary = {
  stopReason: 'early-stopped' as const,
  stopMessage: 'Stopped early',
  bestStep: 40,
  testAucInterval: { estimate: 0.7, low: 0.65, high: 0.75 },
  evalTargetsPerPrompt: 32,
  baselines: { popularity: 0.6, userRate: 0.62, logistic: 0.65, history: 0.66, count: 10 },
  warnings: ['few steps', 'bunched'],
};

describe('comparison', () => {
  it('takes the first SW run as the default baseline', () => {
    const rows = compareRuns([run('dti', 'dti', 100, 0.72), run('sw', 'sw', 400, 0.7)], null);
    expect(rows.map((r) => r.isBaseline)).toEqual([false, true]);
    expect(rows[0].speedUp).toBe(4);
    expect(rows[0].tokenRatio).toBe(0.25);
    expect(rows[0].aucDelta).toBeCloseTo(0.02);
  });

  it('gives the paired interval of ΔAUC, says when it spans 0, and the time to the baseline accuracy', () => {
    const rng = new Rng(3);
    const labels = Uint8Array.from({ length: 2000 }, () => (rng.next() < 0.5 ? 1 : 0));
    const signal = Array.from(labels, (y) => y + rng.normal());
    const scores = (noise: number, shift = 0) => Float32Array.from(signal, (x) => x + shift + noise * rng.normal());
    const withScores = (id: string, paradigm: 'sw' | 'dti', predictions: Float32Array, curve: [number, number][]): RunRecord => {
      const base = run(id, paradigm, 1000);
      return {
        ...base,
        evals: curve.map(([elapsedMs, auc], i) => ({ step: i + 1, split: 'valid', elapsedMs, sample: true, ...metrics(auc) })),
        result: { ...base.result!, testPredictions: predictions, testLabels: labels },
      };
    };
    const sw = withScores('sw', 'sw', scores(0.2), [[100, 0.7], [200, 0.75], [300, 0.74]]);
    const alike = withScores('alike', 'dti', scores(0.2), [[10, 0.72], [20, 0.749]]);
    const worse = withScores('worse', 'dti', scores(3), [[10, 0.6], [20, 0.65]]);
    const [base, same, bad] = compareRuns([sw, alike, worse], 'sw');
    expect(base.aucDeltaInterval).toBeNull();
    expect(same.aucDeltaInterval!.low).toBeLessThan(0);
    expect(same.aucDeltaInterval!.high).toBeGreaterThan(0);
    expect(same.verdict).toBe('no measurable difference');
    expect(bad.aucDeltaInterval!.high).toBeLessThan(0);
    expect(bad.verdict).toBe('worse than the baseline');
    // The baseline's best validation AUC is 0.75: 0.748 counts as reached, 0.65 never.
    expect(base.msToBaselineAccuracy).toBe(200);
    expect(same.msToBaselineAccuracy).toBe(20);
    expect(bad.msToBaselineAccuracy).toBeNull();
    expect(bad.timeComparable).toBe(true);
    // Without a validation curve (a run saved before the lab recorded one) it cannot be told: not "not reached".
    const [, old] = compareRuns([sw, { ...alike, evals: [] }], 'sw');
    expect(old.timeComparable).toBe(false);
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
    expect(short.differences).toEqual([`trained at most 10 steps of ${DEFAULT_TRAIN_CONFIG.epochs} epochs, the baseline ${DEFAULT_TRAIN_CONFIG.epochs} epochs`]);
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

/** Cells of an RFC 4180 CSV text (quoted cells may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [[]];
  let cell = '';
  let quoted = false;
  const endCell = () => {
    rows.at(-1)!.push(cell);
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (!quoted && c === ',') {
      endCell();
    } else if (!quoted && c === '\n') {
      endCell();
      rows.push([]);
    } else {
      cell += c;
    }
  }
  return rows.filter((row) => row.length > 0);
}

describe('export', () => {
  it('quotes CSV cells that need it and leaves missing values empty', () => {
    const csv = runsSummaryCsv([run('a', 'sw', null)]);
    const row = csv.split('\n')[1];
    expect(row).toContain('"data, ""quoted"""');
    expect(row).toMatch(/,,,,,,,$/); // no test metrics
  });

  it('writes every metric of both splits, calibration included', () => {
    const [header, row] = runsSummaryCsv([run('a', 'sw', 100)]).trim().split('\n');
    expect(header).toMatch(/,valid_auc,valid_logloss,valid_accuracy,valid_count,valid_mean_p,valid_click_rate,valid_calibration_slope,test_auc,.*,test_calibration_slope,/);
    expect(row).toMatch(/,0\.7,0\.5,0\.7,10,0\.55,0\.5,0\.9,0\.7,0\.5,0\.7,10,0\.55,0\.5,0\.9,/);
    // The protocol's settings, how the run ended, the test AUC's interval, the baselines and the warnings follow.
    expect(header).toMatch(/,item_text,.*,batch_targets,.*,evals_per_epoch,patience,.*,stop_reason,best_step,.*,test_auc_ci_low,test_auc_ci_high,eval_targets_per_prompt,baseline_popularity_auc,baseline_user_rate_auc,baseline_logistic_auc,baseline_history_auc,warnings$/);
    const full = { ...run('b', 'dti', 100), result: { ...run('b', 'dti', 100).result!, ...doneSummary } };
    const cells = runsSummaryCsv([full]).trim().split('\n')[1];
    expect(cells).toMatch(/,early-stopped,40,.*,0\.65,0\.75,32,0\.6,0\.62,0\.65,0\.66,few steps \| bunched$/);
  });

  it('neutralises cells a spreadsheet would run as formulas, in every CSV export', () => {
    const hostile = ['=HYPERLINK("http://x.test","click")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\r=1'];
    const runs = hostile.map((name, i) => ({ ...run(name, 'sw', 100), name, dataset: { ...run('x', 'sw', 100).dataset, name: `data ${i}` } }));
    for (const csv of [runsSummaryCsv(runs), runsCurvesCsv(runs)]) {
      const cells = parseCsv(csv).flat();
      for (const name of hostile) {
        expect(cells).not.toContain(name);
        expect(cells).toContain(`'${name}`);
      }
      expect(cells.filter((cell) => /^[=+\-@\t\r]/.test(cell))).toEqual([]);
    }
    // Numbers stay numbers, negative ones included.
    const negative = { ...run('n', 'sw', 100), result: { ...run('n', 'sw', 100).result!, test: metrics(-0.5) } };
    expect(runsSummaryCsv([negative])).toMatch(/,-0\.5,/);
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
    // Per-target predictions as plain arrays (a typed array would become an object keyed by index).
    const predicted = { ...run('b', 'dti', 100), result: { ...run('b', 'dti', 100).result!, testPredictions: Float32Array.of(0.25, 0.5), testLabels: Uint8Array.of(0, 1) } };
    const exported = JSON.parse(runsJson([predicted])).runs[0].result;
    expect([exported.testPredictions, exported.testLabels]).toEqual([[0.25, 0.5], [0, 1]]);
  });
});
