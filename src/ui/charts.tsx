/** The run curves (recharts): loss, validation AUC / LogLoss and throughput against the training step. */
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import type { RunRecord } from '../store/run-types';
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

const CHART_STYLE = { width: '100%', height: 220 };
const MARGIN = { top: 8, right: 8, bottom: 24, left: 0 };
const stepAxis = <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} label={{ value: 'training step', position: 'insideBottom', offset: -12 }} allowDecimals={false} />;

export function LossChart({ run }: { run: RunRecord }) {
  return (
    <figure className="chart" aria-label="Training loss by step" data-testid="loss-chart">
      <figcaption>Training loss (binary cross-entropy per target)</figcaption>
      <LineChart responsive style={CHART_STYLE} data={thin(run.steps)} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" />
        {stepAxis}
        <YAxis width={72} domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(2)} label={{ value: 'loss', angle: -90, position: 'insideLeft', style: { textAnchor: 'middle' } }} />
        <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `step ${s}`} />
        <Line type="linear" dataKey="loss" name="loss" stroke="#0072b2" dot={false} isAnimationActive={false} />
      </LineChart>
    </figure>
  );
}

export function ValidationChart({ run }: { run: RunRecord }) {
  const points = run.evals.filter((e) => e.split === 'valid');
  return (
    <figure className="chart" aria-label="Validation AUC and LogLoss by step" data-testid="valid-chart">
      <figcaption>Validation AUC (left, higher is better) and LogLoss (right, lower is better)</figcaption>
      {points.length === 0 ? (
        <p className="help">The first validation comes {run.config.evalEvery > 0 ? `at step ${run.config.evalEvery}` : 'at the end of the first epoch'}.</p>
      ) : (
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
      )}
    </figure>
  );
}

export function ThroughputChart({ run }: { run: RunRecord }) {
  return (
    <figure className="chart" aria-label="Throughput by step" data-testid="throughput-chart">
      <figcaption>Throughput: targets per second (left) and tokens per second (right), averaged since the start</figcaption>
      <LineChart responsive style={CHART_STYLE} data={thin(run.steps)} margin={MARGIN}>
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
}

const RUN_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];

/** Validation AUC of several runs against training wall-clock: what DTI buys is the same AUC sooner. */
export function CompareChart({ runs }: { runs: RunRecord[] }) {
  const series = runs.map((run) => {
    const elapsedAt = new Map(run.steps.map((s) => [s.step, s.elapsedMs]));
    return {
      run,
      points: run.evals
        .filter((e) => e.split === 'valid' && elapsedAt.has(e.step))
        .map((e) => ({ seconds: elapsedAt.get(e.step)! / 1000, auc: e.auc })),
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
