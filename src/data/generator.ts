/**
 * The built-in dataset: a deterministic, seeded, movie-like world (nothing is downloaded).
 *
 * Two latent models ("worlds") share the catalog and the rating code; only their constants (WORLDS) differ.
 * - items: 1–3 genres, a popularity weight (Zipf over a random rank) and a quality that leans with popularity;
 * - users: a long-term taste per genre, a personal rating bias, and a mood per genre that drifts along the sequence
 *   (an AR(1) walk), plus a focus genre that switches now and then and steers both what is watched and how it is rated;
 * - rating = round(offset + bias + quality + mean over the item's genres of (taste + mood) + focus bonus + noise),
 *   clipped to 1..5. Items are never repeated for a user (so a test target never re-appears as a train target).
 * 'recent' (small, medium, large), chosen so that a model reading the history can beat item popularity, and so that
 * the most recent history matters more than old history: the mood's time constant is 10 interactions.
 * 'slow-drift' (leakage), chosen so that history older than the usual window n = 10 reveals the label: no long-term
 * taste and no focus (items are picked by popularity alone, so what is watched says nothing), only a strong mood that
 * drifts slowly (time constant 100 interactions). The 10 interactions before a target hold about 2.5 items that share
 * a genre with it (none for a fifth of targets), a noisy read of that taste; the 50 before it hold about 12. So a model
 * trained with a leaky isolation level, whose hidden states reach far more than n interactions back, learns a shortcut
 * that sliding-window serving (exactly n interactions) lacks. Its histories are long, so that such old history exists.
 */
import { Rng } from '../util/rng';
import { type RawDataset, RawBuilder } from './raw';

export type Preset = 'small' | 'medium' | 'large' | 'leakage';
export const PRESETS_ORDER: readonly Preset[] = ['small', 'medium', 'large', 'leakage'];

/** Which latent model generates the ratings: see the file's comment and WORLDS. */
export type World = 'recent' | 'slow-drift';

export interface GeneratorOptions {
  users: number;
  items: number;
  /** Per-user history lengths are log-uniform in [minHistory, maxHistory]. */
  minHistory: number;
  maxHistory: number;
  /** Default 'recent'. */
  world?: World;
}

/**
 * 'small' and 'leakage' stay small because CI trains on software WebGPU at about 1 GFLOP/s; 'leakage' has long
 * histories so that most of a user's past lies beyond any usual window n.
 */
export const PRESETS: Record<Preset, GeneratorOptions> = {
  small: { users: 100, items: 300, minHistory: 20, maxHistory: 120 },
  medium: { users: 1000, items: 1500, minHistory: 20, maxHistory: 300 },
  large: { users: 6000, items: 4000, minHistory: 20, maxHistory: 300 },
  leakage: { users: 100, items: 500, minHistory: 60, maxHistory: 160, world: 'slow-drift' },
};

/** MovieLens-100K's genres (its order, without "unknown"), so the built-in data can be written as a real u.item. */
export const GENRES = [
  'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
] as const;
/** How often each genre is drawn for an item (drama and comedy dominate, as in MovieLens). */
const GENRE_WEIGHTS = [10, 7, 2, 3, 16, 6, 2, 18, 4, 1, 5, 2, 3, 8, 5, 9, 1.5, 1];

const TITLE_ADJECTIVES = [
  'Silent', 'Golden', 'Broken', 'Hidden', 'Last', 'Lost', 'Dark', 'Bright', 'Frozen', 'Wild', 'Secret', 'Crimson',
  'Distant', 'Endless', 'Burning', 'Quiet', 'Little', 'Savage', 'Midnight', 'Electric', 'Iron', 'Paper', 'Velvet',
  'Hollow', 'Restless', 'Northern', 'Sudden', 'Gentle', 'Bitter', 'Lucky',
];
const TITLE_NOUNS = [
  'River', 'Garden', 'Empire', 'Storm', 'Harbor', 'Mirror', 'Station', 'Kingdom', 'Letter', 'Island', 'Winter',
  'Summer', 'Road', 'Heart', 'Shadow', 'City', 'Dream', 'Hunter', 'Engine', 'Forest', 'Witness', 'Signal', 'Crown',
  'Desert', 'Orchard', 'Machine', 'Voyage', 'Castle', 'Ghost', 'Promise', 'Mountain', 'Canyon', 'Circus', 'Comet',
];
const TITLE_ENDINGS = ['Returns', 'Rising', 'Forever', 'Tales', 'Story', 'Song', 'Chronicles', 'Affair', 'Code', 'Run'];

