/** The run curves: loss, validation AUC / LogLoss and throughput against the training step; comparisons and sweeps. */
import { memo, startTransition, useEffect, useRef, useState } from 'react';
import { type EvalPoint, type RunRecord, type StepPoint, duringTraining } from '../store/run-types';
import type { SweepSummary } from '../store/sweep-view';
import { fmtCompact } from './format';
import { LineChart } from './line-chart';

/** Charts draw at most this many points per series: a long run has thousands of steps. */
const MAX_POINTS = 400;

function thin<T>(points: readonly T[], max = MAX_POINTS): T[] {
  if (points.length <= max) return [...points];
  const every = Math.ceil(points.length / max);
  const kept = points.filter((_, i) => i % every === 0);
  if (kept[kept.length - 1] !== points[points.length - 1]) kept.push(points[points.length - 1]);
  return kept;
}

/** Live charts redraw at most this often: the store receives new steps four times a second. */
export const CHART_REFRESH_MS = 1000;

/**
 * `value`, but changed at most once per `intervalMs` and never sooner than `delayMs` after it changed (the latest
 * value always arrives). The change renders as a transition, which React splits into short slices. Charts use
 * different delays so that their redraws, whose commits cannot be split, land in different tasks.
 */
export function useThrottled<T>(value: T, intervalMs: number, delayMs = 0): T {
  const [shown, setShown] = useState(value);
  const lastShown = useRef(0);
  useEffect(() => {
    if (Object.is(value, shown)) return;
    const wait = Math.max(delayMs, lastShown.current + intervalMs - Date.now());
    const timer = setTimeout(() => {
      lastShown.current = Date.now();
      startTransition(() => setShown(() => value));
    }, wait);
    return () => clearTimeout(timer);
  }, [value, shown, intervalMs, delayMs]);
  return shown;
}

const stepPoints = <T extends { step: number }>(points: readonly T[], y: (p: T) => number) => points.map((p) => ({ x: p.step, y: y(p) }));

const LossChart = memo(function LossChart({ steps: liveSteps }: { steps: readonly StepPoint[] }) {
  const steps = thin(useThrottled(liveSteps, CHART_REFRESH_MS));
  return (
    <figure className="chart" aria-label="Training loss by step" data-testid="loss-chart">
      <figcaption>Training loss (binary cross-entropy per target)</figcaption>
      <LineChart integerX xLabel="training step" leftLabel="loss" series={[{ name: 'loss', color: '#0072b2', points: stepPoints(steps, (s) => s.loss) }]} />
    </figure>
  );
});

const ValidationChart = memo(function ValidationChart({ evals: liveEvals, evalsPerEpoch }: { evals: readonly EvalPoint[]; evalsPerEpoch: number }) {
  const evals = useThrottled(liveEvals, CHART_REFRESH_MS, CHART_REFRESH_MS / 3);
  const points = evals.filter(duringTraining);
  return (
    <figure className="chart" aria-label="Validation AUC and LogLoss by step" data-testid="valid-chart">
      <figcaption>Validation AUC (left, higher is better) and LogLoss (right, lower is better)</figcaption>
      {points.length === 0 && (
        <p className="help">
          The first validation comes {evalsPerEpoch > 1 ? `after 1/${evalsPerEpoch} of the first epoch` : 'at the end of the first epoch'}, on a fixed sample
          of validation targets.
        </p>
      )}
      <LineChart
        integerX
        xLabel="training step"
        leftLabel="AUC"
        rightLabel="LogLoss"
        series={[
          { name: 'AUC', color: '#009e73', points: stepPoints(points, (e) => e.auc), dots: true },
          { name: 'LogLoss', color: '#d55e00', points: stepPoints(points, (e) => e.logLoss), axis: 'right', dashed: true, dots: true },
        ]}
      />
    </figure>
  );
});

const ThroughputChart = memo(function ThroughputChart({ steps: liveSteps }: { steps: readonly StepPoint[] }) {
  const steps = thin(useThrottled(liveSteps, CHART_REFRESH_MS, (2 * CHART_REFRESH_MS) / 3));
  return (
    <figure className="chart" aria-label="Throughput by step" data-testid="throughput-chart">
      <figcaption>Throughput: targets per second (left) and tokens per second (right), averaged since the start</figcaption>
      <LineChart
        integerX
        xLabel="training step"
        leftLabel="targets/s"
        rightLabel="tokens/s"
        formatLeft={(v) => fmtCompact(v)}
        formatRight={(v) => fmtCompact(v)}
        series={[
          { name: 'targets/s', color: '#0072b2', points: stepPoints(steps, (s) => s.targetsPerSec) },
          { name: 'tokens/s', color: '#cc79a7', points: stepPoints(steps, (s) => s.tokensPerSec), axis: 'right', dashed: true },
        ]}
      />
    </figure>
  );
});

