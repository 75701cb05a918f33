/**
 * The mechanism benchmark (`npm run bench -- --skew`, issue 15): the paper's two bottlenecks measured directly, with
 * the skew diagnostics (src/train/diagnostics.ts) beside test AUC, so plain DTI's degradation with k and each fix's
 * recovery show even where test AUCs are within noise.
 * - the built-in `leakage` preset (labels follow a taste that history older than the window reveals): every isolation
 *   level × every position encoding at k = 1 (SW), 5, 20, 50, plus plain DTI (window) with distance-based forgetting,
 *   5 seeds;
 * - ml-latest-small (read from ../shared/data/ml-latest-small when present): every level with learned and RoPE
 *   positions at k = 1 and 20, 3 seeds.
 * Both with the default model and protocol (up to 10 epochs, early stopping, the best validation point scored on test);
 * plain DTI (window, RoPE) also with 1 and 4 layers, the depth series.
 * It takes days on a CPU, so it runs in the background and resumes (resumable-bench.ts). `--quick` is the check that
 * fits a session: the leakage preset, k = 20, one seed, 3 epochs, RoPE and learned positions, SW with RoPE only.
 */
import { existsSync } from 'node:fs';
import type { IsolationLevel, PositionEncoding } from '../src/prompt/types';
import { ISOLATION_LEVELS, POSITION_ENCODINGS } from '../src/prompt/types';
import { type ExperimentRun, type SummaryRow, differenceVerdict, formatSpread, summarizeRuns, summaryTable } from '../src/train/experiments';
import { DEFAULT_TRAIN_CONFIG } from '../src/train/protocol';
import { REAL_DATA_DIR } from './bench-real';
import { type PlannedRun, type RunFile, benchmarkMain, isFinished, readRunFile, savedSection as sectionOf, writeReport } from './resumable-bench';

const START = '<!-- skew:start -->';
const END = '<!-- skew:end -->';
const DIR = 'bench-results/skew';
/** Below this mean |Δlogit| a skew counts as none (float rounding through the layers is about 1e-6). */
const NO_SKEW = 1e-4;

type Data = 'leakage' | 'ml-latest-small';

interface SkewRun extends PlannedRun {
  data: Data;
}

interface Variant {
  level: IsolationLevel;
  encoding: PositionEncoding;
  forgetting: boolean;
  /** Layers, when not the default model's: the depth series (leakage grows with depth). */
  layers?: number;
}

/** Plain DTI at other depths than the default model's 2 layers. */
const DEPTHS = [1, 4];

function dataArgs(data: Data): string[] {
  return data === 'leakage'
    ? ['--dataset', 'leakage']
    : ['--files', `${REAL_DATA_DIR}/ratings.csv,${REAL_DATA_DIR}/movies.csv`, '--click-at-least', '4'];
}

/**
 * Each variant's ks, then SW (k = 1) once per encoding and forgetting choice (only `swOnly`'s, when given); DTI first,
 * so the skew figures come early.
 */
function runsOf(data: Data, variants: Variant[], ks: number[], seeds: number[], extra: string[], prefix: string, swOnly?: Variant): SkewRun[] {
  const runs: SkewRun[] = [];
  const onOff = (on: boolean) => (on ? 'on' : 'off');
  for (const seed of seeds) {
    const common = [...dataArgs(data), '--n', '10', '--seed', String(seed), '--quiet', ...extra];
    for (const v of variants) {
      for (const k of ks.filter((k) => k > 1)) {
        runs.push({
          id: `${prefix}${data}-k${k}-${v.level}-${v.encoding}${v.forgetting ? '-forgetting' : ''}${v.layers ? `-layers${v.layers}` : ''}-seed${seed}`,
          data,
          args: [
            ...common, '--paradigm', 'dti', '--k', String(k), '--isolation', v.level, '--encoding', v.encoding, '--forgetting', onOff(v.forgetting),
            ...(v.layers ? ['--layers', String(v.layers)] : []),
          ],
        });
      }
    }
    if (!ks.includes(1)) continue;
    const served = new Map((swOnly ? [swOnly] : variants.filter((v) => !v.layers)).map((v) => [`${v.encoding}|${v.forgetting}`, v]));
    for (const v of served.values()) {
      runs.push({
        id: `${prefix}${data}-sw-${v.encoding}${v.forgetting ? '-forgetting' : ''}-seed${seed}`,
        data,
        args: [...common, '--paradigm', 'sw', '--isolation', 'window', '--encoding', v.encoding, '--forgetting', onOff(v.forgetting)],
      });
    }
  }
  return runs;
}

