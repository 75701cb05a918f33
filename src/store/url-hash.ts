/**
 * The whole experiment in the URL hash, so a link reproduces it: `#ds=small&n=10&k=10&p=dti&iso=strict&pe=rope…`.
 * Every field is always written (a link must not change meaning when defaults change). Reading never clamps:
 * a value that cannot be parsed keeps the default and is reported; a parsed but out-of-range value is kept and
 * left to the configuration check to explain.
 */
import { PRESETS_ORDER, type Preset } from '../data';
import { ISOLATION_LEVELS, ITEM_TEXTS, type IsolationLevel, type ItemText, POSITION_ENCODINGS, type PositionEncoding } from '../prompt/types';
import { upgradeConfig } from '../train/config';
import { DEFAULT_TRAIN_CONFIG, type Paradigm, type TrainConfig } from '../train/protocol';
import { DEFAULT_PREP, type DataPrep } from './data-prep';
import type { LinkedUpload } from './types';

export interface HashState {
  config: TrainConfig;
  preset: Preset;
  prep: DataPrep;
  /** Uploaded data, named instead of the preset (a link cannot carry the files, only which they were). */
  upload?: LinkedUpload | null;
}

/** Hex digits of the dataset checksum a link carries: enough to tell files apart, short enough to paste. */
export const LINK_CHECKSUM_DIGITS = 16;

export const DEFAULT_PRESET: Preset = 'small';

type NumberField = {
  key: string;
  label: string;
  get: (c: TrainConfig) => number;
  set: (c: TrainConfig, v: number) => void;
};

/** Numeric fields in link order; keys are short because the hash is meant to be pasted. */
const NUMBER_FIELDS: NumberField[] = [
  { key: 'n', label: 'n', get: (c) => c.n, set: (c, v) => (c.n = v) },
  { key: 'k', label: 'k', get: (c) => c.k, set: (c, v) => (c.k = v) },
  { key: 'd', label: 'd_model', get: (c) => c.model.dModel, set: (c, v) => (c.model.dModel = v) },
  { key: 'h', label: 'heads', get: (c) => c.model.nHeads, set: (c, v) => (c.model.nHeads = v) },
  { key: 'l', label: 'layers', get: (c) => c.model.nLayers, set: (c, v) => (c.model.nLayers = v) },
  { key: 'ff', label: 'd_ff', get: (c) => c.model.dFF, set: (c, v) => (c.model.dFF = v) },
  { key: 'lr', label: 'learning rate', get: (c) => c.learningRate, set: (c, v) => (c.learningRate = v) },
  { key: 'bt', label: 'targets per step', get: (c) => c.batchTargets, set: (c, v) => (c.batchTargets = v) },
  { key: 'ep', label: 'epochs', get: (c) => c.epochs, set: (c, v) => (c.epochs = v) },
  { key: 'steps', label: 'max steps', get: (c) => c.maxSteps, set: (c, v) => (c.maxSteps = v) },
  { key: 'seed', label: 'seed', get: (c) => c.seed, set: (c, v) => (c.seed = v) },
  { key: 'wd', label: 'weight decay', get: (c) => c.weightDecay, set: (c, v) => (c.weightDecay = v) },
  { key: 'clip', label: 'gradient clip', get: (c) => c.maxGradNorm, set: (c, v) => (c.maxGradNorm = v) },
  { key: 'vpe', label: 'validation points per epoch', get: (c) => c.evalsPerEpoch, set: (c, v) => (c.evalsPerEpoch = v) },
  { key: 'pat', label: 'patience', get: (c) => c.patience, set: (c, v) => (c.patience = v) },
];

const PARADIGMS: readonly Paradigm[] = ['sw', 'dti'];

export function cloneConfig(config: TrainConfig): TrainConfig {
  return { ...config, model: { ...config.model } };
}

export function encodeHash(state: HashState): string {
  const params = new URLSearchParams();
  if (state.upload) {
    params.set('ds', 'upload');
    // One `file` per file: a name may hold a comma.
    for (const file of state.upload.files) params.append('file', file);
    if (state.upload.checksum) params.set('data', state.upload.checksum.slice(0, LINK_CHECKSUM_DIGITS));
  } else params.set('ds', state.preset);
  params.set('split', state.prep.split === 'per-user' ? 'user' : 'time');
  params.set('click', state.prep.clickAtLeast === null ? 'auto' : String(state.prep.clickAtLeast));
  params.set('p', state.config.paradigm);
  params.set('iso', state.config.isolation);
  params.set('pe', state.config.model.positionEncoding);
  params.set('fg', state.config.model.forgetting ? 'on' : 'off');
  params.set('it', state.config.itemText);
  for (const field of NUMBER_FIELDS) params.set(field.key, String(field.get(state.config)));
  return params.toString();
}

export interface DecodedHash extends HashState {
  /** One sentence per value of the link that could not be used, saying what was kept instead. */
  problems: string[];
}

function pickEnum<T extends string>(
  params: URLSearchParams,
  key: string,
  label: string,
  allowed: readonly T[],
  fallback: T,
  problems: string[],
): T {
  const raw = params.get(key);
  if (raw === null) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  problems.push(`The link sets ${label} to ${quoted(raw)}, which is not one of ${allowed.join(', ')}; using ${fallback}.`);
  return fallback;
}

