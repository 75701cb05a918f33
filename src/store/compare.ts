/** The SW-vs-DTI comparison: each run's costs and metrics against a baseline run (normally the SW one). */
import { type Interval, pairedAucInterval } from '../train/bootstrap';
import { ACCURACY_TOLERANCE, differenceVerdict, timeToAuc } from '../train/experiments';
import { predictedOverObserved } from '../train/metrics';
import type { ValidPoint } from '../train/trainer';
import { DEFAULT_PREP, prepText, samePrep } from './data-prep';
import { type RunRecord, duringTraining } from './run-types';

export interface ComparisonRow {
  run: RunRecord;
  isBaseline: boolean;
  trainMs: number | null;
  tokens: number | null;
  targets: number | null;
  testAuc: number | null;
  testLogLoss: number | null;
  /** Test mean predicted P(click) over the test click rate (1: the right number of clicks on average). */
  testPredictedOverObserved: number | null;
  /** Test calibration slope (1: calibrated; above 1: timid predictions; below 1: overconfident). */
  testCalibrationSlope: number | null;
  /** Baseline training time / this run's training time (> 1: faster than the baseline). */
  speedUp: number | null;
  /** This run's tokens / the baseline's tokens. */
  tokenRatio: number | null;
  /** This run's test AUC minus the baseline's. */
  aucDelta: number | null;
  /** 95 % bootstrap interval of this run's test AUC. */
  testAucInterval: Interval | null;
  /** Paired bootstrap 95 % interval of aucDelta (the same resampled test targets for both runs). */
  aucDeltaInterval: Interval | null;
  /** "no measurable difference" when aucDeltaInterval spans 0, else which way it lies. */
  verdict: string | null;
  /**
   * Training time until the validation AUC first reached the baseline's best minus ACCURACY_TOLERANCE; null when it
   * never did, or when that cannot be told (see timeComparable).
   */
  msToBaselineAccuracy: number | null;
  /** Whether both runs have validation curves on the same task, so msToBaselineAccuracy means something. */
  timeComparable: boolean;
  /**
   * How this run differs from the baseline beyond what a comparison varies (paradigm, k, isolation, positions,
   * batch, learning rate, seed), for a person to read. With another dataset or other test targets the speed-up,
   * token ratio and ΔAUC are left out (null): they would compare different tasks.
   */
  differences: string[];
}

const modelText = (run: RunRecord) => {
  const m = run.config.model;
  return `d = ${m.dModel}, ${m.nHeads} heads, ${m.nLayers} layers, d_ff = ${m.dFF}`;
};
const trainingText = (run: RunRecord) => {
  const epochs = `${run.config.epochs} epoch${run.config.epochs === 1 ? '' : 's'}`;
  return run.config.maxSteps > 0 ? `at most ${run.config.maxSteps} steps of ${epochs}` : epochs;
};

/** Differences that make the run's figures against the baseline's mean something else; `comparable` false drops them. */
function differencesFrom(run: RunRecord, baseline: RunRecord): { differences: string[]; comparable: boolean } {
  const differences: string[] = [];
  let comparable = true;
  if (run.dataset.name !== baseline.dataset.name) {
    differences.push(`trained on ${run.dataset.name}, the baseline on ${baseline.dataset.name}`);
    comparable = false;
  } else if (!samePrep(run.dataset.prep ?? DEFAULT_PREP, baseline.dataset.prep ?? DEFAULT_PREP)) {
    differences.push(`data prepared with ${prepText(run.dataset.prep ?? DEFAULT_PREP)}, the baseline's with ${prepText(baseline.dataset.prep ?? DEFAULT_PREP)}`);
    comparable = false;
  } else if (run.config.n !== baseline.config.n) {
    differences.push(`n = ${run.config.n}, the baseline's n = ${baseline.config.n}: other test targets`);
    comparable = false;
  } else if (run.result && baseline.result && run.result.test.count !== baseline.result.test.count) {
    differences.push(`${run.result.test.count} test targets, the baseline ${baseline.result.test.count}`);
    comparable = false;
  }
  if (modelText(run) !== modelText(baseline)) differences.push(`model ${modelText(run)}, the baseline's ${modelText(baseline)}`);
  if (trainingText(run) !== trainingText(baseline)) differences.push(`trained ${trainingText(run)}, the baseline ${trainingText(baseline)}`);
  if (run.result && baseline.result && run.result.stopped !== baseline.result.stopped) {
    differences.push(`${run.result.stopped ? 'this run' : 'the baseline'} was stopped by hand before its training ended (not by early stopping)`);
  }
  if (!comparable) differences[0] += ' (speed-up, token ratio and ΔAUC left out)';
  return { differences, comparable };
}

