/**
 * A small SVG line chart: one x axis (linear or log), a left and an optional right y axis, a legend, and each point's
 * value on hover. A redraw is one SVG of a few hundred nodes, cheap enough to follow a live run without blocking the
 * page (a charting library's redraw cost tens of milliseconds on a slow machine).
 */
import { memo } from 'react';

export interface ChartSeries {
  name: string;
  color: string;
  points: readonly { x: number; y: number }[];
  /** Which y axis the series is read against. */
  axis?: 'left' | 'right';
  dashed?: boolean;
  /** Mark every point (for curves of few points, such as validation). */
  dots?: boolean;
}

export interface LineChartProps {
  series: readonly ChartSeries[];
  xLabel: string;
  leftLabel: string;
  rightLabel?: string;
  xScale?: 'linear' | 'log';
  /** x values to tick (default: nice round values). */
  xTicks?: readonly number[];
  formatX?: (x: number) => string;
  formatLeft?: (y: number) => string;
  formatRight?: (y: number) => string;
  /** Where an x value of 0 belongs in the domain (a time axis starts at 0). */
  xFromZero?: boolean;
  /** x values are whole numbers (training steps): ticks too. */
  integerX?: boolean;
}

const WIDTH = 600;
const HEIGHT = 220;
const PAD = { left: 58, right: 58, top: 8, bottom: 38 };
const TICKS = 5;

/** About `count` round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(low: number, high: number, count = TICKS, integers = false): number[] {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const nice = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * power;
  const step = integers ? Math.max(1, Math.round(nice)) : nice;
  const ticks: number[] = [];
  for (let t = Math.ceil(low / step - 1e-9) * step; t <= high + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Decimals that tell ticks `step` apart (no two ticks print alike). */
export function tickDecimals(ticks: readonly number[]): number {
  if (ticks.length < 2) return 2;
  const step = Math.abs(ticks[1] - ticks[0]);
  return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
}

function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return [0, 1];
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (low === high) {
    const pad = Math.abs(low) * 0.05 || 0.5;
    low -= pad;
    high += pad;
  }
  return [low, high];
}

function axisScale(ticks: number[], [low, high]: [number, number], from: number, to: number, log = false) {
  const lo = Math.min(low, ticks[0] ?? low);
  const hi = Math.max(high, ticks.at(-1) ?? high);
  const f = log ? Math.log10 : (v: number) => v;
  const a = f(lo);
  const b = f(hi);
  return (v: number) => from + ((f(v) - a) / (b - a || 1)) * (to - from);
}

export const LineChart = memo(function LineChart(props: LineChartProps) {
  const { series, xLabel, leftLabel, rightLabel, xScale = 'linear' } = props;
  const all = (axis: 'left' | 'right') => series.filter((s) => (s.axis ?? 'left') === axis).flatMap((s) => s.points.map((p) => p.y));
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xExtent = extent(props.xFromZero ? [0, ...xs] : xs);
  const log = xScale === 'log' && xExtent[0] > 0;
  const xTicks = props.xTicks ? [...props.xTicks] : log ? [xExtent[0], xExtent[1]] : niceTicks(...xExtent, TICKS, props.integerX);
  const leftExtent = extent(all('left'));
  const leftTicks = niceTicks(...leftExtent, 4);
  const hasRight = series.some((s) => s.axis === 'right');
  const rightExtent = extent(all('right'));
  const rightTicks = hasRight ? niceTicks(...rightExtent, 4) : [];
  const x = axisScale(props.xTicks || log ? [] : xTicks, xExtent, PAD.left, WIDTH - PAD.right, log);
  const yLeft = axisScale(leftTicks, leftExtent, HEIGHT - PAD.bottom, PAD.top);
  const yRight = axisScale(rightTicks, rightExtent, HEIGHT - PAD.bottom, PAD.top);
  const fx = props.formatX ?? ((v: number) => v.toFixed(tickDecimals(xTicks)));
  const fl = props.formatLeft ?? ((v: number) => v.toFixed(tickDecimals(leftTicks)));
  const fr = props.formatRight ?? ((v: number) => v.toFixed(tickDecimals(rightTicks)));
  const bottom = HEIGHT - PAD.bottom;
  return (
    <div className="line-chart">
      <ul className="chart-legend">
        {series.map((s) => (
          <li key={s.name}>
            <svg width="18" height="8" aria-hidden="true">
              <line x1="0" y1="4" x2="18" y2="4" stroke={s.color} strokeWidth="2" strokeDasharray={s.dashed ? '4 2' : undefined} />
            </svg>{' '}
            {s.name}
          </li>
        ))}
      </ul>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width="100%" role="img" aria-label={`${leftLabel}${rightLabel ? ` and ${rightLabel}` : ''} against ${xLabel}`}>
        <g className="chart-grid">
          {leftTicks.map((t) => (
            <line key={`l${t}`} x1={PAD.left} x2={WIDTH - PAD.right} y1={yLeft(t)} y2={yLeft(t)} />
          ))}
          {xTicks.map((t) => (
            <line key={`x${t}`} x1={x(t)} x2={x(t)} y1={PAD.top} y2={bottom} />
          ))}
        </g>
        <g className="chart-axis">
          <line x1={PAD.left} x2={WIDTH - PAD.right} y1={bottom} y2={bottom} />
          {xTicks.map((t) => (
            <text key={t} x={x(t)} y={bottom + 14} textAnchor="middle">
              {fx(t)}
            </text>
          ))}
          <text x={(PAD.left + WIDTH - PAD.right) / 2} y={HEIGHT - 4} textAnchor="middle">
            {xLabel}
          </text>
          {leftTicks.map((t) => (
            <text key={t} x={PAD.left - 4} y={yLeft(t) + 4} textAnchor="end">
              {fl(t)}
            </text>
          ))}
          <text transform={`translate(12 ${(PAD.top + bottom) / 2}) rotate(-90)`} textAnchor="middle">
            {leftLabel}
          </text>
          {hasRight &&
            rightTicks.map((t) => (
              <text key={t} x={WIDTH - PAD.right + 4} y={yRight(t) + 4} textAnchor="start">
                {fr(t)}
              </text>
            ))}
          {hasRight && rightLabel && (
            <text transform={`translate(${WIDTH - 10} ${(PAD.top + bottom) / 2}) rotate(90)`} textAnchor="middle">
              {rightLabel}
            </text>
          )}
        </g>
        {series.map((s) => {
          const y = s.axis === 'right' ? yRight : yLeft;
          const points = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
          const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.x).toFixed(1)} ${y(p.y).toFixed(1)}`).join('');
          return (
            <g key={s.name} className="chart-series">
              {points.length > 1 && (
                <path className="chart-line" d={d} fill="none" stroke={s.color} strokeWidth="2" strokeDasharray={s.dashed ? '5 3' : undefined}>
                  <title>{`${s.name}: ${points.at(-1)!.y.toPrecision(4)} at ${fx(points.at(-1)!.x)} (the last point)`}</title>
                </path>
              )}
              {(s.dots || points.length === 1) &&
                points.map((p) => (
                  <circle key={p.x} cx={x(p.x)} cy={y(p.y)} r="3" fill={s.color}>
                    <title>{`${s.name}: ${p.y.toPrecision(4)} at ${fx(p.x)}`}</title>
                  </circle>
                ))}
            </g>
          );
        })}
      </svg>
    </div>
  );
});