/** How an item's quality leans with its popularity, in every world. */
const CATALOG = { qualityFromPopularity: 0.35, qualityStd: 0.35 };

/** How users rate, per world (see the file's comment). */
interface WorldModel {
  ratingOffset: number;
  biasStd: number;
  tasteStd: number;
  moodStd: number;
  /** Mood persistence per interaction: its time constant is about 1 / (1 - moodPersistence) interactions. */
  moodPersistence: number;
  focusBonus: number;
  focusSwitch: number;
  focusPick: number;
  noiseStd: number;
}

/** Both tuned so that history beats popularity by a clear AUC margin while popularity stays better than chance. */
const WORLDS: Record<World, WorldModel> = {
  recent: {
    ratingOffset: 3.2,
    biasStd: 0.75,
    tasteStd: 0.9,
    moodStd: 0.9,
    moodPersistence: 0.9,
    focusBonus: 0.5,
    focusSwitch: 0.1,
    focusPick: 0.5,
    noiseStd: 0.55,
  },
  // A small bias, so that most of what separates clicks is the slow mood, which only a long history estimates well.
  'slow-drift': {
    ratingOffset: 3.4,
    biasStd: 0.3,
    tasteStd: 0,
    moodStd: 2,
    moodPersistence: 0.99,
    focusBonus: 0,
    focusSwitch: 0,
    focusPick: 0,
    noiseStd: 0.8,
  },
};

const SECONDS_PER_DAY = 86_400;
/** 2000-01-01, so generated timestamps look like MovieLens ones. */
const FIRST_TIMESTAMP = 946_684_800;

interface Item {
  genres: number[];
  quality: number;
  /** Zipf weight (exponent 0.9) of the item's popularity rank: how often it is picked. */
  popularity: number;
}

/** Generates the built-in dataset; the same preset and seed give the same data in every browser and in Node. */
export function generateDataset(preset: Preset | GeneratorOptions, seed = 1): RawDataset {
  const options = typeof preset === 'string' ? PRESETS[preset] : preset;
  const model = WORLDS[options.world ?? 'recent'];
  const rng = new Rng(seed);
  const builder = new RawBuilder();
  builder.setColumns({ rating: true, label: false, timestamp: true });

  const items = makeCatalog(builder, options.items, rng);
  const pickers = makePickers(items);

  // Each user's ratings, generated per user, then written out in global time order like a real log.
  const rows: { user: number; item: number; rating: number; time: number }[] = [];
  for (let user = 0; user < options.users; user++) {
    const length = Math.round(
      Math.exp(Math.log(options.minHistory) + rng.next() * (Math.log(options.maxHistory) - Math.log(options.minHistory))),
    );
    const taste = GENRES.map(() => rng.normal() * model.tasteStd);
    const bias = rng.normal() * model.biasStd;
    const mood = GENRES.map(() => rng.normal() * model.moodStd);
    const focusWeights = taste.map(Math.exp);
    let focus = sampleIndex(focusWeights, rng);
    let time = FIRST_TIMESTAMP + Math.floor(rng.next() * 3 * 365 * SECONDS_PER_DAY);
    const seen = new Set<number>();
    for (let t = 0; t < length; t++) {
      if (rng.next() < model.focusSwitch) focus = sampleIndex(focusWeights, rng);
      for (let g = 0; g < mood.length; g++) {
        mood[g] = model.moodPersistence * mood[g] + Math.sqrt(1 - model.moodPersistence ** 2) * model.moodStd * rng.normal();
      }
      const item = pickUnseen(rng.next() < model.focusPick ? pickers.byGenre[focus] : pickers.all, seen, pickers.all, rng);
      const { genres, quality } = items[item];
      let affinity = 0;
      for (const g of genres) affinity += taste[g] + mood[g];
      affinity /= genres.length;
      const score =
        model.ratingOffset + bias + quality + affinity + (genres.includes(focus) ? model.focusBonus : 0) + model.noiseStd * rng.normal();
      // A tenth of ratings share the previous timestamp, as when a user rates several films in one sitting.
      if (t > 0 && rng.next() >= 0.1) time += 1 + Math.floor(-Math.log(1 - rng.next()) * 2 * SECONDS_PER_DAY);
      rows.push({ user, item, rating: Math.min(5, Math.max(1, Math.round(score))), time });
    }
  }
  // Stable: a user's ratings that share a second keep the order they were made in.
  rows.sort((a, b) => a.time - b.time || a.user - b.user);
  // Users are numbered in order of first appearance in the log, as a parsed file would number them.
  for (const row of rows) builder.push(builder.user(`u${row.user + 1}`), row.item, row.rating, 0, row.time);
  const name = typeof preset === 'string' ? `Built-in (${preset}, seed ${seed})` : `Built-in (seed ${seed})`;
  return builder.finish(name, 'builtin');
}

