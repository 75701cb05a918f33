/**
 * The real-data benchmark (`npm run bench -- --real`): does DTI keep SW's accuracy at a fraction of its cost on real
 * ratings, against simple baselines, with honest intervals? On MovieLens latest-small (read from
 * ../shared/data/ml-latest-small when present; said so when absent) and on the built-in `medium` preset, n = 10 (DTI
 * k = 20) and n = 30 (DTI k = 50), strict isolation with RoPE, 3 seeds, the lab's default model and protocol.
 *
 * SW is expensive by nature, so the full benchmark takes hours on a CPU: it runs in the background (its log in
 * bench-results/real/progress.log), keeps every finished run in bench-results/real/, and resumes where it stopped
 * when started again. `--quick` is the day-to-day check: a fixed sample of QUICK_USERS users of ml-latest-small, n = 10
 * only, one seed, item-id tokens only (a third of the default's tokens per interaction), about 20 minutes here. `--foreground` runs in this terminal; `--report` only rewrites the section.
 * The section of docs/BENCHMARKS.md between the markers below is rewritten from whatever runs are finished.
 */
import { existsSync } from 'node:fs';
import { USER_SAMPLE_SEED } from '../src/data/sample';
import { type SummaryRow, differenceVerdict, summarizeRuns, summaryTable } from '../src/train/experiments';
import { type PlannedRun, type RunFile, benchmarkMain, isFinished, readRunFile, savedSection as sectionOf, writeReport } from './resumable-bench';

export const REAL_DATA_DIR = '../shared/data/ml-latest-small';
/** Users of the quick form's fixed sample (drawn with USER_SAMPLE_SEED, the same for every run). */
export const QUICK_USERS = 100;
const START = '<!-- real-data:start -->';
const END = '<!-- real-data:end -->';
const DIR = 'bench-results/real';

interface RealRun extends PlannedRun {
  data: 'ml-latest-small' | 'medium';
  n: number;
  k: number;
  paradigm: 'sw' | 'dti';
  seed: number;
}

/** The runs of the benchmark, in the order they train (SW before DTI of a seed, so a comparison completes early). */
export function plan(quick: boolean): RealRun[] {
  const runs: RealRun[] = [];
  const datasets = quick ? (['ml-latest-small'] as const) : (['ml-latest-small', 'medium'] as const);
  const settings = quick ? [{ n: 10, k: 20 }] : [{ n: 10, k: 20 }, { n: 30, k: 50 }];
  const seeds = quick ? [1] : [1, 2, 3];
  for (const data of datasets) {
    if (data === 'ml-latest-small' && !existsSync(`${REAL_DATA_DIR}/ratings.csv`)) continue;
    const dataArgs =
      data === 'medium'
        ? ['--dataset', 'medium']
        : ['--files', `${REAL_DATA_DIR}/ratings.csv,${REAL_DATA_DIR}/movies.csv`, '--click-at-least', '4', ...(quick ? ['--users', String(QUICK_USERS), '--item-text', 'id'] : [])];
    for (const { n, k } of settings) {
      for (const seed of seeds) {
        for (const paradigm of ['sw', 'dti'] as const) {
          const id = `${quick ? 'quick-' : ''}${data}-n${n}-${paradigm === 'sw' ? 'sw' : `dti-k${k}`}-seed${seed}`;
          runs.push({
            id,
            data,
            n,
            k,
            paradigm,
            seed,
            args: [...dataArgs, '--n', String(n), '--k', String(k), '--paradigm', paradigm, '--isolation', 'strict', '--encoding', 'rope', '--seed', String(seed)],
          });
        }
      }
    }
  }
  return runs;
}

const f = (x: number | undefined | null, digits: number) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');

/** The issue's goals on one comparison's summary rows, each met or missed by how much. */
function goals(sw: SummaryRow, dti: SummaryRow, n: number, k: number): string[] {
  const lines: string[] = [];
  const logistic = sw.baselines?.logistic ?? NaN;
  const margin = sw.testAuc.mean - logistic;
  lines.push(`SW test AUC at least 0.01 above the item + user logistic baseline (${f(logistic, 4)}): ${f(margin, 4)} above, ${margin >= 0.01 ? 'met' : 'not met'}.`);
  const delta = dti.aucVsSw;
  const interval = dti.aucVsSwInterval;
  const within = Math.abs(delta) <= 0.005 || delta > 0;
  const intervalOk = interval !== null && interval.high >= 0;
  lines.push(
    `DTI test AUC within 0.005 of SW's: ΔAUC ${f(delta, 4)} (${within ? 'met' : 'not met'}); its paired 95 % interval ` +
      `[${f(interval?.low, 4)}, ${f(interval?.high, 4)}] ${intervalOk ? 'includes 0 or lies above it (met)' : 'lies below 0 (not met)'}: ${differenceVerdict(interval)}.`,
  );
  const slopeOk = (r: SummaryRow) => r.testCalibrationSlope.mean >= 0.7 && r.testCalibrationSlope.mean <= 1.5;
  lines.push(
    `Calibration slope between 0.7 and 1.5: SW ${f(sw.testCalibrationSlope.mean, 2)}, DTI ${f(dti.testCalibrationSlope.mean, 2)} ` +
      `(${slopeOk(sw) && slopeOk(dti) ? 'met' : 'not met'}).`,
  );
  const logLossGap = dti.testLogLoss.mean - sw.testLogLoss.mean;
  lines.push(`DTI LogLoss no worse than SW's + 0.005: ${f(logLossGap, 4)} worse (${logLossGap <= 0.005 ? 'met' : 'not met'}).`);
  const limit = n >= 30 && k >= 50 ? 0.1 : 0.15;
  const ratio = dti.secondsToSwAccuracy.mean / sw.secondsToSwAccuracy.mean;
  lines.push(
    `DTI's time to SW's accuracy (SW's best validation AUC − 0.002) at most ${limit}× SW's: DTI reached it in ${dti.reachedSwAccuracy} of ` +
      `${dti.comparedSeeds} seeds, ${f(dti.secondsToSwAccuracy.mean, 1)} s against SW's ${f(sw.secondsToSwAccuracy.mean, 1)} s: ` +
      `${f(ratio, 3)}× (${dti.reachedSwAccuracy === dti.comparedSeeds && ratio <= limit ? 'met' : 'not met'}).`,
  );
  return lines;
}

