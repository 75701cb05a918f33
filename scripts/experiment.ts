/**
 * Headless experiment runner: the same engine as the page, in Node on WebGPU (Dawn). Usage: USAGE below
 * (`npm run experiment -- --help`). An input error ends with the page's one-paragraph message and exit code 2; a run
 * whose result means nothing (no test AUC: too few targets or one class) ends with its reason and exit code 3.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import os from 'node:os';
import { DataError, excerpt } from '../src/data/errors';
import { sampleUsers } from '../src/data/sample';
import {
  COLUMN_KEYS,
  type ColumnKey,
  type ColumnMapping,
  type LoadResult,
  type Preset,
  PRESETS_ORDER,
  TEXT_ENCODINGS,
  type TextEncodingName,
  describeTextEncoding,
  detectedEncodings,
  isTextEncodingName,
  loadBuiltin,
  parseFiles,
  previewFiles,
} from '../src/data/index';
import { nodeDevice } from '../src/gpu/node-device';
import { DEFAULT_PREP, type DataPrep, prepOptions, shardProvenance } from '../src/store/data-prep';
import { checkTrainConfig, upgradeConfig } from '../src/train/config';
import { jsonWithArrays } from '../src/util/json';
import { type ExperimentRun, type SweepPlan, summarizeRuns, sweepConfigs } from '../src/train/experiments';
import { diagnosticsLine } from '../src/train/diagnostics';
import { predictedOverObserved } from '../src/train/metrics';
import { evaluateParams } from '../src/train/evaluate';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../src/train/protocol';
import { exportShards } from '../src/train/shards';
import { SafetensorsError, readSafetensors, writeSafetensors } from '../src/model/safetensors';
import { sameVocab, savedVocab } from '../src/store/vocab';
import { train } from '../src/train/trainer';
import { TrainingError } from '../src/train/training-error';
import type { ItemText, IsolationLevel, PositionEncoding } from '../src/prompt/types';

/** The names --text-encoding takes, wrapped in the description column of USAGE. */
const TEXT_ENCODING_NAMES = TEXT_ENCODINGS.map((encoding) => encoding.name)
  .join(' ')
  .replace(/(.{1,70})( |$)/g, `${' '.repeat(36)}$1\n`)
  .trimEnd();

const USAGE = `npm run experiment -- [data] [training options] [--out result.json]

Data (default: --dataset medium, the built-in generator):
  --dataset small|medium|large|leakage  a built-in preset (leakage: labels read history older than the window)
  --file PATH                       a file in any upload format (repeat it for a ratings file and its items file)
  --files A,B                       the same as one comma-separated list
  --columns user=cust,item=sku      which column holds what in a CSV/TSV/JSON Lines file whose names are not the
                                    usual ones (keys: user item rating label timestamp title genres)
  --text-encoding NAME              the files' text encoding: detect (the default: UTF-8, else a guess of
                                    Windows-1252) or one of
${TEXT_ENCODING_NAMES}
  --split per-user|global-time      validation/test split (default per-user: the last 10 % + 10 % of each history)
  --click-at-least R                a click is a rating of R or more (default: the format's rule)
  --users N                         train and score on a fixed sample of N users (the same for every run)

Experiments:
  --compare --seeds 1,2,3           SW vs DTI on the same targets, the same targets per step
  --sweep-k 1,5,10,20,50 --levels window,strict --encodings learned,rope [--forgetting off,on]

Handing over to PyTorch (python/README.md):
  --export DIR                      write the run's prompts (manifest.json and safetensors shards) to DIR before
                                    training, and its model (DIR/model.safetensors) after; one run only
  --no-train                        with --export: write the prompts and stop
  --evaluate MODEL.safetensors      score a saved model (the page's Export model, or python/train.py's) on this
                                    data's validation and test targets; no training

Training options mirror the page (defaults in src/train/protocol.ts):
  --n --k --paradigm sw|dti --isolation window|full-causal|sum-isolated|strict --encoding learned|rope|alibi|none
  --forgetting on|off (distance-based forgetting: an attention bias fading with interaction distance)
  --item-text words|id|both --d --heads --layers --dff --lr --batch (targets per optimizer step) --epochs (at most)
  --steps --seed --evals-per-epoch --patience (validation points without improvement; 0 = never stop early)
  --weight-decay --clip --quiet
`;

