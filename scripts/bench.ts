/**
 * `npm run bench`: every benchmark of the lab, then docs/BENCHMARKS.md from their outputs.
 *  1. kernels (scripts/bench-kernels.ts),
 *  2. the paper's experiments at lab scale (scripts/experiment.ts): SW vs DTI over 3 seeds, and the k sweep,
 *  3. the peer comparison against TensorFlow.js on WebGPU in headless chromium (scripts/bench-peer.ts).
 * SW's runs dominate its time (about 20 targets per second with the default item text on 2 CPU cores with software
 * WebGPU, so over an hour there; the document's header gives the last total). `--skip kernels,experiments,peer`
 * leaves parts out (their previous section is kept). `--grid` also runs the full scaling grid (k 1-50 × every isolation
 * level × every position encoding: about an hour more there); its last result is kept in bench-results/grid.json.
 * `--real` and `--skew` run the long real-data and mechanism benchmarks instead (bench-real.ts, bench-skew.ts);
 * `--load` the upload benchmark in the page (bench-load.ts: MovieLens-25M-sized files, cancel, replace).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { type SummaryRow, summaryTable } from '../src/train/experiments';
import { DEFAULT_TRAIN_CONFIG } from '../src/train/protocol';
import { main as realBenchmark, savedSection as savedRealSection } from './bench-real';
import { savedSection as savedLoadSection } from './bench-load';
import { main as skewBenchmark, savedSection as savedSkewSection } from './bench-skew';

if (process.argv.includes('--real')) {
  realBenchmark(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--load')) {
  const args = process.argv.slice(2).filter((arg) => arg !== '--load');
  process.exit(spawnSync('bash', ['scripts/with-gpu.sh', 'scripts/bench-load.ts', ...args], { stdio: 'inherit' }).status ?? 1);
}
if (process.argv.includes('--skew')) {
  skewBenchmark(process.argv.slice(2));
  process.exit(0);
}

const skipIndex = process.argv.indexOf('--skip');
const skip = new Set(skipIndex > 0 ? process.argv[skipIndex + 1].split(',') : []);
const work = 'bench-results';
mkdirSync(work, { recursive: true });

function run(script: string, args: string[]): void {
  console.log(`\n$ bash scripts/with-gpu.sh ${script} ${args.join(' ')}`);
  execFileSync('bash', ['scripts/with-gpu.sh', script, ...args], { stdio: 'inherit' });
}

// The experiments: the built-in 'small' preset, the default model and protocol (targets per step, validation points,
// early stopping, best checkpoint), n = 10; at most 3 epochs, so SW's runs (the cost) stay within minutes each here.
const common = ['--dataset', 'small', '--n', '10', '--epochs', '3', '--quiet'];
const compareArgs = [...common, '--k', '20', '--isolation', 'strict', '--encoding', 'rope', '--compare', '--seeds', '1,2,3'];
// Closer to the paper's setting: 30 context interactions and k = 50. SW's cost per target grows with n, DTI's hardly
// (tokens per target (n+k)/k); one seed, as SW at n = 30 costs three times SW at n = 10.
const withArgs = (args: string[], changes: Record<string, string>) => args.map((arg, i) => changes[args[i - 1]?.slice(2)] ?? arg);
const compareN30Args = withArgs(compareArgs, { n: '30', k: '50', seeds: '1' });
const sweepArgs = [...common, '--sweep-k', '1,5,20', '--levels', 'window,strict', '--encodings', 'rope'];
const gridArgs = [...common, '--sweep-k', '1,5,10,20,50', '--levels', 'window,full-causal,sum-isolated,strict', '--encodings', 'rope,learned,alibi,none'];

const started = Date.now();
const loadAtStart = os.loadavg()[0];
if (!skip.has('kernels')) run('scripts/bench-kernels.ts', ['--out', `${work}/kernels.md`]);
if (!skip.has('experiments')) {
  run('scripts/experiment.ts', [...compareArgs, '--out', `${work}/compare.json`]);
  run('scripts/experiment.ts', [...compareN30Args, '--out', `${work}/compare-n30.json`]);
  run('scripts/experiment.ts', [...sweepArgs, '--out', `${work}/sweep.json`]);
}
if (process.argv.includes('--grid')) run('scripts/experiment.ts', [...gridArgs, '--out', `${work}/grid.json`]);
if (!skip.has('peer')) run('scripts/bench-peer.ts', ['--out', `${work}/peer.md`]);

interface ExperimentOutput {
  date: string;
  machine: string;
  adapter: string;
  dataset: { name: string; stats: { users: number; interactions: number } };
  summary: SummaryRow[];
}
const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);
const readJson = (file: string) => {
  const text = read(file);
  return text ? (JSON.parse(text) as ExperimentOutput) : null;
};
const f = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/** The grid at a glance: one line per encoding and level, one column per k (k = 1 is that encoding's SW run). */
function pivot(rows: SummaryRow[]): string {
  const ks = [...new Set(rows.map((r) => r.k))].sort((a, b) => a - b);
  const lines = [...new Set(rows.filter((r) => r.k > 1).map((r) => `${r.positionEncoding}|${r.isolation}`))];
  const cell = (r: SummaryRow | undefined) => (r ? `${f(r.testAuc.mean, 3)} (${f(r.trainSeconds.mean, 0)} s)` : '–');
  return [
    `| encoding · level | ${ks.map((k) => (k === 1 ? 'k = 1 (SW)' : `k = ${k}`)).join(' | ')} |`,
    `|---|${ks.map(() => '---').join('|')}|`,
    ...lines.map((line) => {
      const [encoding, level] = line.split('|');
      const find = (k: number) => rows.find((r) => r.k === k && r.positionEncoding === encoding && (k === 1 || r.isolation === level));
      return `| ${encoding} · ${level} | ${ks.map((k) => cell(find(k))).join(' | ')} |`;
    }),
  ].join('\n');
}

