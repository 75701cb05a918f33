/** A fixed sample of a dataset's users, for quick experiments: the same users for every run, vocabulary unchanged. */
import type { TokenizedDataset } from '../prompt/types';
import { Rng } from '../util/rng';

/** The sample's users are drawn with this seed, whatever the run's seed, so every run of a quick benchmark sees them. */
export const USER_SAMPLE_SEED = 11;

/** `count` users drawn without replacement (seeded), kept in dataset order; the whole dataset when count >= its users. */
export function sampleUsers(dataset: TokenizedDataset, count: number): TokenizedDataset {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`a user sample needs a positive whole number of users (got ${count})`);
  if (count >= dataset.users.length) return dataset;
  const chosen = new Rng(USER_SAMPLE_SEED).shuffle([...dataset.users.keys()]).slice(0, count).sort((a, b) => a - b);
  return { ...dataset, users: chosen.map((u) => dataset.users[u]) };
}