/** A mistake in what the user asked for: said in one paragraph, without a stack trace. */
class UsageError extends Error {}

const REPEATABLE = new Set(['file']);
const KNOWN = new Set([
  'help', 'dataset', 'file', 'files', 'columns', 'text-encoding', 'split', 'click-at-least', 'users', 'out', 'compare', 'seeds', 'sweep-k', 'levels', 'encodings', 'forgetting', 'quiet',
  'n', 'k', 'paradigm', 'isolation', 'encoding', 'item-text', 'd', 'heads', 'layers', 'dff', 'lr', 'batch', 'epochs', 'steps', 'seed',
  'evals-per-epoch', 'patience', 'weight-decay', 'clip', 'export', 'no-train', 'evaluate',
]);

function parseArgs(argv: string[]): { args: Map<string, string>; repeated: Map<string, string[]> } {
  const args = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith('--')) throw new UsageError(`unexpected argument "${excerpt(key)}" (options start with --; --help lists them)`);
    const name = key.slice(2);
    if (!KNOWN.has(name)) throw new UsageError(`unknown option ${excerpt(key)}; known: ${[...KNOWN].map((k) => `--${k}`).join(' ')}`);
    const next = argv[i + 1];
    const value = next === undefined || next.startsWith('--') ? 'true' : (i++, next);
    if (REPEATABLE.has(name)) repeated.set(name, [...(repeated.get(name) ?? []), value]);
    else if (args.has(name)) throw new UsageError(`--${name} is given twice`);
    else args.set(name, value);
  }
  return { args, repeated };
}

process.on('uncaughtException', fail);
const { args, repeated } = parseArgs(process.argv.slice(2));
if (args.has('help')) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** Ends the runner with the message a user can act on: exit 2 for what they asked, 1 for anything else. */
function fail(error: unknown): never {
  const known = error instanceof UsageError || error instanceof DataError || error instanceof TrainingError || error instanceof SafetensorsError;
  console.error(`experiment: ${(error as Error)?.message ?? String(error)}`);
  if (!known) console.error((error as Error)?.stack ?? '');
  process.exit(known ? 2 : 1);
}