const NO_STEPS: readonly StepPoint[] = [];
const NO_EVALS: readonly EvalPoint[] = [];

/** The three curves of the shown run (empty before the first run). */
export function RunCharts({ run }: { run: RunRecord | null }) {
  return (
    <div className="charts">
      <LossChart steps={run?.steps ?? NO_STEPS} />
      <ValidationChart evals={run?.evals ?? NO_EVALS} evalsPerEpoch={run?.config.evalsPerEpoch ?? 1} />
      <ThroughputChart steps={run?.steps ?? NO_STEPS} />
    </div>
  );
}

const RUN_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];

/** Moving mean of the loss over the last `window` steps: a step's loss alone is the noise of its few targets. */
function smoothedLoss(steps: readonly StepPoint[], window: number): { seconds: number; loss: number }[] {
  const out: { seconds: number; loss: number }[] = [];
  let sum = 0;
  steps.forEach((s, i) => {
    sum += s.loss;
    if (i >= window) sum -= steps[i - window].loss;
    out.push({ seconds: s.elapsedMs / 1000, loss: sum / Math.min(i + 1, window) });
  });
  return out;
}

/** Steps averaged per point of the compared runs' loss curves. */
const LOSS_WINDOW = 20;

/**
 * Several runs against training wall-clock, overlaid: validation AUC (what DTI buys is the same AUC sooner) and the
 * training loss, averaged over LOSS_WINDOW steps.
 */
export function CompareChart({ runs: liveRuns }: { runs: RunRecord[] }) {
  const runs = useThrottled(liveRuns, CHART_REFRESH_MS);
  const series = runs.map((run) => {
    const elapsedAt = new Map(run.steps.map((s) => [s.step, s.elapsedMs]));
    return {
      run,
      points: run.evals
        .filter((e) => duringTraining(e) && (e.elapsedMs !== undefined || elapsedAt.has(e.step)))
        .map((e) => ({ seconds: (e.elapsedMs ?? elapsedAt.get(e.step)!) / 1000, auc: e.auc })),
      loss: thin(smoothedLoss(run.steps, LOSS_WINDOW)),
    };
  });
  if (series.every((s) => s.points.length === 0 && s.loss.length === 0)) return null;
  const color = (i: number) => RUN_COLORS[i % RUN_COLORS.length];
  return (
    <div className="charts">
      <figure className="chart" aria-label="Validation AUC against training time" data-testid="compare-chart">
        <figcaption>Validation AUC against training wall-clock (evaluation time excluded)</figcaption>
        <LineChart
          xLabel="training time (s)"
          leftLabel="validation AUC"
          xFromZero
          series={series.map((s, i) => ({ name: s.run.name, color: color(i), points: s.points.map((p) => ({ x: p.seconds, y: p.auc })), dots: true }))}
        />
      </figure>
      <figure className="chart" aria-label="Training loss against training time" data-testid="compare-loss-chart">
        <figcaption>Training loss against training wall-clock (mean of the last {LOSS_WINDOW} steps)</figcaption>
        <LineChart
          xLabel="training time (s)"
          leftLabel="loss"
          xFromZero
          series={series.map((s, i) => ({ name: s.run.name, color: color(i), points: s.loss.map((p) => ({ x: p.seconds, y: p.loss })) }))}
        />
      </figure>
    </div>
  );
}

/** A sweep against k: test AUC (does DTI keep the SW accuracy as k grows?) and training time (what it buys). */
export function SweepCharts({ series }: { series: SweepSummary['series'] }) {
  if (series.every((s) => s.points.length === 0)) return null;
  const ks = [...new Set(series.flatMap((s) => s.points.map((p) => p.k)))].sort((a, b) => a - b);
  const lines = (key: 'auc' | 'seconds') =>
    series.map((s, i) => ({ name: s.name, color: RUN_COLORS[i % RUN_COLORS.length], points: s.points.map((p) => ({ x: p.k, y: p[key] })), dots: true }));
  const kAxis = { xLabel: 'k (targets per prompt, log scale)', xScale: 'log' as const, xTicks: ks, formatX: (k: number) => String(k) };
  return (
    <div className="charts">
      <figure className="chart" aria-label="Test AUC against k" data-testid="sweep-auc-chart">
        <figcaption>Test AUC against k (k = 1 is the sliding window)</figcaption>
        <LineChart {...kAxis} leftLabel="test AUC" series={lines('auc')} />
      </figure>
      <figure className="chart" aria-label="Training time against k" data-testid="sweep-time-chart">
        <figcaption>Training time against k (seconds, evaluation excluded)</figcaption>
        <LineChart {...kAxis} leftLabel="train time (s)" formatLeft={(v) => fmtCompact(v)} series={lines('seconds')} />
      </figure>
    </div>
  );
}
