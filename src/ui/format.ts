/** Number formatting shared by the views: a reader should never see 0.7123456789 or 1234567 ungrouped. */

export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(digits);
}

export function fmtInt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return Math.round(value).toLocaleString('en-US');
}

export function fmtPercent(fraction: number | null | undefined, digits = 0): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** 1234 -> "1.2 k", 3.4e9 -> "3.4 G": for throughputs and FLOP counts. */
export function fmtCompact(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const units = ['', ' k', ' M', ' G', ' T'];
  let v = Math.abs(value);
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${value < 0 ? '-' : ''}${u === 0 ? Math.round(v) : v.toFixed(digits)}${units[u]}`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How the views explain the calibration columns (metrics.ts: predictedOverObserved, calibrationFit). */
export const CALIBRATION_HELP =
  'Predicted / observed CTR is the mean predicted click probability over the share of clicks (1: right on average). ' +
  'The calibration slope is b in label ~ a + b·logit(P) fitted on the test targets: 1 is calibrated, above 1 the predictions are too timid ' +
  '(a worse LogLoss at the same AUC), below 1 overconfident.';
