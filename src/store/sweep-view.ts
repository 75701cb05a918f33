/**
 * What the sweep view shows: the runs of one sweep summarized as the headless runner does (one row per k, isolation
 * level and position encoding, mean ± sd over seeds, speed-up and ΔAUC against the sliding window), and the series of
 * its charts (one line per level and encoding, against k).
 */
import { type SummaryRow, summarizeRuns } from '../train/experiments';
import { validationCurve } from './compare';
import type { RunRecord } from './run-types';

export interface SweepSummary {
  sweepId: string;
  /** Runs queued by the sweep, finished or not. */
  runs: RunRecord[];
  /** Runs with final test metrics (the table counts only these). */
  finished: number;
  rows: SummaryRow[];
  /** The table as Markdown, the same as `npm run experiment -- --sweep-k …` prints. */
  markdown: string;
  /** The table with what produced it (data, n, model, optimizer, batches, seeds, SW rule, adapter), for export. */
  report: string;
  /** One line per isolation level and position encoding; the SW row (k = 1) starts every line of its encoding. */
  series: { name: string; points: { k: number; auc: number; seconds: number }[] }[];
}

/** Sweep ids present among the runs, the most recent sweep first. */
export function sweepIds(runs: readonly RunRecord[]): string[] {
  const latest = new Map<string, number>();
  for (const run of runs) if (run.sweepId) latest.set(run.sweepId, Math.max(latest.get(run.sweepId) ?? 0, run.createdAt));
  return [...latest].sort((a, b) => b[1] - a[1]).map(([id]) => id);
}

export function summarizeSweep(runs: readonly RunRecord[], sweepId: string): SweepSummary {
  const members = runs.filter((r) => r.sweepId === sweepId);
  const outcomes = members.flatMap((r) =>
    r.status === 'done' && r.result
      ? [
          {
            config: r.config,
            trainMs: r.result.trainMs,
            tokensProcessed: r.result.tokensProcessed,
            test: r.result.test,
            testAucInterval: r.result.testAucInterval,
            testPredictions: r.result.testPredictions,
            testLabels: r.result.testLabels,
            baselines: r.result.baselines,
            diagnostics: r.result.diagnostics,
            validCurve: validationCurve(r),
          },
        ]
      : [],
  );
  const { rows, markdown } = summarizeRuns(outcomes);
  const lines = new Map<string, { name: string; points: { k: number; auc: number; seconds: number }[] }>();
  const sw = rows.filter((r) => r.k === 1);
  for (const row of rows) {
    if (row.k === 1) continue;
    const name = `${row.isolation} · ${row.positionEncoding}${row.forgetting ? ' · forgetting' : ''}`;
    if (!lines.has(name)) {
      const base = sw.find((s) => s.positionEncoding === row.positionEncoding && s.forgetting === row.forgetting);
      lines.set(name, { name, points: base ? [{ k: 1, auc: base.testAuc.mean, seconds: base.trainSeconds.mean }] : [] });
    }
    lines.get(name)!.points.push({ k: row.k, auc: row.testAuc.mean, seconds: row.trainSeconds.mean });
  }
  // A sweep of k = 1 only still draws its SW points.
  if (lines.size === 0) for (const s of sw) lines.set(s.label, { name: s.label, points: [{ k: 1, auc: s.testAuc.mean, seconds: s.trainSeconds.mean }] });
  const series = [...lines.values()].map((line) => ({ ...line, points: line.points.sort((a, b) => a.k - b.k) }));
  return { sweepId, runs: members, finished: outcomes.length, rows, markdown, series, report: sweepReport(members, markdown) };
}

const distinct = <T,>(values: T[]) => [...new Set(values)];

/** The sweep's table under a description of its runs: an exported table must say what it measured. */
function sweepReport(members: readonly RunRecord[], table: string): string {
  const first = members[0];
  if (!first) return `${table}\n`;
  const c = first.config;
  const m = c.model;
  const sw = members.filter((r) => r.config.paradigm === 'sw');
  const epochs = `${c.epochs} epoch${c.epochs === 1 ? '' : 's'}`;
  const lines = [
    `# DTI Lab sweep, ${new Date(Math.min(...members.map((r) => r.createdAt))).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- data: ${first.dataset.name} (${first.dataset.users} users, ${first.dataset.interactions} interactions)`,
    `- n = ${c.n} context interactions; up to ${epochs} per run, ${c.evalsPerEpoch} validation points per epoch on a fixed validation sample, ` +
      (c.patience > 0 ? `early stopping after ${c.patience} points without improvement` : 'no early stopping') +
      '; the best validation point is scored on test',
    `- model: d = ${m.dModel}, ${m.nHeads} heads, ${m.nLayers} layers, d_ff = ${m.dFF}`,
    `- optimizer: AdamW, learning rate ${c.learningRate} (warm-up then decay), weight decay ${c.weightDecay}, gradient clip ${c.maxGradNorm || 'off'}`,
    `- batch: ${distinct(members.map((r) => r.config.batchTargets)).join('/')} targets per optimizer step, SW and DTI alike; item text ${distinct(members.map((r) => r.config.itemText)).join('/')}`,
    `- seeds: ${distinct(members.map((r) => r.config.seed)).join(', ')}`,
    `- SW baseline trained under: ${distinct(sw.map((r) => r.config.isolation)).join(', ') || '–'}; each DTI row is compared with the SW row of its encoding (and rule, when one exists)`,
    `- evaluation: every test target scored by its own n preceding interactions, as SW serves it (several targets per prompt only where that is exact: strict isolation with RoPE, ALiBi or no positions)`,
    `- adapter: ${distinct(members.flatMap((r) => (r.adapter ? [r.adapter] : []))).join('; ') || 'unknown'}`,
    `- runs: ${members.length} started, ${members.filter((r) => r.status === 'done' && r.result).length} finished`,
    '',
    table,
    '',
  ];
  return lines.join('\n');
}