export function plan(quick: boolean): SkewRun[] {
  if (quick) {
    const strictRope: Variant = { level: 'strict', encoding: 'rope', forgetting: false };
    const variants: Variant[] = [
      { level: 'window', encoding: 'rope', forgetting: false },
      { level: 'window', encoding: 'rope', forgetting: true },
      { level: 'sum-isolated', encoding: 'rope', forgetting: false },
      strictRope,
      { level: 'window', encoding: 'learned', forgetting: false },
      { level: 'strict', encoding: 'learned', forgetting: false },
      ...DEPTHS.map((layers): Variant => ({ level: 'window', encoding: 'rope', forgetting: false, layers })),
    ];
    // SW costs about 7 times DTI's tokens per target here: the quick form trains it once, for strict + RoPE's ΔAUC.
    return runsOf('leakage', variants, [1, 20], [1], ['--epochs', '3'], 'quick-', strictRope);
  }
  const everyLevel = (encodings: readonly PositionEncoding[]) =>
    encodings.flatMap((encoding) => ISOLATION_LEVELS.map((level): Variant => ({ level, encoding, forgetting: false })));
  const leakage = [
    ...everyLevel(POSITION_ENCODINGS),
    ...POSITION_ENCODINGS.map((encoding): Variant => ({ level: 'window', encoding, forgetting: true })),
    ...DEPTHS.map((layers): Variant => ({ level: 'window', encoding: 'rope', forgetting: false, layers })),
  ];
  const runs = runsOf('leakage', leakage, [1, 5, 20, 50], [1, 2, 3, 4, 5], [], '');
  if (existsSync(`${REAL_DATA_DIR}/ratings.csv`)) runs.push(...runsOf('ml-latest-small', everyLevel(['learned', 'rope']), [1, 20], [1, 2, 3], [], ''));
  return runs;
}

const f = (x: number | undefined | null, digits: number) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');

/**
 * The paper's claims checked on one dataset's rows: reproduced, partly reproduced or not reproduced, each with its
 * figure; a claim whose rows are missing says so.
 */
