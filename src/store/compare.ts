/** The SW-vs-DTI comparison: each run's costs and metrics against a baseline run (normally the SW one). */
import { predictedOverObserved } from '../train/metrics';
import type { RunRecord } from './run-types';

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
}

const finite = (x: number | undefined | null): number | null => (x !== undefined && x !== null && Number.isFinite(x) ? x : null);

/** The default baseline: the first selected SW run with a result, else the first selected run. */
function defaultBaseline(runs: readonly RunRecord[]): RunRecord | null {
  return runs.find((r) => r.config.paradigm === 'sw' && r.result) ?? runs[0] ?? null;
}

export function compareRuns(runs: readonly RunRecord[], baselineId: string | null): ComparisonRow[] {
  const baseline = runs.find((r) => r.id === baselineId) ?? defaultBaseline(runs);
  const base = baseline?.result;
  return runs.map((run) => {
    const r = run.result;
    const trainMs = finite(r?.trainMs);
    const tokens = finite(r?.tokensProcessed);
    const testAuc = finite(r?.test.auc);
    const baseMs = finite(base?.trainMs);
    const baseTokens = finite(base?.tokensProcessed);
    const baseAuc = finite(base?.test.auc);
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
      speedUp: trainMs && baseMs ? baseMs / trainMs : null,
      tokenRatio: tokens !== null && baseTokens ? tokens / baseTokens : null,
      aucDelta: testAuc !== null && baseAuc !== null ? testAuc - baseAuc : null,
    };
  });
}
