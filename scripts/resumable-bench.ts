/**
 * What the long benchmarks (bench-real.ts, bench-skew.ts) share: a plan of runner invocations, each trained in its own
 * process and kept as one JSON file, so an interruption loses at most the run in progress and starting again resumes;
 * a background mode with a progress log; and one section of docs/BENCHMARKS.md between markers, rewritten from
 * whatever runs are finished.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { ExperimentRun } from '../src/train/experiments';

/**
 * One invocation of scripts/experiment.ts; its result is `${dir}/${id}.json`. A finished file is kept whatever its
 * args were: a plan that changes a run's args without changing its id must be started on an empty folder.
 */
export interface PlannedRun {
  id: string;
  args: string[];
}

/** What the runner writes (scripts/experiment.ts). */
export interface RunFile {
  date: string;
  machine: string;
  adapter: string;
  dataset: { name: string; stats: { users: number; interactions: number } };
  runs: ExperimentRun[];
}

export const finishedFile = (dir: string, run: PlannedRun) => `${dir}/${run.id}.json`;
export const isFinished = (dir: string, run: PlannedRun) => existsSync(finishedFile(dir, run));

/** A finished run's file, its typed arrays (plain arrays in JSON) revived. */
export function readRunFile(dir: string, run: PlannedRun): RunFile {
  const file = JSON.parse(readFileSync(finishedFile(dir, run), 'utf8')) as RunFile;
  const runs = file.runs.map((r) => ({ ...r, testPredictions: Float32Array.from(r.testPredictions), testLabels: Uint8Array.from(r.testLabels) }));
  return { ...file, runs };
}

/** Trains the planned runs not finished yet, one process each, calling `report` after each. */
export function runPlanned(dir: string, planned: readonly PlannedRun[], report: () => void): void {
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  let trained = 0;
  planned.forEach((run, i) => {
    if (isFinished(dir, run)) {
      console.log(`[${i + 1}/${planned.length}] ${run.id}: finished earlier, kept`);
      return;
    }
    const elapsed = (Date.now() - started) / 60000;
    console.log(
      `[${i + 1}/${planned.length}] ${run.id} (${new Date().toISOString().slice(11, 19)} UTC; ${elapsed.toFixed(0)} min so far, ${trained} trained this time)`,
    );
    // The runner writes its file only when the run has finished.
    const result = spawnSync('bash', ['scripts/with-gpu.sh', 'scripts/experiment.ts', ...run.args, '--out', finishedFile(dir, run)], { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`${run.id} failed (exit ${result.status}); finished runs are kept, start again to resume`);
    trained++;
    report();
  });
  report();
}

/** Starts this script again, detached, with `--foreground`; its output goes to `log`. */
export function startInBackground(name: string, dir: string, log: string, argv: readonly string[]): void {
  mkdirSync(dir, { recursive: true });
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv, '--foreground'], { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  console.log(
    `The ${name} runs in the background (pid ${child.pid}, ${os.cpus().length} cores here); its progress: tail -f ${log}\n` +
      `Finished runs are kept in ${dir}/: starting it again resumes. Its section of docs/BENCHMARKS.md is rewritten after every run.`,
  );
}

/** A section of docs/BENCHMARKS.md between its markers: written in place, or appended the first time. */
export function writeSection(start: string, end: string, markdown: string): void {
  const doc = existsSync('docs/BENCHMARKS.md') ? readFileSync('docs/BENCHMARKS.md', 'utf8') : '# Benchmarks\n';
  const block = `${start}\n${markdown}${end}`;
  const next = doc.includes(start) ? doc.replace(new RegExp(`${start}[\\s\\S]*${end}`), () => block) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync('docs/BENCHMARKS.md', next);
}

/**
 * Rewrites a benchmark's section: its title, then the quick form's and the full form's parts for those with finished
 * runs, or `notRun` when neither has any.
 */
export function writeReport(options: {
  title: string;
  notRun: string;
  markers: [string, string];
  dir: string;
  plan: (quick: boolean) => readonly PlannedRun[];
  section: (quick: boolean) => string;
}): void {
  const parts = [options.title, ''];
  for (const quick of [true, false]) {
    if (options.plan(quick).some((run) => isFinished(options.dir, run))) parts.push(options.section(quick), '');
  }
  if (parts.length === 2) parts.push(options.notRun, '');
  writeSection(options.markers[0], options.markers[1], parts.join('\n'));
  console.log(`wrote the section "${options.title.replace(/^#+ /, '')}" of docs/BENCHMARKS.md`);
}

/** The saved section between the markers (with them), for bench.ts when it rewrites the whole document. */
export function savedSection(doc: string, start: string, end: string): string | null {
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  return from >= 0 && to > from ? doc.slice(from, to + end.length) : null;
}

/** `--report` rewrites the section only, `--foreground` trains here, otherwise in the background. */
export function benchmarkMain(
  argv: readonly string[],
  options: { name: string; dir: string; log: string; planned: readonly PlannedRun[]; report: () => void; before?: () => void },
): void {
  if (argv.includes('--report')) {
    options.report();
    return;
  }
  if (argv.includes('--foreground')) {
    options.before?.();
    runPlanned(options.dir, options.planned, options.report);
    return;
  }
  startInBackground(options.name, options.dir, options.log, argv);
}