/** A link's number in decimal notation (no hex, no Infinity, no blanks: `n=0x10` is a typo, not 16), or NaN. */
function linkNumber(raw: string): number {
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw) ? Number(raw) : NaN;
}

/** A link's value as problems quote it: a long one is cut. */
function quoted(raw: string): string {
  return JSON.stringify(raw.length <= 40 ? raw : `${raw.slice(0, 39)}…`);
}

/** Beyond this a click threshold is on no rating scale (1e308 would pass as a number). */
const MAX_CLICK_THRESHOLD = 1e6;

/** Reads a hash (with or without the leading '#'); missing fields take the defaults silently (short links). */
export function decodeHash(
  hash: string,
  defaults: HashState = { config: DEFAULT_TRAIN_CONFIG, preset: DEFAULT_PRESET, prep: DEFAULT_PREP },
): DecodedHash {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const problems: string[] = [];
  const config = cloneConfig(defaults.config);
  const linkedUpload = params.get('ds') === 'upload';
  const upload = linkedUpload ? { files: params.getAll('file').filter(Boolean), checksum: (params.get('data') ?? '').toLowerCase() } : null;
  if (upload && !/^[0-9a-f]*$/.test(upload.checksum)) {
    problems.push(`The link's data checksum ${quoted(upload.checksum)} is not hexadecimal; the files it names cannot be checked against it.`);
    upload.checksum = '';
  }
  const preset = linkedUpload ? defaults.preset : pickEnum(params, 'ds', 'the dataset preset', PRESETS_ORDER, defaults.preset, problems);
  const splitKey = pickEnum(params, 'split', 'the split rule', ['user', 'time'] as const, defaults.prep.split === 'per-user' ? 'user' : 'time', problems);
  const prep: DataPrep = { split: splitKey === 'user' ? 'per-user' : 'global-time', clickAtLeast: defaults.prep.clickAtLeast };
  const click = params.get('click');
  if (click === 'auto') prep.clickAtLeast = null;
  else if (click !== null) {
    const value = linkNumber(click);
    if (Math.abs(value) <= MAX_CLICK_THRESHOLD) prep.clickAtLeast = value;
    else if (Number.isFinite(value)) {
      problems.push(`The link sets the click rule to rating ≥ ${quoted(click)}, beyond any rating scale (±${MAX_CLICK_THRESHOLD}); using ${prep.clickAtLeast ?? 'auto'}.`);
    } else problems.push(`The link sets the click rule to ${quoted(click)}, which is neither auto nor a number; using ${prep.clickAtLeast ?? 'auto'}.`);
  }
  config.paradigm = pickEnum(params, 'p', 'the paradigm', PARADIGMS, config.paradigm, problems);
  config.isolation = pickEnum<IsolationLevel>(params, 'iso', 'the isolation level', ISOLATION_LEVELS, config.isolation, problems);
  config.model.positionEncoding = pickEnum<PositionEncoding>(
    params,
    'pe',
    'the position encoding',
    POSITION_ENCODINGS,
    config.model.positionEncoding,
    problems,
  );
  // Links from before forgetting existed trained without it.
  const forgetting = params.has('fg') ? (config.model.forgetting ? 'on' : 'off') : 'off';
  config.model.forgetting = pickEnum(params, 'fg', 'distance-based forgetting', ['off', 'on'], forgetting, problems) === 'on';
  config.itemText = pickEnum<ItemText>(params, 'it', 'the item text', ITEM_TEXTS, config.itemText, problems);
  for (const field of NUMBER_FIELDS) {
    const raw = params.get(field.key);
    if (raw === null) continue;
    const value = linkNumber(raw);
    if (Number.isFinite(value)) field.set(config, value);
    else problems.push(`The link sets ${field.label} to ${quoted(raw)}, which is not a number in decimal notation; using ${field.get(config)}.`);
  }
  // A link written before targets per step (`bs` counted prompts): read as the run it described.
  if ((params.has('bs') || params.has('eval')) && !params.has('bt')) {
    const prompts = Number(params.get('bs') ?? NaN);
    const { itemText: _i, batchTargets: _b, evalsPerEpoch: _v, patience: _p, ...settings } = config;
    const old = upgradeConfig({ ...settings, batchSize: Number.isFinite(prompts) ? prompts : undefined });
    if (!params.has('bs')) old.batchTargets = config.batchTargets;
    for (const [key, field] of [['it', 'itemText'], ['vpe', 'evalsPerEpoch'], ['pat', 'patience']] as const) {
      if (!params.has(key)) (config as unknown as Record<string, unknown>)[field] = old[field];
    }
    config.batchTargets = old.batchTargets;
    problems.push(
      `This link is from an earlier version of the lab: its batch of ${Number.isFinite(prompts) ? prompts : '?'} prompts is read as ` +
        `${config.batchTargets} targets per step, with item text "${config.itemText}", ${config.evalsPerEpoch} validation per epoch and ` +
        `${config.patience ? `patience ${config.patience}` : 'no early stopping'}, as it trained then.`,
    );
  }
  return { config, preset, prep, upload, problems };
}