const num = (key: string, fallback: number) => {
  const raw = args.get(key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw === 'true' || raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${key} expects a number (got "${excerpt(raw)}")`);
  return value;
};
const list = (key: string, fallback: string[]) => (args.get(key)?.split(',').map((s) => s.trim()).filter(Boolean) ?? fallback);
// --forgetting alone means on; a list (off,on) only makes sense for a sweep.
const forgettingChoices = list('forgetting', [DEFAULT_TRAIN_CONFIG.model.forgetting ? 'on' : 'off']).map((choice) => {
  if (choice === 'on' || choice === 'true') return true;
  if (choice === 'off') return false;
  throw new UsageError(`--forgetting expects on or off, or off,on for a sweep (got "${excerpt(choice)}")`);
});
if (forgettingChoices.length > 1 && !args.has('sweep-k')) throw new UsageError('--forgetting takes a list (off,on) only with --sweep-k');

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
    forgetting: forgettingChoices[0],
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
if (!['sw', 'dti'].includes(base.paradigm)) throw new UsageError(`--paradigm expects sw or dti (got "${base.paradigm}")`);
const quiet = args.has('quiet');

function columnMapping(): ColumnMapping {
  const mapping: ColumnMapping = {};
  for (const pair of list('columns', [])) {
    const [key, column] = pair.split('=').map((part) => part.trim());
    if (!COLUMN_KEYS.includes(key as ColumnKey) || !column) {
      throw new UsageError(`--columns expects key=column pairs with keys ${COLUMN_KEYS.join(', ')} (got "${pair}")`);
    }
    mapping[key as ColumnKey] = column;
  }
  return mapping;
}

/** The files' text encoding from --text-encoding; null: detected. */
function textEncoding(): TextEncodingName | null {
  const value = (args.get('text-encoding') ?? 'detect').toLowerCase();
  if (value === 'detect') return null;
  if (isTextEncodingName(value)) return value;
  const choices = ['detect', ...TEXT_ENCODINGS.map((encoding) => encoding.name)].join(', ');
  throw new UsageError(`--text-encoding expects one of ${choices} (got "${excerpt(args.get('text-encoding')!)}")`);
}

/** The page's data preparation (its split and click controls) from --split and --click-at-least. */
function dataPrep(): DataPrep {
  const split = args.get('split') ?? DEFAULT_PREP.split;
  if (split !== 'per-user' && split !== 'global-time') throw new UsageError(`--split expects per-user or global-time (got "${split}")`);
  return { split, clickAtLeast: args.has('click-at-least') ? num('click-at-least', NaN) : null };
}

async function loadData(): Promise<LoadResult> {
  const encoding = textEncoding();
  // --files a,b (a trailing comma leaves nothing out) and any number of --file PATH (a path may hold commas).
  const paths = [...(args.get('files')?.split(',').map((path) => path.trim()).filter(Boolean) ?? []), ...(repeated.get('file') ?? [])];
  if (paths.length) {
    if (args.has('dataset')) throw new UsageError('--dataset and --file(s) both given: train on one or the other');
    const blobs = paths.map((path) => {
      if (path === 'true') throw new UsageError('--file expects a path');
      if (!existsSync(path)) throw new UsageError(`${path}: no such file`);
      if (!statSync(path).isFile()) throw new UsageError(`${path}: not a file`);
      return new File([readFileSync(path)], basename(path));
    });
    // The page's preprocessing, whatever --n: one dataset (users, vocabulary, split) for every n, as in the page.
    const options = { columns: columnMapping(), encoding, ...prepOptions(dataPrep()) };
    const loaded = await parseFiles(blobs, options);
    // As the page's text encoding choice says it: the choice, or what detection found in each file.
    const read = encoding === null ? `detected: ${detectedEncodings(await previewFiles(blobs, options))}` : describeTextEncoding({ name: encoding, basis: 'chosen' });
    console.log(`text encoding: ${read}`);
    return loaded;
  }
  if (encoding !== null) throw new UsageError('--text-encoding is for --file(s): the built-in data is generated, not read');
  const preset = (args.get('dataset') ?? 'medium') as Preset;
  if (!PRESETS_ORDER.includes(preset)) throw new UsageError(`--dataset expects one of ${PRESETS_ORDER.join(', ')} (got "${preset}")`);
  return loadBuiltin(preset, prepOptions(dataPrep()));
}

const loaded = await loadData();
for (const note of loaded.notes) console.log(`note: ${note.message}`);
if (loaded.skipped.count) {
  // As the page lists them: rows left out, with where and why, so a silent loss of data cannot pass unnoticed.
  console.log(`${loaded.skipped.count} rows were left out, for example:`);
  for (const row of loaded.skipped.examples.slice(0, 5)) console.log(`  ${row.file}: line ${row.line}: ${row.reason}`);
}
if (loaded.stats.duplicateRows) console.log(`${loaded.stats.duplicateRows} exact copies of an earlier row were left out`);
if (loaded.stats.implicitRatings) console.log(`${loaded.stats.implicitRatings} implicit 0 ratings (seen, not rated) were left out`);
const dataset = args.has('users') ? sampleUsers(loaded.dataset, num('users', 0)) : loaded.dataset;
const gpu = await nodeDevice();
console.log(
  `dataset: ${dataset.name} (${loaded.stats.users} users, ${loaded.stats.interactions} interactions` +
    (dataset !== loaded.dataset ? `; a fixed sample of ${dataset.users.length} users` : '') +
    `); adapter: ${gpu.adapterInfo}`,
);

/** --evaluate: a saved model scored on this data, as the page's "Evaluate on current data" does. */
async function evaluateSaved(path: string): Promise<void> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file`);
  let saved;
  try {
    saved = readSafetensors(readFileSync(path));
  } catch (error) {
    throw new SafetensorsError(`${path}: ${(error as Error).message}`);
  }
  const config = upgradeConfig(saved.config);
  const vocab = savedVocab(saved.extra);
  if (vocab && !sameVocab(vocab, dataset.vocab.tokens)) {
    throw new UsageError(
      `${path} was trained on data whose vocabulary differs from ${dataset.name}'s (${vocab.length} against ${dataset.vocab.tokens.length} tokens): ` +
        'its token ids would mean other words; evaluate it on the data it was exported with',
    );
  }
  if (saved.vocabSize !== dataset.vocab.tokens.length) {
    throw new UsageError(`${path} has ${saved.vocabSize} tokens in its embedding table, ${dataset.name} has ${dataset.vocab.tokens.length}`);
  }
  const { valid, test } = await evaluateParams(gpu, dataset, config, saved.params);
  const line = (name: string, m: typeof test) => `${name}: AUC ${m.auc.toFixed(6)} LogLoss ${m.logLoss.toFixed(6)} on ${m.count} targets`;
  console.log(`${basename(path)} (n = ${config.n}, ${config.isolation}, ${config.model.positionEncoding}, item text ${config.itemText})\n  ${line('validation', valid)}\n  ${line('test', test)}`);
  const out = args.get('out');
  if (out) {
    writeFileSync(out, JSON.stringify({ model: path, dataset: dataset.name, config, valid, test }, null, 1));
    console.log(`wrote ${out}`);
  }
}

