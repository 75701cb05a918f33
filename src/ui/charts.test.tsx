// @vitest-environment happy-dom
import { act, cleanup, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useThrottled } from './charts';

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
