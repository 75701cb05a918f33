import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../train/protocol';
import { DEFAULT_PREP } from './data-prep';
import { decodeHash, encodeHash } from './url-hash';

const custom: TrainConfig = {
  n: 20,
  k: 35,
  paradigm: 'sw',
  isolation: 'sum-isolated',
  itemText: 'id',
  model: { dModel: 96, nHeads: 3, nLayers: 5, dFF: 384, positionEncoding: 'alibi', forgetting: true },
  learningRate: 0.0007,
  batchTargets: 48,
  epochs: 3,
  maxSteps: 250,
  seed: 42,
  weightDecay: 0.05,
  maxGradNorm: 0.5,
  evalsPerEpoch: 3,
  patience: 7,
};

describe('URL hash', () => {
  it('round-trips every field of the configuration, the preset and the data preparation', () => {
    for (const prep of [DEFAULT_PREP, { split: 'global-time', clickAtLeast: 4 } as const]) {
      const hash = encodeHash({ config: custom, preset: 'medium', prep });
      const decoded = decodeHash(`#${hash}`);
      expect(decoded.problems).toEqual([]);
      expect(decoded.config).toEqual(custom);
      expect(decoded.preset).toBe('medium');
      expect(decoded.prep).toEqual(prep);
    }
    expect(decodeHash('#split=month&click=high').problems).toEqual([
      'The link sets the split rule to "month", which is not one of user, time; using user.',
      'The link sets the click rule to "high", which is neither auto nor a number; using auto.',
    ]);
  });

  it('names uploaded data by its files (a name may hold a comma) and its checksum instead of the preset', () => {
    const upload = { files: ['ratings, v2.csv', 'movies.csv'], checksum: 'ab'.repeat(32) };
    const hash = encodeHash({ config: custom, preset: 'small', prep: DEFAULT_PREP, upload });
    expect(hash).toMatch(/^ds=upload&file=ratings%2C\+v2\.csv&file=movies\.csv&data=abababababababab&/);
    const decoded = decodeHash(`#${hash}`);
    expect(decoded.problems).toEqual([]);
    expect(decoded.upload).toEqual({ files: upload.files, checksum: 'abababababababab' });
    expect(decoded.preset).toBe('small'); // the default, shown until the files are dropped
    expect(decodeHash('#ds=small').upload).toBeNull();
    expect(decodeHash('#ds=upload&file=a.csv&data=xyz').problems).toEqual([
      'The link\'s data checksum "xyz" is not hexadecimal; the files it names cannot be checked against it.',
    ]);
  });

  it('writes every field, so a link keeps its meaning if defaults change', () => {
    const params = new URLSearchParams(encodeHash({ config: DEFAULT_TRAIN_CONFIG, preset: 'small', prep: DEFAULT_PREP }));
    for (const key of ['ds', 'split', 'click', 'n', 'k', 'p', 'iso', 'pe', 'fg', 'd', 'h', 'l', 'ff', 'lr', 'bt', 'ep', 'steps', 'seed', 'wd', 'clip', 'vpe', 'pat', 'it']) {
      expect(params.has(key), key).toBe(true);
    }
  });

  it('fills missing fields from the defaults without complaint (short hand-written links)', () => {
    const decoded = decodeHash('#k=4&iso=window');
    expect(decoded.problems).toEqual([]);
    expect(decoded.config).toEqual({ ...DEFAULT_TRAIN_CONFIG, k: 4, isolation: 'window' });
    expect(decoded.preset).toBe('small');
  });

  it('reads forgetting as on or off, and a link without it (older than the option) as off', () => {
    expect(decodeHash('#fg=on').config.model.forgetting).toBe(true);
    const on = { ...DEFAULT_TRAIN_CONFIG, model: { ...DEFAULT_TRAIN_CONFIG.model, forgetting: true } };
    expect(decodeHash('#k=4', { config: on, preset: 'small', prep: DEFAULT_PREP }).config.model.forgetting).toBe(false);
    const wrong = decodeHash('#fg=maybe', { config: on, preset: 'small', prep: DEFAULT_PREP });
    expect(wrong.config.model.forgetting).toBe(true);
    expect(wrong.problems).toEqual(['The link sets distance-based forgetting to "maybe", which is not one of off, on; using on.']);
  });

  it('explains values it cannot parse and keeps the default for them', () => {
    const decoded = decodeHash('#n=ten&iso=leaky&ds=huge&lr=&k=5');
    expect(decoded.config.n).toBe(DEFAULT_TRAIN_CONFIG.n);
    expect(decoded.config.isolation).toBe(DEFAULT_TRAIN_CONFIG.isolation);
    expect(decoded.config.learningRate).toBe(DEFAULT_TRAIN_CONFIG.learningRate);
    expect(decoded.config.k).toBe(5);
    expect(decoded.preset).toBe('small');
    expect(decoded.problems).toHaveLength(4);
    expect(decoded.problems.join(' ')).toMatch(/n to "ten", which is not a number in decimal notation; using 10/);
    expect(decoded.problems.join(' ')).toMatch(/isolation level to "leaky".*using strict/);
    expect(decoded.problems.join(' ')).toMatch(/dataset preset to "huge"/);
  });

  it('reads numbers in decimal notation only, refuses click rules beyond any scale, and quotes long values cut', () => {
    const decoded = decodeHash(`#n=0x10&k=1e1&click=1e308&lr=${'9'.repeat(100_000)}x`);
    expect(decoded.config.n).toBe(DEFAULT_TRAIN_CONFIG.n);
    expect(decoded.config.k).toBe(10);
    expect(decoded.prep.clickAtLeast).toBe(DEFAULT_PREP.clickAtLeast);
    expect(decoded.problems[0]).toBe('The link sets the click rule to rating ≥ "1e308", beyond any rating scale (±1000000); using auto.');
    expect(decoded.problems[1]).toMatch(/n to "0x10", which is not a number in decimal notation/);
    expect(decoded.problems[2]).toMatch(/to "9{39}…", which is not a number/);
    expect(Math.max(...decoded.problems.map((problem) => problem.length))).toBeLessThan(200);
    expect(decodeHash('#click=-2.5').prep.clickAtLeast).toBe(-2.5);
  });

  it('keeps parsed out-of-range values for the configuration check to explain (never clamps)', () => {
    const decoded = decodeHash('#k=0&h=5&d=64');
    expect(decoded.problems).toEqual([]);
    expect(decoded.config.k).toBe(0);
    expect(decoded.config.model.nHeads).toBe(5);
  });

  it('reads a link from before targets per step as the run it described, and says so', () => {
    const decoded = decodeHash('#p=dti&k=10&bs=16&ep=1&eval=0');
    expect(decoded.config).toMatchObject({ batchTargets: 160, itemText: 'words', evalsPerEpoch: 1, patience: 0, k: 10, epochs: 1 });
    expect(decoded.problems).toEqual([
      'This link is from an earlier version of the lab: its batch of 16 prompts is read as 160 targets per step, with item text "words", 1 validation per epoch and no early stopping, as it trained then.',
    ]);
    expect(decodeHash('#p=sw&bs=16').config.batchTargets).toBe(16);
  });
});