/** --export: the run's prompts as shards for python/train.py, written before training. */
async function writeExport(dir: string, config: TrainConfig): Promise<void> {
  const check = checkTrainConfig(config);
  if (check.errors.length) throw new UsageError(`invalid configuration: ${check.errors.join('; ')}`);
  const source = args.has('files') || repeated.has('file') ? { kind: 'upload' as const, files: loaded.files.map((f) => f.name) } : { kind: 'builtin' as const, preset: args.get('dataset') ?? 'medium' };
  const { manifest, files } = await exportShards(dataset, config, shardProvenance(source, dataPrep(), loaded.stats));
  mkdirSync(dir, { recursive: true });
  for (const file of files) writeFileSync(join(dir, file.name), file.bytes);
  const bytes = files.reduce((sum, file) => sum + file.bytes.length, 0);
  const count = (split: keyof typeof manifest.splits) => manifest.splits[split].reduce((sum, f) => sum + f.targets, 0);
  console.log(
    `exported to ${dir}: ${files.length - 1} shards, ${(bytes / 1e6).toFixed(1)} MB (train ${count('train')} targets, ` +
      `validation ${count('valid')}, test ${count('test')}); dataset SHA-256 ${manifest.dataset.sha256.slice(0, 16)}…`,
  );
}

const minutes = (ms: number) => `${Math.floor(ms / 60000)}:${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}`;