const finite = (x: number | undefined | null): number | null => (x !== undefined && x !== null && Number.isFinite(x) ? x : null);

/** The default baseline: the first selected SW run with a result, else the first selected run. */
function defaultBaseline(runs: readonly RunRecord[]): RunRecord | null {
  return runs.find((r) => r.config.paradigm === 'sw' && r.result) ?? runs[0] ?? null;
}

/** The validation points during training (on the fixed sample), with their training time. */
export function validationCurve(run: RunRecord): ValidPoint[] {
  const elapsedAt = new Map(run.steps.map((s) => [s.step, s.elapsedMs]));
  return run.evals
    .filter(duringTraining)
    .map((e) => ({ step: e.step, elapsedMs: e.elapsedMs ?? elapsedAt.get(e.step) ?? NaN, auc: e.auc, logLoss: e.logLoss }))
    .filter((p) => Number.isFinite(p.elapsedMs));
}

/** Paired intervals by baseline result, then run result: a bootstrap over every test target costs a long moment, once. */
const pairedCache = new WeakMap<object, WeakMap<object, Interval | null>>();

function pairedDifference(base: NonNullable<RunRecord['result']>, run: NonNullable<RunRecord['result']>): Interval | null {
  let byRun = pairedCache.get(base);
  if (!byRun) pairedCache.set(base, (byRun = new WeakMap()));
  if (!byRun.has(run)) {
    const usable = run.testPredictions && base.testPredictions && base.testLabels && run.testPredictions.length === base.testPredictions.length;
    byRun.set(run, usable ? pairedAucInterval(base.testPredictions!, run.testPredictions!, base.testLabels!).difference : null);
  }
  return byRun.get(run) ?? null;
}

export function compareRuns(runs: readonly RunRecord[], baselineId: string | null): ComparisonRow[] {
  const baseline = runs.find((r) => r.id === baselineId) ?? defaultBaseline(runs);
  const base = baseline?.result;
  const baseCurve = baseline ? validationCurve(baseline) : [];
  const target = baseCurve.length ? Math.max(...baseCurve.map((p) => p.auc)) - ACCURACY_TOLERANCE : NaN;
  return runs.map((run) => {
    const r = run.result;
    const trainMs = finite(r?.trainMs);
    const tokens = finite(r?.tokensProcessed);
    const testAuc = finite(r?.test.auc);
    const baseMs = finite(base?.trainMs);
    const baseTokens = finite(base?.tokensProcessed);
    const baseAuc = finite(base?.test.auc);
    const { differences, comparable } = baseline && run.id !== baseline.id ? differencesFrom(run, baseline) : { differences: [], comparable: true };
    const against = <T,>(value: T | null) => (comparable ? value : null);
    const paired = comparable && r && base ? pairedDifference(base, r) : null;
    const curve = validationCurve(run);
    const timeComparable = comparable && Number.isFinite(target) && curve.length > 0;
    const reached = timeComparable ? timeToAuc(curve, target) : NaN;
    return {
      run,
      isBaseline: run.id === baseline?.id,
      trainMs,
      tokens,
      targets: finite(r?.targetsProcessed),
      testAuc,
      testLogLoss: finite(r?.test.logLoss),
      testPredictedOverObserved: r ? finite(predictedOverObserved(r.test)) : null,
      testCalibrationSlope: finite(r?.test.calibrationSlope),
      speedUp: against(trainMs && baseMs ? baseMs / trainMs : null),
      tokenRatio: against(tokens !== null && baseTokens ? tokens / baseTokens : null),
      aucDelta: against(testAuc !== null && baseAuc !== null ? testAuc - baseAuc : null),
      testAucInterval: r?.testAucInterval && Number.isFinite(r.testAucInterval.low) ? r.testAucInterval : null,
      aucDeltaInterval: run.id === baseline?.id ? null : paired,
      verdict: run.id === baseline?.id || !paired ? null : differenceVerdict(paired).replace('SW', 'the baseline'),
      msToBaselineAccuracy: finite(reached),
      timeComparable,
      differences,
    };
  });
}