function makeCatalog(builder: RawBuilder, count: number, rng: Rng): Item[] {
  const ranks = rng.shuffle(Array.from({ length: count }, (_, i) => i));
  const logPopularity = ranks.map((rank) => -Math.log(rank + 5));
  const mean = logPopularity.reduce((a, b) => a + b, 0) / count;
  const std = Math.sqrt(logPopularity.reduce((a, b) => a + (b - mean) ** 2, 0) / count) || 1;
  const items: Item[] = [];
  for (let i = 0; i < count; i++) {
    const genreCount = pickCount(rng, [0.5, 0.35, 0.15]);
    const genres: number[] = [];
    while (genres.length < genreCount) {
      const g = sampleIndex(GENRE_WEIGHTS, rng);
      if (!genres.includes(g)) genres.push(g);
    }
    genres.sort((a, b) => a - b);
    const quality = CATALOG.qualityFromPopularity * ((logPopularity[i] - mean) / std) + CATALOG.qualityStd * rng.normal();
    items.push({ genres, quality, popularity: 1 / (ranks[i] + 5) ** 0.9 });
    const index = builder.item(`m${i + 1}`);
    builder.describeItem(index, makeTitle(rng), genres.map((g) => GENRES[g]));
  }
  return items;
}

function makeTitle(rng: Rng): string {
  const words = pickCount(rng, [0.4, 0.45, 0.15]);
  const noun = TITLE_NOUNS[rng.int(TITLE_NOUNS.length)];
  if (words === 1) return noun;
  const adjective = TITLE_ADJECTIVES[rng.int(TITLE_ADJECTIVES.length)];
  if (words === 2) return `${adjective} ${noun}`;
  return `${adjective} ${noun} ${TITLE_ENDINGS[rng.int(TITLE_ENDINGS.length)]}`;
}

/** Popularity-weighted samplers: one over the whole catalog, one per genre. */
interface Picker {
  items: Int32Array;
  cumulative: Float64Array;
}

function makePickers(items: Item[]): { all: Picker; byGenre: Picker[] } {
  const build = (members: number[]): Picker => {
    const cumulative = new Float64Array(members.length);
    let total = 0;
    members.forEach((item, i) => (cumulative[i] = total += items[item].popularity));
    return { items: Int32Array.from(members), cumulative };
  };
  const all = build(items.map((_, i) => i));
  const byGenre = GENRES.map((_, g) => {
    const members = items.flatMap((item, i) => (item.genres.includes(g) ? [i] : []));
    return members.length > 0 ? build(members) : all;
  });
  return { all, byGenre };
}

function pick(picker: Picker, rng: Rng): number {
  const target = rng.next() * picker.cumulative[picker.cumulative.length - 1];
  let lo = 0;
  let hi = picker.cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (picker.cumulative[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return picker.items[lo];
}

/** A popularity-weighted item the user has not seen; falls back to the whole catalog when the genre is exhausted. */
function pickUnseen(picker: Picker, seen: Set<number>, all: Picker, rng: Rng): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const item = pick(attempt < 25 ? picker : all, rng);
    if (!seen.has(item)) {
      seen.add(item);
      return item;
    }
  }
  // Rejection sampling failed (a user who has seen most of the catalog): take the first unseen item.
  for (let item = 0; item < all.items.length; item++) {
    if (!seen.has(item)) {
      seen.add(item);
      return item;
    }
  }
  throw new Error('generator: a user history is longer than the catalog');
}

function sampleIndex(weights: readonly number[], rng: Rng): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let target = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    target -= weights[i];
    if (target < 0) return i;
  }
  return weights.length - 1;
}

/** 1 + an index drawn with the given probabilities. */
function pickCount(rng: Rng, probabilities: readonly number[]): number {
  return sampleIndex(probabilities, rng) + 1;
}