const when = (output: ExperimentOutput) => `${output.date.slice(0, 16).replace('T', ' ')} UTC`;
const compare = readJson(`${work}/compare.json`);
const compareN30 = readJson(`${work}/compare-n30.json`);

const argValue = (args: string[], name: string) => args[args.indexOf(`--${name}`) + 1];
/** The setting of a comparison, from its command line and the protocol's defaults, so the text cannot drift from what ran. */
function setting(args: string[], output: ExperimentOutput): string {
  const v = (name: string) => argValue(args, name);
  const epochs = Number(v('epochs'));
  const c = DEFAULT_TRAIN_CONFIG;
  return (
    `Dataset: ${output.dataset.name} (${output.dataset.stats.users} users, ${output.dataset.stats.interactions} interactions), ` +
    `n = ${v('n')}, k = ${v('k')}, default model (d = ${c.model.dModel}, ${c.model.nHeads} heads, ${c.model.nLayers} layers), item text ${c.itemText}, ` +
    `at most ${epochs} epoch${epochs === 1 ? '' : 's'} over the same training targets, ${c.batchTargets} targets per optimizer step for SW and DTI alike, ` +
    `${c.evalsPerEpoch} validation points per epoch, early stopping after ${c.patience} without improvement, the best validation point ` +
    `scored on test; seeds ${v('seeds')} (mean ± sd). Every test target is scored with its SW logit.`
  );
}
/** The issue's goal, checked on a comparison's DTI row: at least a 90 % cut in training time, test AUC within 0.005. */
function verdict(output: ExperimentOutput): string {
  const dti = output.summary.find((r) => r.k > 1);
  if (!dti) return '';
  const cut = 100 * (1 - 1 / dti.speedUp);
  const timeMet = dti.speedUp >= 10;
  const aucMet = dti.aucVsSw >= -0.005;
  return (
    `Goal (at least a 90 % cut, test AUC within 0.005 of SW): training time cut by ${f(cut, 1)} % (${f(dti.speedUp, 2)}×, ` +
    `${timeMet ? 'met' : 'not met'}); ΔAUC ${f(dti.aucVsSw, 4)} (${aucMet ? 'met' : 'not met'}${dti.aucVsSw > 0.005 ? ': DTI is better' : ''}).`
  );
}
const comparison = (args: string[], output: ExperimentOutput) =>
  `Measured ${when(output)}. ${setting(args, output)} Command: \`npm run experiment -- ${args.join(' ')}\`.\n\n` +
  summaryTable(output.summary) +
  `\n\n${verdict(output)}`;
