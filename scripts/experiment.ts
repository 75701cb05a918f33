/**
 * Headless experiment runner: the same engine as the page, in Node on WebGPU (Dawn).
 *
 *   npm run experiment -- [--dataset small|medium|large | --files a.data,b.item] [training options] [--out result.json]
 *   --columns user=cust,item=sku,rating=stars   which column holds what, for CSV/TSV/JSON Lines files whose column
 *                   names are not the usual ones (keys: user item rating label timestamp title genres)
 *   --split per-user|global-time   validation/test split (default per-user: the last 10 % + 10 % of each history)
 *   --click-at-least R              a click is a rating of R or more (default: the format's rule)
 *   --users N       train and score on a fixed sample of N users (seeded, the same for every run)
 *   npm run experiment -- --compare --seeds 1,2,3 ...     SW vs DTI on the same targets, the same targets per step
 *   npm run experiment -- --sweep-k 1,5,10,20,50 --levels window,strict --encodings learned,rope ...
 *
 * Training options mirror the page: --n --k --paradigm sw|dti --isolation LEVEL --encoding learned|rope|alibi|none
 * --item-text words|id|both --d --heads --layers --dff --lr --batch (targets per optimizer step) --epochs (at most)
 * --steps --seed --evals-per-epoch --patience (validation points without improvement; 0 = never stop early)
 * --weight-decay --clip.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import os from 'node:os';
import { sampleUsers } from '../src/data/sample';
import { COLUMN_KEYS, type ColumnKey, type ColumnMapping, type LoadResult, type Preset, PRESETS_ORDER, loadBuiltin, parseFiles } from '../src/data/index';
import { nodeDevice } from '../src/gpu/node-device';
import { DEFAULT_PREP, type DataPrep, prepOptions } from '../src/store/data-prep';
import { checkTrainConfig } from '../src/train/config';
import { jsonWithArrays } from '../src/util/json';
import { type ExperimentRun, type SweepPlan, summarizeRuns, sweepConfigs } from '../src/train/experiments';
import { predictedOverObserved } from '../src/train/metrics';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../src/train/protocol';
import { train } from '../src/train/trainer';
import type { ItemText, IsolationLevel, PositionEncoding } from '../src/prompt/types';

function parseArgs(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith('--')) throw new Error(`unexpected argument "${key}" (options start with --)`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) args.set(key.slice(2), 'true');
    else {
      args.set(key.slice(2), next);
      i++;
    }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const known = new Set([
  'dataset', 'files', 'columns', 'split', 'click-at-least', 'users', 'out', 'compare', 'seeds', 'sweep-k', 'levels', 'encodings', 'quiet',
  'n', 'k', 'paradigm', 'isolation', 'encoding', 'item-text', 'd', 'heads', 'layers', 'dff', 'lr', 'batch', 'epochs', 'steps', 'seed',
  'evals-per-epoch', 'patience', 'weight-decay', 'clip',
]);
for (const key of args.keys()) if (!known.has(key)) throw new Error(`unknown option --${key}; known: ${[...known].map((k) => `--${k}`).join(' ')}`);

const num = (key: string, fallback: number) => {
  const raw = args.get(key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${key} expects a number (got "${raw}")`);
  return value;
};
const list = (key: string, fallback: string[]) => (args.get(key)?.split(',').map((s) => s.trim()).filter(Boolean) ?? fallback);

const base: TrainConfig = {
  n: num('n', DEFAULT_TRAIN_CONFIG.n),
  k: num('k', DEFAULT_TRAIN_CONFIG.k),
  paradigm: (args.get('paradigm') ?? DEFAULT_TRAIN_CONFIG.paradigm) as TrainConfig['paradigm'],
  isolation: (args.get('isolation') ?? DEFAULT_TRAIN_CONFIG.isolation) as IsolationLevel,
  itemText: (args.get('item-text') ?? DEFAULT_TRAIN_CONFIG.itemText) as ItemText,
  model: {
    dModel: num('d', DEFAULT_TRAIN_CONFIG.model.dModel),
    nHeads: num('heads', DEFAULT_TRAIN_CONFIG.model.nHeads),
    nLayers: num('layers', DEFAULT_TRAIN_CONFIG.model.nLayers),
    dFF: num('dff', DEFAULT_TRAIN_CONFIG.model.dFF),
    positionEncoding: (args.get('encoding') ?? DEFAULT_TRAIN_CONFIG.model.positionEncoding) as PositionEncoding,
  },
  learningRate: num('lr', DEFAULT_TRAIN_CONFIG.learningRate),
  batchTargets: num('batch', DEFAULT_TRAIN_CONFIG.batchTargets),
  epochs: num('epochs', DEFAULT_TRAIN_CONFIG.epochs),
  maxSteps: num('steps', DEFAULT_TRAIN_CONFIG.maxSteps),
  seed: num('seed', DEFAULT_TRAIN_CONFIG.seed),
  weightDecay: num('weight-decay', DEFAULT_TRAIN_CONFIG.weightDecay),
  maxGradNorm: num('clip', DEFAULT_TRAIN_CONFIG.maxGradNorm),
  evalsPerEpoch: num('evals-per-epoch', DEFAULT_TRAIN_CONFIG.evalsPerEpoch),
  patience: num('patience', DEFAULT_TRAIN_CONFIG.patience),
};
if (!['sw', 'dti'].includes(base.paradigm)) throw new Error(`--paradigm expects sw or dti (got "${base.paradigm}")`);
const quiet = args.has('quiet');

function columnMapping(): ColumnMapping {
  const mapping: ColumnMapping = {};
  for (const pair of list('columns', [])) {
    const [key, column] = pair.split('=').map((part) => part.trim());
    if (!COLUMN_KEYS.includes(key as ColumnKey) || !column) {
      throw new Error(`--columns expects key=column pairs with keys ${COLUMN_KEYS.join(', ')} (got "${pair}")`);
    }
    mapping[key as ColumnKey] = column;
  }
  return mapping;
}

/** The page's data preparation (its split and click controls) from --split and --click-at-least. */
function dataPrep(): DataPrep {
  const split = args.get('split') ?? DEFAULT_PREP.split;
  if (split !== 'per-user' && split !== 'global-time') throw new Error(`--split expects per-user or global-time (got "${split}")`);
  return { split, clickAtLeast: args.has('click-at-least') ? num('click-at-least', NaN) : null };
}

