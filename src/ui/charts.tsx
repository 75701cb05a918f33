/** The run curves (recharts): loss, validation AUC / LogLoss and throughput against the training step. */
import { memo, startTransition, useEffect, useRef, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import type { EvalPoint, RunRecord, StepPoint } from '../store/run-types';
import type { SweepSummary } from '../store/sweep-view';
import { fmtCompact } from './format';

/** Charts draw at most this many points per series: a long run has thousands of steps. */
const MAX_POINTS = 400;

function thin<T>(points: readonly T[], max = MAX_POINTS): T[] {
  if (points.length <= max) return [...points];
  const every = Math.ceil(points.length / max);
  const kept = points.filter((_, i) => i % every === 0);
  if (kept[kept.length - 1] !== points[points.length - 1]) kept.push(points[points.length - 1]);
  return kept;
}

/**
 * Live charts redraw at most this often. A recharts redraw costs tens of milliseconds of page-thread time on a slow
 * machine, and the store receives new steps four times a second: redrawing on each would block the page.
 */
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

const CHART_STYLE = { width: '100%', height: 220 };
const MARGIN = { top: 8, right: 8, bottom: 24, left: 0 };
const stepAxis = <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} label={{ value: 'training step', position: 'insideBottom', offset: -12 }} allowDecimals={false} />;

const LossChart = memo(function LossChart({ steps: liveSteps }: { steps: readonly StepPoint[] }) {
  const steps = useThrottled(liveSteps, CHART_REFRESH_MS);
  return (
    <figure className="chart" aria-label="Training loss by step" data-testid="loss-chart">
      <figcaption>Training loss (binary cross-entropy per target)</figcaption>
      <LineChart responsive style={CHART_STYLE} data={thin(steps)} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" />
        {stepAxis}
        <YAxis width={72} domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(2)} label={{ value: 'loss', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
        <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `step ${s}`} />
        <Line type="linear" dataKey="loss" name="loss" stroke="#0072b2" dot={false} isAnimationActive={false} />
      </LineChart>
    </figure>
  );
});

/** The validation points during training (on the fixed sample); runs saved before the lab marked them have only those. */
const duringTraining = (e: EvalPoint) => e.split === 'valid' && e.sample !== false;

const ValidationChart = memo(function ValidationChart({ evals: liveEvals, evalsPerEpoch }: { evals: readonly EvalPoint[]; evalsPerEpoch: number }) {
  const evals = useThrottled(liveEvals, CHART_REFRESH_MS, CHART_REFRESH_MS / 3);
  const points = evals.filter(duringTraining);
  return (
    <figure className="chart" aria-label="Validation AUC and LogLoss by step" data-testid="valid-chart">
      <figcaption>Validation AUC (left, higher is better) and LogLoss (right, lower is better)</figcaption>
      {/* The chart stays mounted while it is empty: its first points are then a cheap update, not a mount. */}
      {points.length === 0 && (
        <p className="help">
          The first validation comes {evalsPerEpoch > 1 ? `after 1/${evalsPerEpoch} of the first epoch` : 'at the end of the first epoch'}, on a fixed sample
          of validation targets.
        </p>
      )}
      <LineChart responsive style={CHART_STYLE} data={points} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" />
        {stepAxis}
        <YAxis yAxisId="auc" width={72} domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(3)} label={{ value: 'AUC', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
        <YAxis yAxisId="logloss" orientation="right" domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(3)} width={72} label={{ value: 'LogLoss', angle: 90, position: 'insideRight', style: { textAnchor: 'middle' } }} />
        <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `step ${s}`} />
        <Legend verticalAlign="top" />
        <Line yAxisId="auc" type="linear" dataKey="auc" name="AUC" stroke="#009e73" isAnimationActive={false} />
        <Line yAxisId="logloss" type="linear" dataKey="logLoss" name="LogLoss" stroke="#d55e00" strokeDasharray="4 2" isAnimationActive={false} />
        </LineChart>
    </figure>
  );
});

