/**
 * Summaries of experiment runs (headless runner and the page's sweep): runs that differ only in seed form one row,
 * with mean and spread of test metrics and training time, and the speed-up against the sliding-window row.
 */
import type { IsolationLevel, PositionEncoding } from '../prompt/types';
import { effectiveK } from './config';
import { predictedOverObserved } from './metrics';
import type { BaselineAucs } from '../data/baselines';
import type { SkewDiagnostics } from './diagnostics';
import { type Interval, pairedMeanDifference } from './bootstrap';
import type { RunSummary, TrainConfig } from './protocol';
import type { ValidPoint } from './trainer';

/** The scaling-in-k grid (issue: k against isolation level and position encoding), for the runner and the page. */
export interface SweepPlan {
  ks: number[];
  levels: IsolationLevel[];
  encodings: PositionEncoding[];
  /** Distance-based forgetting off and/or on (ModelConfig.forgetting). */
  forgetting: boolean[];
  seeds: number[];
}

/**
 * The runs of a sweep, in the order they train: for each seed, forgetting choice and encoding, each level's ks. k = 1
 * is the sliding window, one run per encoding, forgetting choice and seed whatever the level; it takes the first
 * level's rule, so list `window` (which is full causal at k = 1) first for the usual SW baseline.
 */
export function sweepConfigs(base: TrainConfig, plan: SweepPlan): TrainConfig[] {
  const configs: TrainConfig[] = [];
  for (const seed of plan.seeds) {
    for (const forgetting of plan.forgetting) {
      for (const encoding of plan.encodings) {
        for (const level of plan.levels) {
          for (const k of plan.ks) {
            if (k === 1 && level !== plan.levels[0]) continue;
            const model = { ...base.model, positionEncoding: encoding, forgetting };
            configs.push({ ...base, seed, k, paradigm: k === 1 ? 'sw' : 'dti', isolation: level, model });
          }
        }
      }
    }
  }
  return configs;
}

/** A finished run as the runner keeps it: what the trainer reported, and its curves. */
export interface ExperimentRun extends RunSummary {
  config: TrainConfig;
  curve: { step: number; loss: number }[];
  validCurve: ValidPoint[];
}

/**
 * What a summary needs of a run (the page's finished runs and the runner's results both have it). The optional parts
 * are missing from runs saved before the lab measured them; their columns then show "–".
 */
export type RunOutcome = Pick<ExperimentRun, 'config' | 'trainMs' | 'tokensProcessed' | 'test'> &
  Partial<Pick<ExperimentRun, 'testAucInterval' | 'testPredictions' | 'testLabels' | 'baselines' | 'validCurve' | 'diagnostics'>>;

export interface Spread {
  mean: number;
  /** Sample standard deviation (0 for a single seed). */
  std: number;
}

/** How far below SW's best validation AUC a run may be and still count as "at SW's accuracy" (time to accuracy). */
export const ACCURACY_TOLERANCE = 0.002;

export interface SummaryRow {
  label: string;
  paradigm: TrainConfig['paradigm'];
  k: number;
  isolation: TrainConfig['isolation'];
  positionEncoding: TrainConfig['model']['positionEncoding'];
  forgetting: boolean;
  seeds: number;
  testAuc: Spread;
  /** Mean over seeds of the half-width of each seed's 95 % bootstrap interval of the test AUC. */
  testAucHalfWidth: number;
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
  /**
   * Paired bootstrap 95 % interval of aucVsSw over test targets (the same resampled targets for both rows, the mean
   * over the seeds both rows share); null without predictions of both on the same targets.
   */
  aucVsSwInterval: Interval | null;
  /**
   * Training seconds until the validation sample's AUC first reached the matching SW run's best minus
   * ACCURACY_TOLERANCE (seed by seed), over the seeds that reached it; NaN when none did or without curves.
   */
  secondsToSwAccuracy: Spread;
  /** Seeds that reached SW's accuracy (of those with a matching SW seed). */
  reachedSwAccuracy: number;
  comparedSeeds: number;
  /** The simple scorers on the same test targets (the same for every seed of one dataset and n). */
  baselines: BaselineAucs | null;
  /** Over the seeds that measured it (DTI runs), diagnostics.ts' figures: NaN means for SW rows and older runs. */
  skew: Spread;
  positionalSkew: Spread;
  leakageSkew: Spread;
  slotSpread: Spread;
  /** Test AUC at slot k minus served AUC on the diagnostic sample. */
  deepestSlotAucGain: Spread;
  /** Interactions reaching a target's [SUM] served and at slot k (structural: the same for every seed). */
  reachServed: number;
  reachDeepest: number;
}

