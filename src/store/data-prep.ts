/**
 * How raw interactions become the lab's dataset, as the person chooses it (method doc §5): the split rule and the
 * click rule. Part of the link, like the preset, so a link reproduces the data as well as the run.
 */
import type { DatasetStats, LoadOptions } from '../data';
import type { ShardProvenance } from '../train/shards';

export interface DataPrep {
  /** 'per-user': the last 10 % + 10 % of each user's history are valid + test; 'global-time': one timestamp cut. */
  split: 'per-user' | 'global-time';
  /** A click is a rating at least this; null: the format's own rule (MovieLens, built-in: above 3; BookCrossing: 5+). */
  clickAtLeast: number | null;
}

export const DEFAULT_PREP: DataPrep = { split: 'per-user', clickAtLeast: null };

export const samePrep = (a: DataPrep, b: DataPrep) => a.split === b.split && a.clickAtLeast === b.clickAtLeast;

/** "the per-user split and the format's click rule", for messages. */
export const prepText = (prep: DataPrep) =>
  `the ${prep.split === 'per-user' ? 'per-user' : 'global time'} split and ${prep.clickAtLeast === null ? "the format's click rule" : `clicks at a rating of ${prep.clickAtLeast} or more`}`;

/** The data layer's options for a preparation (the 80/10/10 proportions are the protocol's, not a choice). */
export function prepOptions(prep: DataPrep): Pick<LoadOptions, 'split' | 'labelRule'> {
  return {
    split: { kind: prep.split, valid: 0.1, test: 0.1 },
    labelRule: prep.clickAtLeast === null ? null : { threshold: prep.clickAtLeast, inclusive: true },
  };
}

/** The rule that made the labels, as the dataset summary says it. */
export const clickRuleText = (stats: Pick<DatasetStats, 'labelRule'>) =>
  stats.labelRule ? `click = rating ${stats.labelRule.inclusive ? '≥' : '>'} ${stats.labelRule.threshold}` : 'labels given as 0/1';

/** Where a dataset came from and how it was prepared, in words, for the manifest of an export to PyTorch. */
export function shardProvenance(source: { kind: 'builtin'; preset: string } | { kind: 'upload'; files: string[] }, prep: DataPrep, stats: Pick<DatasetStats, 'labelRule'>): ShardProvenance {
  return {
    source: source.kind === 'builtin' ? `the built-in ${source.preset} preset` : source.files.join(', '),
    split: prep.split === 'per-user' ? 'per-user: the last 10 % + 10 % of each history are validation and test' : 'global time: one timestamp cut, 80/10/10',
    clickRule: clickRuleText(stats),
  };
}