async function loadData(): Promise<LoadResult> {
  const files = args.get('files');
  if (files) {
    const blobs = files.split(',').map((path) => {
      const bytes = readFileSync(path);
      return new File([bytes], basename(path));
    });
    // The page's preprocessing, whatever --n: one dataset (users, vocabulary, split) for every n, as in the page.
    return parseFiles(blobs, { columns: columnMapping(), ...prepOptions(dataPrep()) });
  }
  const preset = (args.get('dataset') ?? 'medium') as Preset;
  if (!PRESETS_ORDER.includes(preset)) throw new Error(`--dataset expects one of ${PRESETS_ORDER.join(', ')} (got "${preset}")`);
  return loadBuiltin(preset, prepOptions(dataPrep()));
}

const loaded = await loadData();
const dataset = args.has('users') ? sampleUsers(loaded.dataset, num('users', 0)) : loaded.dataset;
const gpu = await nodeDevice();
console.log(
  `dataset: ${dataset.name} (${loaded.stats.users} users, ${loaded.stats.interactions} interactions` +
    (dataset !== loaded.dataset ? `; a fixed sample of ${dataset.users.length} users` : '') +
    `); adapter: ${gpu.adapterInfo}`,
);

const minutes = (ms: number) => `${Math.floor(ms / 60000)}:${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}`;