/** "no measurable difference" when the interval spans 0, else which way it lies. */
export function differenceVerdict(interval: Interval | null): string {
  if (!interval || !Number.isFinite(interval.low) || !Number.isFinite(interval.high)) return '–';
  if (interval.low <= 0 && interval.high >= 0) return 'no measurable difference';
  return interval.low > 0 ? 'better than SW' : 'worse than SW';
}

/** Training time at the first validation point whose AUC reaches `target`; NaN when none does. */
export function timeToAuc(curve: readonly ValidPoint[], target: number): number {
  const point = curve.find((p) => p.auc >= target);
  return point ? point.elapsedMs : NaN;
}

export function spread(values: number[]): Spread {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** Everything but the seed and the paradigm-specific fields: runs with equal keys are compared. */
function modelKey(config: TrainConfig): string {
  const { seed: _seed, paradigm: _paradigm, k: _k, isolation: _isolation, ...rest } = config;
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
      label: `${k === 1 ? 'SW' : `DTI k=${k}`} ${config.isolation} ${config.model.positionEncoding}${config.model.forgetting ? ' forgetting' : ''}`,
      paradigm: k === 1 ? 'sw' : 'dti',
      k,
      isolation: config.isolation,
      positionEncoding: config.model.positionEncoding,
      forgetting: config.model.forgetting,
      seeds: group.length,
      testAuc: spread(group.map((r) => r.test.auc)),
      testAucHalfWidth: spread(group.map((r) => (r.testAucInterval ? (r.testAucInterval.high - r.testAucInterval.low) / 2 : NaN))).mean,
      testLogLoss: spread(group.map((r) => r.test.logLoss)),
      testPredictedOverObserved: spread(group.map((r) => predictedOverObserved(r.test))),
      testCalibrationSlope: spread(group.map((r) => r.test.calibrationSlope)),
      trainSeconds: spread(group.map((r) => r.trainMs / 1000)),
      tokens: spread(group.map((r) => r.tokensProcessed)).mean,
      speedUp: NaN,
      aucVsSw: NaN,
      aucVsSwInterval: null,
      secondsToSwAccuracy: { mean: NaN, std: NaN },
      reachedSwAccuracy: 0,
      comparedSeeds: 0,
      baselines: group[0].baselines ?? null,
      ...diagnosticColumns(group),
    };
    return { model: modelKey(config), row, group };
  });
  // Each row is compared with the SW row of the same model, preferring the same position encoding, then the same
  // isolation rule (the labels say which SW a row is compared with when a sweep trained SW under one rule only).
  const swRows = summarized.filter((s) => s.row.k === 1);
  for (const { model, row, group } of summarized) {
    const sameModel = swRows.filter((s) => s.model === model);
    const sameEncoding = sameModel.filter((s) => s.row.positionEncoding === row.positionEncoding);
    const swEntry = sameEncoding.find((s) => s.row.isolation === row.isolation) ?? sameEncoding[0] ?? sameModel[0];
    if (!swEntry) continue;
    const sw = swEntry.row;
    row.speedUp = sw.trainSeconds.mean / row.trainSeconds.mean;
    row.aucVsSw = row.testAuc.mean - sw.testAuc.mean;
    compareWithSw(row, group, swEntry.group);
  }
  const rows = summarized.map((s) => s.row);
  const markdown = summaryTable(rows);
  return { rows, markdown };
}

const NO_SPREAD: Spread = { mean: NaN, std: NaN };

function diagnosticColumns(runs: readonly RunOutcome[]): Pick<SummaryRow, 'skew' | 'positionalSkew' | 'leakageSkew' | 'slotSpread' | 'deepestSlotAucGain' | 'reachServed' | 'reachDeepest'> {
  const measured = runs.flatMap((r) => (r.diagnostics ? [r.diagnostics] : []));
  const over = (value: (d: SkewDiagnostics) => number) => (measured.length ? spread(measured.map(value)) : NO_SPREAD);
  return {
    skew: over((d) => d.skew),
    positionalSkew: over((d) => d.positional),
    leakageSkew: over((d) => d.leakage),
    slotSpread: over((d) => d.slotSpread),
    deepestSlotAucGain: over((d) => d.deepestAuc - d.servedAuc),
    reachServed: measured[0]?.slots[0].reach ?? NaN,
    reachDeepest: measured[0]?.slots.at(-1)!.reach ?? NaN,
  };
}