/** The docs section from the finished runs: one table per dataset and n, the goals checked under it. */
function section(quick: boolean): string {
  const planned = plan(quick);
  const done = planned.filter((run) => isFinished(DIR, run));
  const head = [
    `### ${quick ? `Quick form (a fixed sample of ${QUICK_USERS} users of ml-latest-small, n = 10, one seed, item-id tokens)` : 'Full benchmark'}`,
    '',
    `Command: \`npm run bench -- --real${quick ? ' --quick' : ''}\`. ${done.length} of ${planned.length} runs finished` +
      (done.length < planned.length ? ' (the rest have not run yet: the tables below hold what has).' : '.'),
  ];
  if (!existsSync(`${REAL_DATA_DIR}/ratings.csv`)) {
    head.push('', `${REAL_DATA_DIR} is not present on this machine: the MovieLens part was not run.`);
  }
  const groups = new Map<string, { files: RunFile[]; n: number; k: number }>();
  for (const run of done) {
    const key = `${run.data}|${run.n}`;
    const file = readRunFile(DIR, run);
    const group = groups.get(key) ?? { files: [], n: run.n, k: run.k };
    group.files.push(file);
    groups.set(key, group);
  }
  const body: string[] = [];
  for (const [key, { files, n, k }] of groups) {
    const runs = files.flatMap((file) => file.runs);
    const { rows } = summarizeRuns(runs);
    const first = files[0];
    const dates = files.map((file) => file.date).sort();
    body.push(
      '',
      `#### ${key.split('|')[0]}, n = ${n}${rows.some((r) => r.k > 1) ? `, DTI k = ${k}` : ''}`,
      '',
      `Data: ${first.dataset.name} (${first.dataset.stats.users} users, ${first.dataset.stats.interactions} interactions` +
        (quick ? `; the fixed sample of ${QUICK_USERS} users drawn with seed ${USER_SAMPLE_SEED}` : '') +
        `). Machine: ${first.machine}; adapter: ${first.adapter}. Runs measured ${dates[0].slice(0, 16)}–${dates.at(-1)!.slice(0, 16)} UTC. ` +
        `Each run: up to ${runs[0].config.epochs} epochs, ${runs[0].config.batchTargets} targets per step, ${runs[0].config.evalsPerEpoch} validation ` +
        `points per epoch, early stopping after ${runs[0].config.patience}, the best validation point scored on test; item text ${runs[0].config.itemText}.`,
      '',
      summaryTable(rows),
    );
    const sw = rows.find((r) => r.k === 1);
    const dti = rows.find((r) => r.k > 1);
    if (sw && dti) body.push('', ...goals(sw, dti, n, k).map((line) => `- ${line}`));
    const warnings = [...new Set(runs.flatMap((run) => run.warnings.map((w) => `${run.config.paradigm.toUpperCase()} seed ${run.config.seed}: ${w}`)))];
    if (warnings.length) body.push('', 'Warnings the runs gave:', '', ...warnings.map((w) => `- ${w}`));
  }
  return [...head, ...body].join('\n');
}

function report(): void {
  writeReport({
    title: '## 5. Real data: SW against DTI and the baselines',
    notRun: '_not run yet: `npm run bench -- --real --quick` (about 20 minutes) or `npm run bench -- --real` (hours)_',
    markers: [START, END],
    dir: DIR,
    plan,
    section,
  });
}

/** The saved section, for bench.ts when it rewrites the whole document. */
export const savedSection = (doc: string) => sectionOf(doc, START, END);

export function main(argv: readonly string[]): void {
  const quick = argv.includes('--quick');
  benchmarkMain(argv, {
    name: 'real-data benchmark',
    dir: DIR,
    log: `${DIR}/progress${quick ? '-quick' : ''}.log`,
    planned: plan(quick),
    report,
    before: () => {
      if (!existsSync(`${REAL_DATA_DIR}/ratings.csv`)) console.log(`${REAL_DATA_DIR} is not present: only the built-in part runs.`);
    },
  });
}
