// @vitest-environment happy-dom
import { act, cleanup, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useThrottled } from './charts';
import { LineChart, niceTicks, tickDecimals } from './line-chart';

afterEach(cleanup);
beforeEach(() => {
  vi.useFakeTimers();
  return () => vi.useRealTimers();
});

/** Renders useThrottled and records every value it returned. */
function mountThrottled(intervalMs: number, delayMs: number) {
  const shown: number[] = [];
  function Probe({ value }: { value: number }) {
    shown.push(useThrottled(value, intervalMs, delayMs));
    return null;
  }
  const view = render(<Probe value={0} />);
  const set = (value: number) => view.rerender(<Probe value={value} />);
  const last = () => shown[shown.length - 1];
  return { set, last, distinct: () => [...new Set(shown)] };
}

describe('useThrottled (the live charts redraw at most once per interval)', () => {
  it('shows a burst of changes as few redraws, ending with the latest value', async () => {
    const probe = mountThrottled(1000, 0);
    // Ten new values over 2.5 s, as the store sends steps every 250 ms.
    for (let v = 1; v <= 10; v++) {
      probe.set(v);
      await act(async () => vi.advanceTimersByTime(250));
    }
    await act(async () => vi.advanceTimersByTime(1000));
    expect(probe.last()).toBe(10);
    // 0, then at most one value per second of the 3.5 s.
    expect(probe.distinct().length).toBeLessThanOrEqual(5);
    expect(probe.distinct().length).toBeGreaterThanOrEqual(3);
  });

  it('waits at least its delay before showing a change', async () => {
    const probe = mountThrottled(1000, 300);
    probe.set(7);
    await act(async () => vi.advanceTimersByTime(299));
    expect(probe.last()).toBe(0);
    await act(async () => vi.advanceTimersByTime(2));
    expect(probe.last()).toBe(7);
  });
});

describe('the line chart', () => {
  it('ticks at round values that print apart', () => {
    expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(1, 3, 5, true)).toEqual([1, 2, 3]);
    for (const [low, high] of [[0.671, 0.672], [0.5, 0.9], [0, 97], [1200, 98000]]) {
      const ticks = niceTicks(low, high);
      const printed = ticks.map((t) => t.toFixed(tickDecimals(ticks)));
      expect(new Set(printed).size).toBe(ticks.length);
      expect(ticks.length).toBeGreaterThanOrEqual(3);
    }
  });

  it('draws one path per series of two or more points, dots where asked, on two axes', () => {
    const { container } = render(
      <LineChart
        integerX
        xLabel="step"
        leftLabel="AUC"
        rightLabel="LogLoss"
        series={[
          { name: 'AUC', color: '#000', points: [{ x: 1, y: 0.6 }, { x: 2, y: 0.7 }, { x: 3, y: 0.72 }], dots: true },
          { name: 'LogLoss', color: '#f00', points: [{ x: 1, y: 0.69 }, { x: 2, y: 0.6 }], axis: 'right' },
          { name: 'one point', color: '#0f0', points: [{ x: 2, y: 0.65 }] },
        ]}
      />,
    );
    expect(container.querySelectorAll('path.chart-line')).toHaveLength(2);
    expect(container.querySelectorAll('circle')).toHaveLength(4);
    expect(container.querySelector('circle title')?.textContent).toBe('AUC: 0.6000 at 1');
    expect(container.querySelectorAll('.chart-legend li')).toHaveLength(3);
    // The AUC line rises: its y coordinate (SVG y grows downwards) falls from the first point to the last.
    const d = container.querySelector('path.chart-line')!.getAttribute('d')!;
    const ys = [...d.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(ys[0]).toBeGreaterThan(ys[2]);
  });
});