export function verdicts(rows: readonly SummaryRow[]): string[] {
  const dti = rows.filter((r) => r.k > 1);
  const find = (level: IsolationLevel, encoding: PositionEncoding, forgetting = false) =>
    dti.filter((r) => r.isolation === level && r.positionEncoding === encoding && r.forgetting === forgetting).sort((a, b) => a.k - b.k);
  const deepest = (level: IsolationLevel, encoding: PositionEncoding, forgetting = false) => find(level, encoding, forgetting).at(-1);
  const lines: string[] = [];
  const missing = (claim: string) => lines.push(`${claim}: not measured yet (its runs have not finished).`);

  // Bottleneck 1: leakage under plain windowed attention, removed by strict isolation.
  const window = find('window', 'rope');
  const strict = deepest('strict', 'rope');
  if (window.length && strict) {
    const grows = window.length > 1 && window.every((r, i) => i === 0 || r.leakageSkew.mean > window[i - 1].leakageSkew.mean);
    const leaks = window.at(-1)!.leakageSkew.mean > NO_SKEW;
    const fixed = strict.skew.mean < NO_SKEW;
    const verdict = leaks && fixed ? (window.length > 1 ? (grows ? 'reproduced' : 'partly reproduced (it does not grow with k here)') : 'reproduced at one k') : 'not reproduced';
    lines.push(
      `Hidden-state leakage (window, RoPE) that strict isolation removes: ${verdict}. Leakage part of the skew ` +
        `${window.map((r) => `${f(r.leakageSkew.mean, 4)} at k = ${r.k}`).join(', ')}; interactions reaching a slot-k target ` +
        `${window.at(-1)!.reachDeepest} against ${window.at(-1)!.reachServed} served; strict at k = ${strict.k}: skew ${f(strict.skew.mean, 6)}.`,
    );
  } else missing('Hidden-state leakage (window, RoPE) that strict isolation removes');

  const light = deepest('sum-isolated', 'rope');
  const plain = deepest('window', 'rope');
  if (light && plain && light.k === plain.k) {
    const lower = light.leakageSkew.mean < plain.leakageSkew.mean;
    lines.push(
      `The light fix (sum-isolated) lowers leakage: ${lower ? 'reproduced' : 'not reproduced'} at k = ${light.k}: ` +
        `${f(light.leakageSkew.mean, 4)} against window's ${f(plain.leakageSkew.mean, 4)}.`,
    );
  } else missing('The light fix (sum-isolated) lowers leakage');

  const forgetting = deepest('window', 'rope', true);
  if (forgetting && plain && forgetting.k === plain.k) {
    const ratio = forgetting.leakageSkew.mean / plain.leakageSkew.mean;
    lines.push(
      `Distance-based forgetting (the lab's reconstruction) lowers window's leakage: ${ratio < 1 ? 'reproduced' : 'not reproduced'} at k = ${forgetting.k}: ` +
        `${f(forgetting.leakageSkew.mean, 4)} against ${f(plain.leakageSkew.mean, 4)} without (×${f(ratio, 2)}).`,
    );
  } else missing("Distance-based forgetting lowers window's leakage");

  // Bottleneck 2: positional bias with learned absolute positions, none with relative encodings.
  const learned = deepest('strict', 'learned') ?? deepest('window', 'learned');
  if (learned && strict) {
    const biased = learned.positionalSkew.mean > NO_SKEW && learned.slotSpread.mean > strict.slotSpread.mean;
    lines.push(
      `Positional bias with learned absolute positions, none with RoPE: ${biased ? 'reproduced' : 'not reproduced'}: ` +
        `${learned.label}: positional part ${f(learned.positionalSkew.mean, 4)}, slot spread ${f(learned.slotSpread.mean, 4)}, ` +
        `AUC at slot k − served ${f(learned.deepestSlotAucGain.mean, 4)}; ${strict.label}: slot spread ${f(strict.slotSpread.mean, 6)}.`,
    );
  } else missing('Positional bias with learned absolute positions');

  // Plain DTI degrades as k grows (test AUC); the fixed model keeps SW's AUC.
  const plainLearned = find('window', 'learned');
  if (plainLearned.length > 1) {
    const [first, last] = [plainLearned[0], plainLearned.at(-1)!];
    const drop = first.testAuc.mean - last.testAuc.mean;
    const noise = Math.max(first.testAucHalfWidth, last.testAucHalfWidth);
    const verdict = drop > noise ? 'reproduced' : drop > 0 ? 'partly reproduced (within the test AUC interval)' : 'not reproduced';
    lines.push(
      `Plain DTI (window, learned positions) degrades as k grows: ${verdict}: test AUC ${f(first.testAuc.mean, 4)} at k = ${first.k}, ` +
        `${f(last.testAuc.mean, 4)} at k = ${last.k} (interval half-width ±${f(noise, 4)}); skew ${f(first.skew.mean, 4)} → ${f(last.skew.mean, 4)}.`,
    );
  } else if (plainLearned.length === 1) {
    lines.push(`Plain DTI degrades as k grows: measured at k = ${plainLearned[0].k} only (test AUC ${f(plainLearned[0].testAuc.mean, 4)}, ΔAUC vs SW ${f(plainLearned[0].aucVsSw, 4)}).`);
  } else missing('Plain DTI (window, learned positions) degrades as k grows');

  if (strict) {
    const verdict = differenceVerdict(strict.aucVsSwInterval);
    const same = verdict === 'no measurable difference' || verdict === 'better than SW';
    lines.push(
      `DTI with both fixes (strict, RoPE) keeps SW's test AUC: ${strict.aucVsSwInterval ? (same ? 'reproduced' : 'not reproduced') : 'no SW row to compare with yet'} at k = ${strict.k}: ` +
        `ΔAUC ${f(strict.aucVsSw, 4)} [${f(strict.aucVsSwInterval?.low, 4)}, ${f(strict.aucVsSwInterval?.high, 4)}] (${verdict}), speed-up ${f(strict.speedUp, 2)}×.`,
    );
  }
  return lines;
}

