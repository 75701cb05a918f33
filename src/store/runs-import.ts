/**
 * Reading back a runs file that runsJson (export.ts) wrote. Every field is checked against what the lab keeps; typed
 * arrays come back typed; a measurement written as null (JSON has no NaN) comes back as NaN, while null where a real
 * number is needed is refused; configurations of older versions come back in today's fields, as persist.ts reads them.
 * A file with any bad run gives none of its runs: a partial import would be easy to mistake for the whole file.
 */
import { PRESETS_ORDER } from '../data';
import type { BaselineAucs } from '../data/baselines';
import { ISOLATION_LEVELS, ITEM_TEXTS, POSITION_ENCODINGS } from '../prompt/types';
import type { Interval } from '../train/bootstrap';
import { upgradeConfig } from '../train/config';
import type { SkewDiagnostics, SlotFigures } from '../train/diagnostics';
import type { Metrics, ModelSize, Paradigm, StopReason, TrainConfig } from '../train/protocol';
import type { DataPrep } from './data-prep';
import { RUNS_FILE_FORMAT } from './export';
import type { EvalPoint, RunDatasetInfo, RunEvaluation, RunRecord, RunResult, RunStatus, StepPoint, VocabFingerprint } from './run-types';

/** Reads one value at `path` (such as config.model.dModel), or throws a FieldProblem saying what was expected there. */
type Decoder<T> = (value: unknown, path: string) => T;

/** A decoder for every field of T, optional ones included, so a field added to the record cannot be forgotten here. */
type Fields<T> = { [K in keyof T]-?: Decoder<T[K]> };

class FieldProblem extends Error {}

