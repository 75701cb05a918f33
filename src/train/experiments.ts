/**
 * Summaries of experiment runs (headless runner and the page's sweep): runs that differ only in seed form one row,
 * with mean and spread of test metrics and training time, and the speed-up against the sliding-window row.
 */
import type { IsolationLevel, PositionEncoding } from '../prompt/types';
import { effectiveK } from './config';
import { predictedOverObserved } from './metrics';
import type { Metrics, TrainConfig } from './protocol';

/** The scaling-in-k grid (issue: k against isolation level and position encoding), for the runner and the page. */
export interface SweepPlan {
  ks: number[];
  levels: IsolationLevel[];
  encodings: PositionEncoding[];
  seeds: number[];
  /**
   * Prompts per batch of the DTI runs (k > 1), when not the base configuration's. Batch size counts prompts, and a
   * DTI prompt holds k targets: with SW's batch a DTI epoch has k times fewer optimizer steps.
   */
  dtiBatchSize?: number;
}

/**
 * Prompts per DTI batch when SW trains `swBatchSize` prompts per batch: a quarter of it. A DTI prompt carries k
 * targets, so SW's batch would leave a DTI epoch k times fewer optimizer steps; on the built-in data (k = 20, n = 10)
 * 16 DTI prompts per step fell short of SW's test AUC on some seeds while 4 matched it, and ran faster too
 * (docs/BENCHMARKS.md).
 */
export function defaultDtiBatchSize(swBatchSize: number): number {
  return Math.max(1, Math.round(swBatchSize / 4));
}

/**
 * The runs of a sweep, in the order they train: for each seed and encoding, each level's ks. k = 1 is the sliding
 * window, one run per encoding and seed whatever the level; it takes the first level's rule, so list `window` (which
 * is full causal at k = 1) first for the usual SW baseline.
 */
export function sweepConfigs(base: TrainConfig, plan: SweepPlan): TrainConfig[] {
  const configs: TrainConfig[] = [];
  for (const seed of plan.seeds) {
    for (const encoding of plan.encodings) {
      for (const level of plan.levels) {
        for (const k of plan.ks) {
          if (k === 1 && level !== plan.levels[0]) continue;
          const batchSize = k > 1 ? (plan.dtiBatchSize ?? base.batchSize) : base.batchSize;
          configs.push({ ...base, seed, k, batchSize, paradigm: k === 1 ? 'sw' : 'dti', isolation: level, model: { ...base.model, positionEncoding: encoding } });
        }
      }
    }
  }
  return configs;
}

export interface ExperimentRun {
  config: TrainConfig;
  steps: number;
  trainMs: number;
  tokensProcessed: number;
  targetsProcessed: number;
  valid: Metrics;
  test: Metrics;
  curve: { step: number; loss: number }[];
  validCurve: { step: number; auc: number; logLoss: number }[];
}

/** What a summary needs of a run (the page's finished runs and the runner's results both have it). */
export type RunOutcome = Pick<ExperimentRun, 'config' | 'trainMs' | 'tokensProcessed' | 'test'>;

export interface Spread {
  mean: number;
  /** Sample standard deviation (0 for a single seed). */
  std: number;
}

export interface SummaryRow {
  label: string;
  paradigm: TrainConfig['paradigm'];
  k: number;
  isolation: TrainConfig['isolation'];
  positionEncoding: TrainConfig['model']['positionEncoding'];
  seeds: number;
  testAuc: Spread;
  testLogLoss: Spread;
  /** Test mean P(click) over the test click rate (metrics.ts predictedOverObserved). */
  testPredictedOverObserved: Spread;
  testCalibrationSlope: Spread;
  trainSeconds: Spread;
  tokens: number;
  /** Training time of the matching SW row divided by this row's (NaN without a SW row). */
  speedUp: number;
  /** This row's mean test AUC minus the SW row's. */
  aucVsSw: number;
}