/** Seed-by-seed comparison with the SW runs: the paired ΔAUC interval and the time to SW's accuracy. */
function compareWithSw(row: SummaryRow, runs: readonly RunOutcome[], swRuns: readonly RunOutcome[]): void {
  const pairs: { sw: RunOutcome; run: RunOutcome }[] = [];
  for (const run of runs) {
    const sw = swRuns.find((candidate) => candidate.config.seed === run.config.seed);
    if (sw) pairs.push({ sw, run });
  }
  row.comparedSeeds = pairs.length;
  const times: number[] = [];
  for (const { sw, run } of pairs) {
    if (!sw.validCurve?.length || !run.validCurve?.length) continue;
    const target = Math.max(...sw.validCurve.map((p) => p.auc)) - ACCURACY_TOLERANCE;
    const ms = timeToAuc(run.validCurve, target);
    if (Number.isFinite(ms)) times.push(ms / 1000);
  }
  row.reachedSwAccuracy = times.length;
  row.secondsToSwAccuracy = times.length ? spread(times) : { mean: NaN, std: NaN };
  const predicted = pairs.filter(
    ({ sw, run }) => sw.testPredictions && run.testPredictions && sw.testPredictions.length === run.testPredictions.length && sw.testPredictions.length > 0,
  );
  const labels = predicted[0]?.sw.testLabels;
  if (predicted.length && labels) {
    row.aucVsSwInterval = pairedMeanDifference(
      predicted.map(({ sw, run }) => ({ a: sw.testPredictions!, b: run.testPredictions! })),
      labels,
    );
  }
}

const finiteOr = (x: number | null | undefined, show: (x: number) => string) => (typeof x === 'number' && Number.isFinite(x) ? show(x) : '–');

const interval = (i: Interval | null, digits: number) =>
  i && Number.isFinite(i.low) ? `[${i.low.toFixed(digits)}, ${i.high.toFixed(digits)}]` : '';

/** The summary as a Markdown table: the experiment runner prints it, the sweep panel exports it, bench.ts writes it. */
export function summaryTable(rows: readonly SummaryRow[]): string {
  const table = [
    '| run | seeds | test AUC | 95 % CI ± | test LogLoss | predicted / observed CTR | calibration slope | train s | s to SW accuracy (seeds) | tokens | speed-up vs SW | ΔAUC vs SW [paired 95 % CI] |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.seeds} | ${formatSpread(r.testAuc, 4)} | ${finiteOr(r.testAucHalfWidth, (x) => x.toFixed(4))} | ${formatSpread(r.testLogLoss, 4)} | ` +
        `${formatSpread(r.testPredictedOverObserved, 3)} | ${formatSpread(r.testCalibrationSlope, 2)} | ${formatSpread(r.trainSeconds, 1)} | ` +
        `${r.comparedSeeds ? `${formatSpread(r.secondsToSwAccuracy, 1)} (${r.reachedSwAccuracy}/${r.comparedSeeds})` : '–'} | ${Math.round(r.tokens)} | ` +
        `${finiteOr(r.speedUp, (x) => `${x.toFixed(2)}×`)} | ${finiteOr(r.aucVsSw, (x) => x.toFixed(4))} ${interval(r.aucVsSwInterval ?? null, 4)}${r.k > 1 && r.aucVsSwInterval ? ` ${differenceVerdict(r.aucVsSwInterval)}` : ''} |`,
    ),
  ].join('\n');
  const baselines = rows.find((r) => r.baselines)?.baselines;
  const parts = [table, skewTable(rows), baselines ? baselineLine(baselines) : ''];
  return parts.filter(Boolean).join('\n\n');
}

/**
 * The bottlenecks measured on each DTI row's kept weights (diagnostics.ts): empty when no row measured them. The
 * columns are what the method doc §4 predicts: leakage 0 under strict, positional 0 with relative encodings.
 */
export function skewTable(rows: readonly SummaryRow[]): string {
  const measured = rows.filter((r) => Number.isFinite(r.skew.mean));
  if (!measured.length) return '';
  return [
    '| run | train–serve skew (mean abs Δlogit) | positional part | leakage part | slot spread | AUC at slot k − served | interactions reaching [SUM]: served → slot k |',
    '|---|---|---|---|---|---|---|',
    ...measured.map(
      (r) =>
        `| ${r.label} | ${formatSpread(r.skew, 4)} | ${formatSpread(r.positionalSkew, 4)} | ${formatSpread(r.leakageSkew, 4)} | ` +
        `${formatSpread(r.slotSpread, 4)} | ${formatSpread(r.deepestSlotAucGain, 4)} | ${r.reachServed} → ${r.reachDeepest} |`,
    ),
  ].join('\n');
}

/** The baselines in one sentence, for tables and the runner. */
export function baselineLine(b: BaselineAucs): string {
  const f = (x: number | null | undefined) => finiteOr(x, (v) => v.toFixed(4));
  return (
    `Baselines on the same ${b.count} test targets (test AUC): item popularity ${f(b.popularity)}, the user's click rate ${f(b.userRate)}, ` +
    `item + user logistic regression ${f(b.logistic)}, history scorer ${f(b.history)}.`
  );
}