async function runOne(config: TrainConfig): Promise<ExperimentRun> {
  const check = checkTrainConfig(config);
  if (check.errors.length) throw new Error(`invalid configuration: ${check.errors.join('; ')}`);
  const curve: { step: number; loss: number }[] = [];
  let lastPrint = 0;
  let phaseStart = performance.now();
  let phase = '';
  const label = `${config.paradigm} k=${config.paradigm === 'sw' ? 1 : config.k} ${config.isolation} ${config.model.positionEncoding} seed=${config.seed}`;
  const print = (line: string, force = false) => {
    if (quiet || (!force && performance.now() - lastPrint < 5000)) return;
    lastPrint = performance.now();
    console.log(`  [${label}] ${line}`);
  };
  const result = await train(gpu, dataset, config, {
    emit: (event) => {
      if (event.type === 'step') {
        curve.push({ step: event.step, loss: event.loss });
        const eta = (event.elapsedMs / event.step) * (event.totalSteps - event.step);
        print(
          `step ${event.step}/${event.totalSteps} loss ${event.loss.toFixed(4)} ${event.targetsPerSec.toFixed(0)} targets/s, ` +
            `training ETA ${minutes(eta)} (at most; early stopping may end it sooner)`,
        );
      } else if (event.type === 'eval') {
        const what = event.sample ? 'validation sample' : event.split === 'valid' ? 'validation' : 'test';
        print(`${what} AUC ${event.metrics.auc.toFixed(4)} LogLoss ${event.metrics.logLoss.toFixed(4)} at step ${event.step}`, true);
      } else if (event.type === 'status') {
        if (event.message !== phase) {
          phase = event.message;
          phaseStart = performance.now();
          if (event.phase !== 'evaluate') print(event.message, true);
        } else if (event.phase === 'evaluate' && event.fraction) {
          const elapsed = performance.now() - phaseStart;
          print(`${event.message}: ${(100 * event.fraction).toFixed(0)} %, ETA ${minutes((elapsed / event.fraction) * (1 - event.fraction))}`);
        }
      }
    },
  });
  const { params: _params, modelConfig: _modelConfig, losses: _losses, ...summary } = result;
  const run: ExperimentRun = { ...summary, config, curve };
  const b = result.baselines;
  console.log(
    `${label}: test AUC ${result.test.auc.toFixed(4)} [${result.testAucInterval.low.toFixed(4)}, ${result.testAucInterval.high.toFixed(4)}] ` +
      `LogLoss ${result.test.logLoss.toFixed(4)} predicted/observed CTR ${predictedOverObserved(result.test).toFixed(3)} ` +
      `calibration slope ${result.test.calibrationSlope.toFixed(2)}; train ${(result.trainMs / 1000).toFixed(1)} s, ${result.tokensProcessed} tokens, ` +
      `${result.steps} steps\n  ${result.stopMessage}\n  baselines on the same ${b.count} test targets: popularity ${b.popularity.toFixed(4)}, ` +
      `user click rate ${b.userRate.toFixed(4)}, item + user logistic ${b.logistic.toFixed(4)}, history ${b.history.toFixed(4)}` +
      result.warnings.map((warning) => `\n  warning: ${warning}`).join(''),
  );
  return run;
}

const runs: ExperimentRun[] = [];
const seeds = list('seeds', [String(base.seed)]).map(Number);
if (args.has('compare')) {
  for (const seed of seeds) {
    runs.push(await runOne({ ...base, seed, paradigm: 'sw' }));
    runs.push(await runOne({ ...base, seed, paradigm: 'dti' }));
  }
} else if (args.has('sweep-k')) {
  const plan: SweepPlan = {
    ks: list('sweep-k', ['1', '5', '10', '20', '50']).map(Number),
    levels: list('levels', [base.isolation]) as IsolationLevel[],
    encodings: list('encodings', [base.model.positionEncoding]) as PositionEncoding[],
    seeds,
  };
  for (const config of sweepConfigs(base, plan)) runs.push(await runOne(config));
} else {
  for (const seed of seeds) runs.push(await runOne({ ...base, seed }));
}

const summary = summarizeRuns(runs);
console.log('\n' + summary.markdown);
const output = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}`,
  adapter: gpu.adapterInfo,
  dataset: { name: loaded.dataset.name, stats: loaded.stats },
  runs,
  summary: summary.rows,
};
const out = args.get('out');
if (out) {
  writeFileSync(out, jsonWithArrays(output));
  console.log(`wrote ${out}`);
}