/** Window + RoPE DTI rows by depth: what reaches a target, and how much of it is missing at serving time. */
function depthTable(runs: readonly ExperimentRun[]): string {
  const plain = runs.filter((r) => r.config.paradigm === 'dti' && r.config.isolation === 'window' && r.config.model.positionEncoding === 'rope' && !r.config.model.forgetting);
  const byDepth = new Map<string, ExperimentRun[]>();
  for (const run of plain) {
    const key = `${run.config.model.nLayers}|${run.config.k}`;
    byDepth.set(key, [...(byDepth.get(key) ?? []), run]);
  }
  if (new Set(plain.map((r) => r.config.model.nLayers)).size < 2) return '';
  const rows = [...byDepth.values()]
    .map((group) => ({ group, row: summarizeRuns(group).rows[0] }))
    .sort((a, b) => a.row.k - b.row.k || a.group[0].config.model.nLayers - b.group[0].config.model.nLayers);
  return [
    '| layers | k | seeds | test AUC | leakage part of the skew | slot spread | interactions reaching [SUM]: served → slot k |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      ({ group, row }) =>
        `| ${group[0].config.model.nLayers} | ${row.k} | ${row.seeds} | ${formatSpread(row.testAuc, 4)} | ${formatSpread(row.leakageSkew, 4)} | ` +
        `${formatSpread(row.slotSpread, 4)} | ${row.reachServed} → ${row.reachDeepest} |`,
    ),
  ].join('\n');
}

function section(quick: boolean): string {
  const planned = plan(quick);
  const done = planned.filter((run) => isFinished(DIR, run));
  const head = [
    `### ${quick ? 'Quick form (the leakage preset, k = 20, one seed, 3 epochs, SW with RoPE only)' : 'Full benchmark'}`,
    '',
    `Command: \`npm run bench -- --skew${quick ? ' --quick' : ''}\`. ${done.length} of ${planned.length} runs finished` +
      (done.length < planned.length ? ' (the rest have not run yet: the tables below hold what has).' : '.'),
  ];
  const body: string[] = [];
  for (const data of ['leakage', 'ml-latest-small'] as const) {
    const files: RunFile[] = done.filter((run) => run.data === data).map((run) => readRunFile(DIR, run));
    if (!files.length) continue;
    const all = files.flatMap((file) => file.runs);
    const defaultDepth = (run: ExperimentRun) => run.config.model.nLayers === DEFAULT_TRAIN_CONFIG.model.nLayers;
    const runs = all.filter(defaultDepth);
    if (!runs.length) continue;
    const { rows } = summarizeRuns(runs);
    const dates = files.map((file) => file.date).sort();
    body.push(
      '',
      `#### ${data}, n = 10`,
      '',
      `Data: ${files[0].dataset.name} (${files[0].dataset.stats.users} users, ${files[0].dataset.stats.interactions} interactions). ` +
        `Machine: ${files[0].machine}; adapter: ${files[0].adapter}. Runs measured ${dates[0].slice(0, 16)}–${dates.at(-1)!.slice(0, 16)} UTC. ` +
        `Each run: up to ${runs[0].config.epochs} epochs, ${runs[0].config.batchTargets} targets per step, early stopping after ` +
        `${runs[0].config.patience} validation points, the best one scored on test; item text ${runs[0].config.itemText}; ` +
        `${runs[0].config.model.nLayers} layers, ${runs[0].config.model.nHeads} heads. Skew columns: definitions in docs/ENGINE.md (Training protocol).`,
      '',
      summaryTable(rows),
      '',
      'The paper’s claims at this scale:',
      '',
      ...verdicts(rows).map((line) => `- ${line}`),
    );
    const depth = depthTable(all);
    if (depth) body.push('', 'Plain DTI (window, RoPE) at other depths (one layer cannot leak; the paths grow with depth, what the model sends along them need not):', '', depth);
  }
  return [...head, ...body].join('\n');
}

function report(): void {
  writeReport({
    title: '## 6. The bottlenecks measured directly: skew, slot spread and test AUC per level × encoding',
    notRun: '_not run yet: `npm run bench -- --skew --quick` (under an hour here) or `npm run bench -- --skew` (days on a CPU)_',
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
  benchmarkMain(argv, { name: 'skew benchmark', dir: DIR, log: `${DIR}/progress${quick ? '-quick' : ''}.log`, planned: plan(quick), report });
}