const sweep = readJson(`${work}/sweep.json`);
const grid = readJson(`${work}/grid.json`);
const sections: string[] = [
  '# Benchmarks',
  '',
  `Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length} cores, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, software WebGPU (SwiftShader through Dawn in Node; ` +
    `Chromium's SwiftShader for the peer comparison). ` +
    (skip.size > 0 ? `Parts not rerun this time (${[...skip].join(', ')}) are kept from their last run, whose date each section gives. ` : '') +
    (skip.size < 3 || process.argv.includes('--grid')
      ? `Total time ${((Date.now() - started) / 60000).toFixed(1)} min. Load average ${loadAtStart.toFixed(1)} at the start and ` +
        `${os.loadavg()[0].toFixed(1)} at the end. `
      : '') +
    'Other work on the 2 cores slows everything alike (the benchmarks alone keep the load average near 3): compare ratios within one table. ' +
    'Real GPUs are about 1000× faster; the ratios, not the absolute times, are the point here.',
  '',
  '## 1. Kernels',
  '',
  read(`${work}/kernels.md`)?.replace(/^# Kernel benchmark\n/, '') ?? '_not run_',
  '',
  '## 2. Time at equal accuracy: SW vs DTI (strict isolation, RoPE)',
  '',
  'Training time is the optimizer steps only (evaluation excluded); each batch runs at its longest prompt (rounded up to 8 ' +
    'tokens) and batches are drawn from length-sorted pools, for SW and DTI alike. The time cut follows the token ratio: ' +
    'DTI spends (n + k)/k interactions per target against n + 1 for SW, less where a history ends in a partial prompt. ' +
    'Calibration on the test targets: predicted / observed CTR is the mean predicted P(click) over the click rate (1: the ' +
    'right number of clicks on average); the calibration slope is b in label ~ a + b·logit(P) (1: calibrated; far above ' +
    '1: predictions bunched near one value though they still rank, which is what a LogLoss near ln 2 at a good AUC means).',
  '',
  '### n = 10, k = 20',
  '',
  compare ? comparison(compareArgs, compare) : '_not run_',
  '',
  '### n = 30, k = 50 (closer to the paper)',
  '',
  compareN30 ? comparison(compareN30Args, compareN30) : '_not run_',
  '',
  '## 3. Scaling in k, per isolation level and position encoding',
  '',
  sweep
    ? `Measured ${when(sweep)}. Same data and model, 1 seed. Command: \`npm run experiment -- ${sweepArgs.join(' ')}\`.\n\n` + summaryTable(sweep.summary)
    : '_not run_',
  '',
  ...(grid
    ? [
        '### The full grid',
        '',
        `Every k, isolation level and position encoding, 1 seed, measured ${when(grid)} (\`npm run bench -- --grid\`, ` +
          `or \`npm run experiment -- ${gridArgs.join(' ')}\`). Test AUC (training seconds) by k; one seed, so differences of ` +
          `about ±0.02 AUC are within seed noise${compare ? ` (section 2's 3-seed spread of DTI's test AUC is ±${f(compare.summary.find((r) => r.k > 1)?.testAuc.std ?? NaN, 3)})` : ''}. ` +
          `Times are comparable only within one encoding's lines, run close together. The grid runs only on request: when its date ` +
          `is older than section 2's, engine changes since then (see git log) are not in it.\n\n` +
          pivot(grid.summary) +
          '\n\nEvery row:\n\n' +
          summaryTable(grid.summary),
        '',
      ]
    : []),
  '## 4. Peer comparison: the same transformer in TensorFlow.js (WebGPU backend)',
  '',
  read(`${work}/peer.md`) ?? read('bench/peer-results.md') ?? '_not run_',
  '',
  // The real-data, skew and upload benchmarks run on request (`--real`, `--skew`, `--load`) and keep their own sections.
  savedRealSection(read('docs/BENCHMARKS.md') ?? '') ?? '',
  '',
  savedSkewSection(read('docs/BENCHMARKS.md') ?? '') ?? '',
  '',
  savedLoadSection(read('docs/BENCHMARKS.md') ?? '') ?? '',
  '',
];
writeFileSync('docs/BENCHMARKS.md', sections.join('\n'));
console.log('\nwrote docs/BENCHMARKS.md');
