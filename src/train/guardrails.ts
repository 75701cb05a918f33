/**
 * Guardrails: what makes a run's figures weak evidence, said in the run (page and runner) instead of left for the
 * reader to notice. Each warning names the figure, the reason, and what to change.
 */
import type { BaselineAucs } from '../data/baselines';
import type { Interval } from './bootstrap';
import type { Metrics } from './protocol';

/** A test AUC interval wider than this (high − low) cannot tell apart the differences the lab is about. */
export const MAX_USEFUL_INTERVAL_WIDTH = 0.04;
/** Fewer optimizer steps than this rarely get past warm-up and the first plateau. */
export const MIN_OPTIMIZER_STEPS = 100;
/** A calibration slope above this means predictions bunched near one value (they rank, but say little of how likely a click is). */
export const MAX_CALIBRATION_SLOPE = 3;

export interface GuardrailInput {
  steps: number;
  test: Metrics;
  testAucInterval: Interval;
  /** Validation AUC at each validation point during training, in order. */
  validCurve: readonly { step: number; auc: number }[];
  baselines: BaselineAucs;
  /** The training click rate (a constant prediction of it is the LogLoss any model must beat). */
  trainClickRate: number;
}

const BASELINE_NAMES: Record<Exclude<keyof BaselineAucs, 'count'>, string> = {
  popularity: 'item popularity',
  userRate: "the user's click rate",
  logistic: 'item + user logistic regression',
  history: 'the history scorer',
};

/** The strongest baseline by test AUC, with its name. */
export function bestBaseline(baselines: BaselineAucs): { name: string; auc: number } | null {
  let best: { name: string; auc: number } | null = null;
  for (const [key, name] of Object.entries(BASELINE_NAMES)) {
    const auc = baselines[key as keyof typeof BASELINE_NAMES];
    if (Number.isFinite(auc) && (!best || auc > best.auc)) best = { name, auc };
  }
  return best;
}

/** LogLoss of predicting the click rate p for everyone, on targets whose click rate is r. */
export function constantLogLoss(p: number, r: number): number {
  const q = Math.min(1 - 1e-7, Math.max(1e-7, p));
  return -(r * Math.log(q) + (1 - r) * Math.log(1 - q));
}

export function runWarnings(run: GuardrailInput): string[] {
  const warnings: string[] = [];
  const { test, testAucInterval: interval } = run;
  const width = interval.high - interval.low;
  if (test.count > 0 && !(width <= MAX_USEFUL_INTERVAL_WIDTH)) {
    warnings.push(
      `Too few test targets (${test.count}) for a meaningful figure: the test AUC's 95 % interval is ` +
        (Number.isFinite(width) ? `${interval.low.toFixed(3)}–${interval.high.toFixed(3)} (${width.toFixed(3)} wide)` : 'undefined') +
        `, wider than ${MAX_USEFUL_INTERVAL_WIDTH}. Use more data (more users, or a smaller n so more targets qualify).`,
    );
  }
  if (run.steps < MIN_OPTIMIZER_STEPS) {
    warnings.push(
      `Only ${run.steps} optimizer steps (fewer than ${MIN_OPTIMIZER_STEPS}): the model has hardly started to learn. ` +
        'Lower the targets per step or train more epochs.',
    );
  }
  const curve = run.validCurve.filter((point) => Number.isFinite(point.auc));
  if (curve.length >= 4) {
    let falls = 0;
    for (let i = 1; i < curve.length; i++) if (curve[i].auc < curve[i - 1].auc) falls++;
    const bestIndex = curve.reduce((b, point, i) => (point.auc > curve[b].auc ? i : b), 0);
    const mostlyFalling = falls > (curve.length - 1) / 2;
    const earlyBest = bestIndex < curve.length / 4;
    if (mostlyFalling || earlyBest) {
      const fell = `${falls} of ${curve.length - 1} validation points lower than the one before`;
      const bestAt = `best at step ${curve[bestIndex].step} of ${curve.at(-1)!.step}`;
      // The best point is the first highest, so every later point is lower or equal.
      const what = earlyBest
        ? `peaked early (${bestAt}) and no later point beat it${mostlyFalling ? ` (${fell})` : ''}`
        : `fell for most of training (${fell}; ${bestAt})`;
      warnings.push(
        `The validation AUC ${what}: the model overfits or the learning rate is too high. ` +
          'The kept weights are the best point, but a lower learning rate or fewer epochs would say more.',
      );
    }
  }
  const best = bestBaseline(run.baselines);
  if (best && Number.isFinite(test.auc) && test.auc < best.auc) {
    warnings.push(
      `The model's test AUC (${test.auc.toFixed(4)}) is below ${best.name} (${best.auc.toFixed(4)}) on the same targets: ` +
        'it has not learned more than that simple scorer, so its figures say little about the method.',
    );
  }
  if (test.calibrationSlope > MAX_CALIBRATION_SLOPE) {
    warnings.push(
      `Test predictions are bunched near one value (calibration slope ${test.calibrationSlope.toFixed(1)}; 1 is calibrated): ` +
        'they still rank, but do not say how likely a click is. Train longer or with more steps.',
    );
  }
  if (Number.isFinite(test.logLoss) && Number.isFinite(run.trainClickRate) && Number.isFinite(test.clickRate)) {
    const constant = constantLogLoss(run.trainClickRate, test.clickRate);
    if (test.logLoss > constant) {
      warnings.push(
        `The test LogLoss (${test.logLoss.toFixed(4)}) is worse than predicting the training click rate ` +
          `(${(100 * run.trainClickRate).toFixed(1)} %) for everyone (${constant.toFixed(4)}).`,
      );
    }
  }
  return warnings;
}
