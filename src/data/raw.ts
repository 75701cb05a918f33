/**
 * The raw interaction table every source produces (the generator and every file format) before preprocessing.
 * Interactions live in typed columns, not arrays of objects, so a 100 MB ratings file costs about 20 bytes per row.
 */

export type FormatId = 'builtin' | 'movielens-100k' | 'movielens-1m' | 'bookcrossing' | 'csv' | 'jsonl';

/** Item text as the files give it. An item with an empty title and no genres is tokenized as an item-id token. */
export interface RawCatalog {
  keys: string[];
  titles: string[];
  genres: string[][];
}

export interface RawDataset {
  name: string;
  format: FormatId;
  count: number;
  /** Per interaction, in file order: index into userKeys. */
  user: Int32Array;
  /** Per interaction: index into catalog. */
  item: Int32Array;
  /** Explicit ratings, or null when the source has 0/1 labels instead. */
  rating: Float32Array | null;
  /** 0/1 labels given by the source, or null when labels come from ratings. */
  label: Uint8Array | null;
  /** Timestamps in the source's unit, or null when the source has none (file order is then the time order). */
  timestamp: Float64Array | null;
  userKeys: string[];
  catalog: RawCatalog;
}

type Column = Int32Array | Float32Array | Float64Array | Uint8Array;

/** A typed array that doubles when full. */
class GrowableColumn<A extends Column> {
  private data: A;
  length = 0;

  constructor(private readonly make: (length: number) => A) {
    this.data = make(4096);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  finish(): A {
    return this.data.slice(0, this.length) as A;
  }
}

export interface RawColumns {
  rating: boolean;
  label: boolean;
  timestamp: boolean;
}

/** Collects interactions and item text, interning user and item keys. */
export class RawBuilder {
  private readonly userIndex = new Map<string, number>();
  private readonly itemIndex = new Map<string, number>();
  readonly userKeys: string[] = [];
  readonly catalog: RawCatalog = { keys: [], titles: [], genres: [] };
  private readonly users = new GrowableColumn((n) => new Int32Array(n));
  private readonly items = new GrowableColumn((n) => new Int32Array(n));
  private readonly ratings = new GrowableColumn((n) => new Float32Array(n));
  private readonly labels = new GrowableColumn((n) => new Uint8Array(n));
  private readonly timestamps = new GrowableColumn((n) => new Float64Array(n));
  private columns: RawColumns = { rating: false, label: false, timestamp: false };

  /** Declares which optional columns the interactions carry (one ratings source per dataset). */
  setColumns(columns: RawColumns): void {
    this.columns = columns;
  }

  get count(): number {
    return this.users.length;
  }

  user(key: string): number {
    let index = this.userIndex.get(key);
    if (index === undefined) {
      index = this.userKeys.length;
      this.userIndex.set(key, index);
      this.userKeys.push(key);
    }
    return index;
  }

  /** Index of an item already in the catalog, or undefined. */
  findItem(key: string): number | undefined {
    return this.itemIndex.get(key);
  }

  /** Index of the item, adding it (without text) when new. */
  item(key: string): number {
    let index = this.itemIndex.get(key);
    if (index === undefined) {
      index = this.catalog.keys.length;
      this.itemIndex.set(key, index);
      this.catalog.keys.push(key);
      this.catalog.titles.push('');
      this.catalog.genres.push([]);
    }
    return index;
  }

  /** Sets the item's text unless it already has some (the first description wins). */
  describeItem(index: number, title: string, genres: string[]): void {
    if (this.catalog.titles[index] === '' && this.catalog.genres[index].length === 0) {
      this.catalog.titles[index] = title;
      this.catalog.genres[index] = genres;
    }
  }

  push(user: number, item: number, rating: number, label: number, timestamp: number): void {
    this.users.push(user);
    this.items.push(item);
    if (this.columns.rating) this.ratings.push(rating);
    if (this.columns.label) this.labels.push(label);
    if (this.columns.timestamp) this.timestamps.push(timestamp);
  }

  finish(name: string, format: FormatId): RawDataset {
    return {
      name,
      format,
      count: this.users.length,
      user: this.users.finish(),
      item: this.items.finish(),
      rating: this.columns.rating ? this.ratings.finish() : null,
      label: this.columns.label ? this.labels.finish() : null,
      timestamp: this.columns.timestamp ? this.timestamps.finish() : null,
      userKeys: this.userKeys,
      catalog: this.catalog,
    };
  }
}