export function spread(values: number[]): Spread {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * Everything but the seed and the paradigm-specific fields: runs with equal keys are compared. The batch size is
 * paradigm-specific: it counts prompts, and a DTI prompt carries k targets.
 */
function modelKey(config: TrainConfig): string {
  const { seed: _seed, paradigm: _paradigm, k: _k, isolation: _isolation, batchSize: _batchSize, ...rest } = config;
  return JSON.stringify({ ...rest, model: { ...config.model, positionEncoding: undefined } });
}

// SW runs are grouped by their isolation rule too: at k = 1 `strict` and `sum-isolated` still change what the
// context tokens see, so SW runs under different rules are different baselines, not seeds of one.
function rowKey(config: TrainConfig): string {
  return `${modelKey(config)}|${effectiveK(config)}|${config.isolation}|${config.model.positionEncoding}`;
}

/**
 * "mean ± sd" (just the mean for a single seed); "–" without a value: a seed lacked it (runs saved before the metric
 * existed), or summaries read back from JSON, where NaN became null and older files lack newer fields.
 */
export function formatSpread(s: Spread | null | undefined, digits: number): string {
  if (!s || !Number.isFinite(s.mean)) return '–';
  return s.std > 0 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

export function summarizeRuns(runs: readonly RunOutcome[]): { rows: SummaryRow[]; markdown: string } {
  const groups = new Map<string, RunOutcome[]>();
  for (const run of runs) {
    const key = rowKey(run.config);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const summarized = [...groups.values()].map((group) => {
    const config = group[0].config;
    const k = effectiveK(config);
    const row: SummaryRow = {
      label: k === 1 ? `SW ${config.isolation} ${config.model.positionEncoding}` : `DTI k=${k} ${config.isolation} ${config.model.positionEncoding}`,
      paradigm: k === 1 ? 'sw' : 'dti',
      k,
      isolation: config.isolation,
      positionEncoding: config.model.positionEncoding,
      seeds: group.length,
      testAuc: spread(group.map((r) => r.test.auc)),
      testLogLoss: spread(group.map((r) => r.test.logLoss)),
      testPredictedOverObserved: spread(group.map((r) => predictedOverObserved(r.test))),
      testCalibrationSlope: spread(group.map((r) => r.test.calibrationSlope)),
      trainSeconds: spread(group.map((r) => r.trainMs / 1000)),
      tokens: spread(group.map((r) => r.tokensProcessed)).mean,
      speedUp: NaN,
      aucVsSw: NaN,
    };
    return { model: modelKey(config), row };
  });
  // Each row is compared with the SW row of the same model, preferring the same position encoding, then the same
  // isolation rule (the labels say which SW a row is compared with when a sweep trained SW under one rule only).
  const swRows = summarized.filter((s) => s.row.k === 1);
  for (const { model, row } of summarized) {
    const sameModel = swRows.filter((s) => s.model === model);
    const sameEncoding = sameModel.filter((s) => s.row.positionEncoding === row.positionEncoding);
    const sw = (sameEncoding.find((s) => s.row.isolation === row.isolation) ?? sameEncoding[0] ?? sameModel[0])?.row;
    if (!sw) continue;
    row.speedUp = sw.trainSeconds.mean / row.trainSeconds.mean;
    row.aucVsSw = row.testAuc.mean - sw.testAuc.mean;
  }
  const rows = summarized.map((s) => s.row);
  const markdown = summaryTable(rows);
  return { rows, markdown };
}

const finiteOr = (x: number | null | undefined, show: (x: number) => string) => (typeof x === 'number' && Number.isFinite(x) ? show(x) : '–');

/** The summary as a Markdown table: the experiment runner prints it, the sweep panel exports it, bench.ts writes it. */
export function summaryTable(rows: readonly SummaryRow[]): string {
  return [
    '| run | seeds | test AUC | test LogLoss | predicted / observed CTR | calibration slope | train s | tokens | speed-up vs SW | ΔAUC vs SW |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.seeds} | ${formatSpread(r.testAuc, 4)} | ${formatSpread(r.testLogLoss, 4)} | ${formatSpread(r.testPredictedOverObserved, 3)} | ${formatSpread(r.testCalibrationSlope, 2)} | ${formatSpread(r.trainSeconds, 1)} | ${Math.round(r.tokens)} | ${finiteOr(r.speedUp, (x) => `${x.toFixed(2)}×`)} | ${finiteOr(r.aucVsSw, (x) => x.toFixed(4))} |`,
    ),
  ].join('\n');
}