/** A value as a message names it: short, and told apart from the text it might contain. */
function described(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

function fail(path: string, expected: string, found: unknown, note = ''): never {
  throw new FieldProblem(`${path ? `${path}: ` : ''}expected ${expected}, found ${described(found)}${note}`);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const at = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** A number the run needs (a count, a setting, a time): finite, never the null an exported NaN becomes. */
const number: Decoder<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value)
    ? value
    : fail(path, 'a number', value, value === null ? ' (how the export writes NaN or infinity, which this field cannot be)' : '');
/** A measurement, which may be NaN (an AUC without both classes, an undefined slope): the export writes that as null. */
const measured: Decoder<number> = (value, path) => (value === null ? NaN : typeof value === 'number' ? value : fail(path, 'a number or null', value));
const string: Decoder<string> = (value, path) => (typeof value === 'string' ? value : fail(path, 'a string', value));
const boolean: Decoder<boolean> = (value, path) => (typeof value === 'boolean' ? value : fail(path, 'true or false', value));
const byte: Decoder<number> = (value, path) =>
  Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 255 ? (value as number) : fail(path, 'an integer from 0 to 255', value);

function oneOf<T extends string>(values: readonly T[]): Decoder<T> {
  return (value, path) => (values.includes(value as T) ? (value as T) : fail(path, `one of ${values.map((v) => `"${v}"`).join(', ')}`, value));
}
/** The members of a string union, checked complete by the compiler where the lab keeps no list of them. */
const membersOf = <T extends string>(members: Record<T, true>) => Object.keys(members) as T[];

const nullable = <T>(decode: Decoder<T>): Decoder<T | null> => (value, path) => (value === null ? null : decode(value, path));
const optional = <T>(decode: Decoder<T>): Decoder<T | undefined> => (value, path) => (value === undefined ? undefined : decode(value, path));
const listOf = <T>(decode: Decoder<T>): Decoder<T[]> => (value, path) =>
  Array.isArray(value) ? value.map((item, i) => decode(item, `${path}[${i}]`)) : fail(path, 'a list', value);
const float32s: Decoder<Float32Array> = (value, path) => Float32Array.from(listOf(measured)(value, path));
const bytes: Decoder<Uint8Array> = (value, path) => Uint8Array.from(listOf(byte)(value, path));

/** Only the fields the record has: anything else in the file is left out, and an absent optional field stays absent. */
function object<T>(fields: Fields<T>): Decoder<T> {
  return (value, path) => {
    if (!isObject(value)) fail(path, 'an object', value);
    const decoded: Record<string, unknown> = {};
    for (const [key, decode] of Object.entries(fields as Record<string, Decoder<unknown>>)) {
      const field = decode(value[key], at(path, key));
      if (field !== undefined) decoded[key] = field;
    }
    return decoded as T;
  };
}

const METRIC_FIELDS: Fields<Metrics> = {
  auc: measured,
  logLoss: measured,
  accuracy: measured,
  count: number,
  meanPrediction: measured,
  clickRate: measured,
  calibrationSlope: measured,
};
const metrics = object(METRIC_FIELDS);
const interval = object<Interval>({ estimate: measured, low: measured, high: measured });
const preset = nullable(oneOf(PRESETS_ORDER));

const modelSize = object<ModelSize>({
  dModel: number,
  nHeads: number,
  nLayers: number,
  dFF: number,
  positionEncoding: oneOf(POSITION_ENCODINGS),
  forgetting: boolean,
});
const currentConfig = object<TrainConfig>({
  n: number,
  k: number,
  paradigm: oneOf(membersOf<Paradigm>({ sw: true, dti: true })),
  isolation: oneOf(ISOLATION_LEVELS),
  itemText: oneOf(ITEM_TEXTS),
  model: modelSize,
  learningRate: number,
  batchTargets: number,
  epochs: number,
  maxSteps: number,
  seed: number,
  weightDecay: number,
  maxGradNorm: number,
  evalsPerEpoch: number,
  patience: number,
});
/** A configuration as any version of the lab saved it, in today's fields. */
const config: Decoder<TrainConfig> = (value, path) => {
  if (!isObject(value)) fail(path, 'an object', value);
  if (!isObject(value.model)) fail(at(path, 'model'), 'an object', value.model);
  return currentConfig(upgradeConfig(value as Parameters<typeof upgradeConfig>[0]), path);
};

const dataset = object<RunDatasetInfo>({
  name: string,
  preset,
  users: number,
  interactions: number,
  prep: optional(object<DataPrep>({ split: oneOf(membersOf<DataPrep['split']>({ 'per-user': true, 'global-time': true })), clickAtLeast: nullable(number) })),
});

const step = object<StepPoint>({
  step: number,
  epoch: number,
  loss: measured,
  elapsedMs: number,
  targetsPerSec: measured,
  tokensPerSec: measured,
  targets: number,
  tokens: number,
});

const evalPoint = object<EvalPoint>({
  ...METRIC_FIELDS,
  step: number,
  split: oneOf(membersOf<EvalPoint['split']>({ valid: true, test: true })),
  elapsedMs: optional(number),
  sample: optional(boolean),
});

const diagnostics = object<SkewDiagnostics>({
  targets: number,
  k: number,
  n: number,
  layers: number,
  slots: listOf(
    object<SlotFigures>({ slot: number, skew: measured, positional: measured, leakage: measured, auc: measured, reach: number }),
  ),
  skew: measured,
  positional: measured,
  leakage: measured,
  slotSpread: measured,
  servedAuc: measured,
  deepestAuc: measured,
  aucDifference: interval,
});

const resultFields = object<RunResult>({
  stopped: boolean,
  steps: number,
  trainMs: number,
  tokensProcessed: number,
  targetsProcessed: number,
  valid: metrics,
  test: metrics,
  stopReason: optional(oneOf(membersOf<StopReason>({ completed: true, 'early-stopped': true, 'max-steps': true, stopped: true }))),
  stopMessage: optional(string),
  bestStep: optional(number),
  testAucInterval: optional(interval),
  testPredictions: optional(float32s),
  testLabels: optional(bytes),
  evalTargetsPerPrompt: optional(measured),
  baselines: optional(object<BaselineAucs>({ popularity: measured, userRate: measured, logistic: measured, history: measured, count: number })),
  diagnostics: optional(nullable(diagnostics)),
  warnings: optional(listOf(string)),
});
/** The paired comparisons read a test target's label at its prediction's index. */
const result: Decoder<RunResult> = (value, path) => {
  const read = resultFields(value, path);
  const predictions = read.testPredictions?.length;
  const labels = read.testLabels?.length;
  if (predictions !== undefined && labels !== undefined && predictions !== labels) {
    fail(at(path, 'testLabels'), `${predictions} labels, one per test prediction`, labels);
  }
  return read;
};

type RunError = NonNullable<RunRecord['error']>;

const run = object<RunRecord>({
  id: string,
  name: string,
  createdAt: number,
  config,
  dataset,
  status: oneOf(membersOf<RunStatus>({ running: true, done: true, stopped: true, failed: true, interrupted: true, imported: true })),
  steps: listOf(step),
  evals: listOf(evalPoint),
  result: nullable(result),
  error: nullable(
    object<RunError>({
      kind: oneOf(
        membersOf<RunError['kind']>({
          'no-webgpu': true,
          'device-lost': true,
          'gpu-error': true,
          diverged: true,
          'too-large': true,
          'invalid-config': true,
          internal: true,
        }),
      ),
      message: string,
    }),
  ),
  adapter: nullable(string),
  labVersion: optional(string),
  sweepId: optional(string),
  hasModel: boolean,
  modelVocab: optional(nullable(object<VocabFingerprint>({ size: number, hash: string }))),
  evaluations: optional(
    listOf(object<RunEvaluation>({ datasetName: string, datasetPreset: preset, at: number, valid: metrics, test: metrics })),
  ),
});

/** Problems listed in a message; a file broken throughout says how many more there are. */
const LISTED_PROBLEMS = 3;

export type RunsFileReading = { runs: RunRecord[] } | { problem: string };

/** The runs of a runs file as the file has them, or, when it is not one or any run in it is bad, what is wrong. */
export function readRunsFile(fileName: string, text: string): RunsFileReading {
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    return { problem: `${fileName} is not JSON (${(error as Error).message}); expected a runs file saved with Export JSON.` };
  }
  if (!isObject(file) || file.format !== RUNS_FILE_FORMAT) {
    const found = !isObject(file) ? described(file) : file.format === undefined ? 'no format' : `format ${described(file.format)}`;
    return { problem: `${fileName} is not a runs file of the lab: expected format "${RUNS_FILE_FORMAT}" (what Export JSON saves), found ${found}.` };
  }
  if (!Array.isArray(file.runs)) return { problem: `${fileName}: expected "runs" to be a list of runs, found ${described(file.runs)}.` };

  const runs: RunRecord[] = [];
  const problems: string[] = [];
  const firstWithId = new Map<string, number>();
  file.runs.forEach((raw: unknown, index) => {
    const label = `Run ${index + 1}${isObject(raw) && typeof raw.name === 'string' ? ` ("${raw.name}")` : ''}`;
    try {
      const read = run(raw, '');
      const first = firstWithId.get(read.id);
      if (first !== undefined) throw new FieldProblem(`id ${described(read.id)} is that of run ${first + 1} too`);
      firstWithId.set(read.id, index);
      runs.push(read);
    } catch (error) {
      if (!(error instanceof FieldProblem)) throw error;
      problems.push(`${label}: ${error.message}.`);
    }
  });
  if (problems.length === 0) return { runs };
  const more = problems.length - LISTED_PROBLEMS;
  return {
    problem:
      `Nothing was imported from ${fileName}: ${problems.length} of its ${file.runs.length} runs ${problems.length === 1 ? 'is' : 'are'} not as the lab writes runs. ` +
      problems.slice(0, LISTED_PROBLEMS).join(' ') +
      (more > 0 ? ` And ${more} more.` : ''),
  };
}

const runCount = (count: number) => `${count} run${count === 1 ? '' : 's'}`;

/** What an import did, for the person: how many runs came in, how many were already here, which were cut short. */
export function importOutcome(fileName: string, inFile: number, imported: number, cutShort: number): string {
  if (inFile === 0) return `${fileName} holds no runs.`;
  const skipped = inFile - imported;
  if (imported === 0) return `Nothing new in ${fileName}: ${skipped === 1 ? 'its run is' : `all its ${skipped} runs are`} already in the lab.`;
  return (
    `Imported ${runCount(imported)} from ${fileName}` +
    (skipped > 0 ? `; skipped ${runCount(skipped)} already in the lab` : '') +
    (cutShort > 0 ? `; ${runCount(cutShort)} still training when exported ${cutShort === 1 ? 'is' : 'are'} marked interrupted` : '') +
    '.'
  );
}