/** Trains one run; its summary, and its model (the best validation point's weights) for --export. */
async function runOne(config: TrainConfig): Promise<{ run: ExperimentRun; model: { params: Float32Array; vocabSize: number; maxSeqLen: number } }> {
  const check = checkTrainConfig(config);
  if (check.errors.length) throw new UsageError(`invalid configuration: ${check.errors.join('; ')}`);
  const curve: { step: number; loss: number }[] = [];
  let lastPrint = 0;
  let phaseStart = performance.now();
  let phase = '';
  const label = `${config.paradigm} k=${config.paradigm === 'sw' ? 1 : config.k} ${config.isolation} ${config.model.positionEncoding}${config.model.forgetting ? " forgetting" : ""} seed=${config.seed}`;
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
  const { params, modelConfig, losses: _losses, ...summary } = result;
  const run: ExperimentRun = { ...summary, config, curve };
  const b = result.baselines;
  console.log(
    `${label}: test AUC ${result.test.auc.toFixed(4)} [${result.testAucInterval.low.toFixed(4)}, ${result.testAucInterval.high.toFixed(4)}] ` +
      `LogLoss ${result.test.logLoss.toFixed(4)} predicted/observed CTR ${predictedOverObserved(result.test).toFixed(3)} ` +
      `calibration slope ${result.test.calibrationSlope.toFixed(2)}; train ${(result.trainMs / 1000).toFixed(1)} s, ${result.tokensProcessed} tokens, ` +
      `${result.steps} steps\n  ${result.stopMessage}\n  baselines on the same ${b.count} test targets: popularity ${b.popularity.toFixed(4)}, ` +
      `user click rate ${b.userRate.toFixed(4)}, item + user logistic ${b.logistic.toFixed(4)}, history ${b.history.toFixed(4)}` +
      (result.diagnostics ? `\n  ${diagnosticsLine(result.diagnostics)}` : '') +
      result.warnings.map((warning) => `\n  warning: ${warning}`).join(''),
  );
  return { run, model: { params, vocabSize: modelConfig.vocabSize, maxSeqLen: modelConfig.maxSeqLen } };
}

const runs: ExperimentRun[] = [];
const seeds = list('seeds', [String(base.seed)]).map(Number);
const exportDir = args.get('export');
if (args.has('evaluate')) {
  if (exportDir || args.has('compare') || args.has('sweep-k')) throw new UsageError('--evaluate scores a saved model: it takes no --export, --compare or --sweep-k');
  await evaluateSaved(args.get('evaluate')!);
  process.exit(0);
}
if (args.has('no-train') && !exportDir) throw new UsageError('--no-train goes with --export DIR');
if (exportDir) {
  if (args.has('compare') || args.has('sweep-k') || seeds.length > 1) throw new UsageError('--export hands over one run: it takes no --compare, --sweep-k or several --seeds');
  if (exportDir === 'true') throw new UsageError('--export expects a folder');
  const config = { ...base, seed: seeds[0] };
  await writeExport(exportDir, config);
  if (args.has('no-train')) process.exit(0);
  const { run, model } = await runOne(config);
  runs.push(run);
  const file = join(exportDir, 'model.safetensors');
  writeFileSync(
    file,
    writeSafetensors({
      config,
      ...model,
      extra: { dataset: dataset.name, vocab: JSON.stringify(dataset.vocab.tokens), run_name: `${config.paradigm.toUpperCase()} (runner)` },
    }),
  );
  console.log(`wrote ${file} (the best validation point's weights)`);
} else if (args.has('compare')) {
  for (const seed of seeds) {
    runs.push((await runOne({ ...base, seed, paradigm: 'sw' })).run);
    runs.push((await runOne({ ...base, seed, paradigm: 'dti' })).run);
  }
} else if (args.has('sweep-k')) {
  const plan: SweepPlan = {
    ks: list('sweep-k', ['1', '5', '10', '20', '50']).map(Number),
    levels: list('levels', [base.isolation]) as IsolationLevel[],
    encodings: list('encodings', [base.model.positionEncoding]) as PositionEncoding[],
    forgetting: forgettingChoices,
    seeds,
  };
  for (const config of sweepConfigs(base, plan)) runs.push((await runOne(config)).run);
} else {
  for (const seed of seeds) runs.push((await runOne({ ...base, seed })).run);
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

// A figure that cannot be computed is not a result: say why, and let scripts see it in the exit code.
const meaningless = runs.filter((run) => !Number.isFinite(run.test.auc));
if (meaningless.length) {
  for (const run of meaningless) {
    console.error(
      `experiment: ${run.config.paradigm.toUpperCase()} seed ${run.config.seed} has no test AUC: its ${run.test.count} test targets ` +
        `${run.test.count === 0 ? 'are none (lower n or use more data)' : 'are all of one class (choose another click threshold or more data)'}`,
    );
  }
  process.exit(3);
}
