/** Runs as files a researcher can load elsewhere: a summary CSV, a long-format curves CSV, and the full JSON. */
import { jsonWithArrays } from '../util/json';
import type { Metrics } from '../train/protocol';
import { type RunRecord, duringTraining } from './run-types';

export interface ExportFile {
  filename: string;
  mime: string;
  content: string;
}

/** What a spreadsheet takes for the start of a formula (OWASP's CSV injection list: = + - @, tab, carriage return). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell that would start a formula gets a leading apostrophe and quotes, so a run's name or an imported model's
 * metadata such as =HYPERLINK(…) stays text in the user's spreadsheet; numbers are written as numbers.
 */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const raw = String(value);
  const text = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return text !== raw || /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

/** Each metric's column name (after the split's prefix) and field, in column order. */
const METRIC_COLUMNS: readonly (readonly [string, keyof Metrics])[] = [
  ['auc', 'auc'],
  ['logloss', 'logLoss'],
  ['accuracy', 'accuracy'],
  ['count', 'count'],
  ['mean_p', 'meanPrediction'],
  ['click_rate', 'clickRate'],
  ['calibration_slope', 'calibrationSlope'],
];
const metricCells = (m: Metrics | undefined) => METRIC_COLUMNS.map(([, field]) => m?.[field]);
const metricHeader = (split: string) => METRIC_COLUMNS.map(([name]) => `${split}_${name}`);

const SUMMARY_HEADER = [
  'run_id', 'name', 'created', 'status', 'dataset', 'dataset_preset', 'paradigm', 'n', 'k', 'isolation', 'position_encoding',
  'forgetting', 'item_text', 'd_model', 'heads', 'layers', 'd_ff', 'learning_rate', 'batch_targets', 'epochs', 'max_steps', 'seed', 'weight_decay',
  'max_grad_norm', 'evals_per_epoch', 'patience', 'adapter', 'lab_version', 'steps', 'stop_reason', 'best_step', 'train_ms', 'tokens_processed',
  'targets_processed', 'targets_per_s', 'tokens_per_s', ...metricHeader('valid'), ...metricHeader('test'), 'test_auc_ci_low',
  'test_auc_ci_high', 'eval_targets_per_prompt', 'baseline_popularity_auc', 'baseline_user_rate_auc', 'baseline_logistic_auc',
  'baseline_history_auc', 'warnings',
];

export function runsSummaryCsv(runs: readonly RunRecord[]): string {
  return csv(
    SUMMARY_HEADER,
    runs.map((run) => {
      const c = run.config;
      const r = run.result;
      const perSecond = (count: number | undefined) => (r && r.trainMs > 0 && count !== undefined ? (count / r.trainMs) * 1000 : null);
      return [
        run.id, run.name, new Date(run.createdAt).toISOString(), run.status, run.dataset.name, run.dataset.preset,
        c.paradigm, c.n, c.k, c.isolation, c.model.positionEncoding, c.model.forgetting, c.itemText, c.model.dModel, c.model.nHeads, c.model.nLayers,
        c.model.dFF, c.learningRate, c.batchTargets, c.epochs, c.maxSteps, c.seed, c.weightDecay, c.maxGradNorm, c.evalsPerEpoch,
        c.patience, run.adapter, run.labVersion, r?.steps, r?.stopReason, r?.bestStep, r?.trainMs, r?.tokensProcessed, r?.targetsProcessed,
        perSecond(r?.targetsProcessed), perSecond(r?.tokensProcessed), ...metricCells(r?.valid), ...metricCells(r?.test),
        r?.testAucInterval?.low, r?.testAucInterval?.high, r?.evalTargetsPerPrompt, r?.baselines?.popularity, r?.baselines?.userRate,
        r?.baselines?.logistic, r?.baselines?.history, r?.warnings?.join(' | '),
      ];
    }),
  );
}

/** One row per step, with the validation metrics on the steps where they were measured. */
export function runsCurvesCsv(runs: readonly RunRecord[]): string {
  const rows: unknown[][] = [];
  for (const run of runs) {
    // The validation points during training (the final scores of the kept weights are in the summary).
    const validAt = new Map(run.evals.filter(duringTraining).map((e) => [e.step, e]));
    for (const s of run.steps) {
      const v = validAt.get(s.step);
      rows.push([
        ...[run.id, s.step, s.epoch, s.loss, s.elapsedMs, s.targetsPerSec, s.tokensPerSec, s.targets, s.tokens],
        ...[v?.auc, v?.logLoss, v?.accuracy, v?.meanPrediction, v?.clickRate, v?.calibrationSlope],
      ]);
    }
  }
  return csv(
    [
      ...['run_id', 'step', 'epoch', 'loss', 'elapsed_ms', 'targets_per_s', 'tokens_per_s', 'batch_targets', 'batch_tokens'],
      ...['valid_auc', 'valid_logloss', 'valid_accuracy', 'valid_mean_p', 'valid_click_rate', 'valid_calibration_slope'],
    ],
    rows,
  );
}

/** The format tag of a runs file (runsJson), which runs-import.ts reads back. */
export const RUNS_FILE_FORMAT = 'dti-lab-runs/1';

/**
 * Everything about the runs (configs, curves, results, each test target's prediction); NaN metrics become null, as
 * JSON requires, and typed arrays plain arrays.
 */
export function runsJson(runs: readonly RunRecord[]): string {
  return jsonWithArrays({ format: RUNS_FILE_FORMAT, exportedAt: new Date().toISOString(), runs });
}

/** The time now as it goes into an exported file's name: 2026-11-29T04-12-00 (no colons, which some systems refuse). */
export const fileStamp = () => new Date().toISOString().slice(0, 19).replaceAll(':', '-');

export function exportRuns(runs: readonly RunRecord[], format: 'summary-csv' | 'curves-csv' | 'json'): ExportFile {
  const stamp = fileStamp();
  switch (format) {
    case 'summary-csv':
      return { filename: `dti-lab-runs-${stamp}.csv`, mime: 'text/csv', content: runsSummaryCsv(runs) };
    case 'curves-csv':
      return { filename: `dti-lab-curves-${stamp}.csv`, mime: 'text/csv', content: runsCurvesCsv(runs) };
    case 'json':
      return { filename: `dti-lab-runs-${stamp}.json`, mime: 'application/json', content: runsJson(runs) };
  }
}