const ThroughputChart = memo(function ThroughputChart({ steps: liveSteps }: { steps: readonly StepPoint[] }) {
  const steps = useThrottled(liveSteps, CHART_REFRESH_MS, (2 * CHART_REFRESH_MS) / 3);
  return (
    <figure className="chart" aria-label="Throughput by step" data-testid="throughput-chart">
      <figcaption>Throughput: targets per second (left) and tokens per second (right), averaged since the start</figcaption>
      <LineChart responsive style={CHART_STYLE} data={thin(steps)} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" />
        {stepAxis}
        <YAxis yAxisId="targets" width={72} tickFormatter={(v: number) => fmtCompact(v)} label={{ value: 'targets/s', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
        <YAxis yAxisId="tokens" orientation="right" tickFormatter={(v: number) => fmtCompact(v)} width={72} label={{ value: 'tokens/s', angle: 90, position: 'insideRight', style: { textAnchor: 'middle' } }} />
        <Tooltip formatter={(v) => (typeof v === 'number' ? fmtCompact(v, 2) : String(v))} labelFormatter={(s) => `step ${s}`} />
        <Legend verticalAlign="top" />
        <Line yAxisId="targets" type="linear" dataKey="targetsPerSec" name="targets/s" stroke="#0072b2" dot={false} isAnimationActive={false} />
        <Line yAxisId="tokens" type="linear" dataKey="tokensPerSec" name="tokens/s" stroke="#cc79a7" dot={false} strokeDasharray="4 2" isAnimationActive={false} />
      </LineChart>
    </figure>
  );
});

/**
 * How many of `total` heavy children to show: one more after each commit, each in its own interruptible render, so
 * mounting them never adds up to one long task.
 */
function useMountOneByOne(total: number): number {
  const [shown, setShown] = useState(0);
  useEffect(() => {
    if (shown >= total) return;
    const timer = setTimeout(() => startTransition(() => setShown((n) => n + 1)));
    return () => clearTimeout(timer);
  }, [shown, total]);
  return shown;
}

const NO_STEPS: readonly StepPoint[] = [];
const NO_EVALS: readonly EvalPoint[] = [];

/**
 * The three curves of the shown run (empty before the first run). The charts stay mounted from one run to the next:
 * mounting a chart is a single commit of tens of milliseconds on a slow machine, too long to do while training.
 */
export function RunCharts({ run }: { run: RunRecord | null }) {
  const charts = [
    <LossChart key="loss" steps={run?.steps ?? NO_STEPS} />,
    <ValidationChart key="valid" evals={run?.evals ?? NO_EVALS} evalsPerEpoch={run?.config.evalsPerEpoch ?? 1} />,
    <ThroughputChart key="throughput" steps={run?.steps ?? NO_STEPS} />,
  ];
  const mounted = useMountOneByOne(charts.length);
  return (
    <div className="charts">
      {charts.map((chart, i) => (i < mounted ? chart : <div key={chart.key} className="chart chart-placeholder" aria-busy="true" />))}
    </div>
  );
}

const RUN_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];

/** Validation AUC of several runs against training wall-clock: what DTI buys is the same AUC sooner. */
export function CompareChart({ runs: liveRuns }: { runs: RunRecord[] }) {
  const runs = useThrottled(liveRuns, CHART_REFRESH_MS);
  const series = runs.map((run) => {
    const elapsedAt = new Map(run.steps.map((s) => [s.step, s.elapsedMs]));
    return {
      run,
      points: run.evals
        .filter((e) => duringTraining(e) && (e.elapsedMs !== undefined || elapsedAt.has(e.step)))
        .map((e) => ({ seconds: (e.elapsedMs ?? elapsedAt.get(e.step)!) / 1000, auc: e.auc })),
    };
  });
  if (series.every((s) => s.points.length === 0)) return null;
  return (
    <figure className="chart" aria-label="Validation AUC against training time" data-testid="compare-chart">
      <figcaption>Validation AUC against training wall-clock (evaluation time excluded)</figcaption>
      <LineChart responsive style={{ width: '100%', height: 260 }} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="seconds" type="number" domain={[0, 'dataMax']} tickFormatter={(v: number) => v.toFixed(1)} label={{ value: 'training time (s)', position: 'insideBottom', offset: -12 }} />
        <YAxis width={72} domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(3)} label={{ value: 'validation AUC', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
        <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `${Number(s).toFixed(1)} s`} />
        <Legend verticalAlign="top" />
        {series.map((s, i) => (
          <Line key={s.run.id} data={s.points} dataKey="auc" name={s.run.name} stroke={RUN_COLORS[i % RUN_COLORS.length]} isAnimationActive={false} />
        ))}
      </LineChart>
    </figure>
  );
}

/** A sweep against k: test AUC (does DTI keep the SW accuracy as k grows?) and training time (what it buys). */
export function SweepCharts({ series }: { series: SweepSummary['series'] }) {
  if (series.every((s) => s.points.length === 0)) return null;
  const kAxis = (
    <XAxis
      dataKey="k"
      type="number"
      scale="log"
      domain={['dataMin', 'dataMax']}
      ticks={[...new Set(series.flatMap((s) => s.points.map((p) => p.k)))].sort((a, b) => a - b)}
      label={{ value: 'k (targets per prompt, log scale)', position: 'insideBottom', offset: -12 }}
      allowDataOverflow
    />
  );
  const lines = (key: 'auc' | 'seconds') =>
    series.map((s, i) => <Line key={s.name} data={s.points} dataKey={key} name={s.name} stroke={RUN_COLORS[i % RUN_COLORS.length]} isAnimationActive={false} />);
  return (
    <div className="charts">
      <figure className="chart" aria-label="Test AUC against k" data-testid="sweep-auc-chart">
        <figcaption>Test AUC against k (k = 1 is the sliding window)</figcaption>
        <LineChart responsive style={{ width: '100%', height: 260 }} margin={MARGIN}>
          <CartesianGrid strokeDasharray="3 3" />
          {kAxis}
          <YAxis width={72} domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(3)} label={{ value: 'test AUC', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
          <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(k) => `k = ${k}`} />
          <Legend verticalAlign="top" />
          {lines('auc')}
        </LineChart>
      </figure>
      <figure className="chart" aria-label="Training time against k" data-testid="sweep-time-chart">
        <figcaption>Training time against k (seconds, whole epochs, evaluation excluded)</figcaption>
        <LineChart responsive style={{ width: '100%', height: 260 }} margin={MARGIN}>
          <CartesianGrid strokeDasharray="3 3" />
          {kAxis}
          <YAxis width={72} tickFormatter={(v: number) => fmtCompact(v)} label={{ value: 'train time (s)', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
          <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(1) : String(v))} labelFormatter={(k) => `k = ${k}`} />
          <Legend verticalAlign="top" />
          {lines('seconds')}
        </LineChart>
      </figure>
    </div>
  );
}
