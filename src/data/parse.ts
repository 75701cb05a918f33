/**
 * Dropped files -> raw interaction table. Every format goes through the same row pipeline: detectFile says how to split
 * a file and which field is which; streamRows yields its rows; one items sink or one ratings sink turns fields into
 * catalog entries or interactions. Items files are read first so ratings can be checked against them.
 *
 * Bad rows are skipped and counted (the first few kept as examples). A file is rejected as a whole, with the first
 * bad row's line, when it yields no usable row or when more than half of its rows are unusable: that is a wrong file
 * or a wrong column mapping, not a few damaged lines. What the person should know of a load that succeeded (an encoding
 * guessed, a JSON key that was not read) comes back as notes.
 */
import { DEFAULT_CHUNK_BYTES, type TextEncodingName, decodeChunks, lineOfByte } from './encoding';
import { DataError, type LoadNote, SKIPPED_EXAMPLES, type SkippedRows, excerpt, listExcerpt, loadNote } from './errors';
import {
  type DetectOptions,
  type DetectedFile,
  type FileLayout,
  type NamedBlob,
  columnOfName,
  detectFile,
  rowsBeforeData,
} from './formats';
import { RawBuilder, type RawDataset } from './raw';
import { streamRows } from './rows';

export interface ReadOptions extends DetectOptions {
  /** Bytes read and decoded at a time. */
  chunkBytes: number;
}

export const DEFAULT_READ_OPTIONS: ReadOptions = { columns: {}, encoding: null, chunkBytes: DEFAULT_CHUNK_BYTES };

export interface ReadProgress {
  file: string;
  /** Of all bytes to read, over every used file. */
  fraction: number;
  bytesRead: number;
  totalBytes: number;
}

export interface ReadResult {
  raw: RawDataset;
  skipped: SkippedRows;
  files: DetectedFile[];
  notes: LoadNote[];
}

const EXPECTED_RATINGS_FILE =
  'a ratings file: u.data, ratings.dat, BX-Book-Ratings.csv, or a CSV/TSV/JSON Lines file with user, item and rating (or label) columns';

/** MovieLens-100K's own train/test splits of u.data: redundant when u.data itself is there. */
const ML100K_SPLIT_FILE = /^u[1-5ab]\.(base|test)$/i;

export async function readFiles(
  files: readonly NamedBlob[],
  options: ReadOptions,
  onProgress: (progress: ReadProgress) => void = () => {},
): Promise<ReadResult> {
  if (files.length === 0) throw new DataError('no files were given', EXPECTED_RATINGS_FILE);
  // One at a time, so the problem reported is the first file's in the order given.
  const detected: DetectedFile[] = [];
  for (const file of files) detected.push(await detectFile(file, options));
  const { ratings, items } = planFiles(detected);
  const blobOf = new Map(detected.map((d, i) => [d, files[i]]));
  const builder = new RawBuilder();
  const skipped = new SkipCounter();
  const notes: LoadNote[] = [];
  const totalBytes = [...items, ratings].reduce((sum, file) => sum + file.size, 0);
  let doneBytes = 0;
  const read = async (file: DetectedFile, sink: LayoutSink) => {
    const blob = blobOf.get(file)!;
    let decided: EncodingDecision | null = null;
    const chunks = decodeChunks(blob, file.encoding, options.chunkBytes, {
      onBytes: (bytesRead) =>
        onProgress({ file: file.name, fraction: (doneBytes + bytesRead) / totalBytes, bytesRead: doneBytes + bytesRead, totalBytes }),
      onDecided: (name, offset) => (decided = { name, offset }),
    });
    await readRows(chunks, file, sink, skipped, (key, line) => {
      const column = columnOfName(key, options.columns);
      if (column !== undefined) notes.push(unreadKeyNote(file.name, key, line, column));
    });
    const note = await encodingNote(file, blob, decided);
    if (note) notes.push(note);
    doneBytes += file.size;
  };

  for (const file of items) await read(file, itemsSink(builder, file));
  builder.setColumns({
    rating: ratings.columns.label === undefined,
    label: ratings.columns.label !== undefined,
    timestamp: ratings.columns.timestamp !== undefined,
  });
  await read(ratings, ratingsSink(builder, ratings, items.length > 0 ? items.map((file) => file.name).join(', ') : null));
  const name = `${kindOf(ratings)}: ${[ratings, ...items].map((file) => file.name).join(' + ')}`;
  return { raw: builder.finish(name, ratings.format), skipped: skipped.result(), files: detected, notes };
}

/** "MovieLens-1M ratings": a file's description without its layout. */
const kindOf = (file: DetectedFile) => file.description.replace(/ \(.*$/, '');

/** An all-ASCII start's encoding, decided by the file's first byte outside ASCII, at `offset`. */
interface EncodingDecision {
  name: TextEncodingName;
  offset: number;
}

/**
 * What the person should know about the encoding a file was read in: cp1252 for a format documented as UTF-8 (bytes
 * that are not UTF-8 do not say which 8-bit encoding they are: a guess), or a later byte that overturned the guess
 * the preview showed for an all-ASCII start.
 */
async function encodingNote(file: DetectedFile, blob: Blob, decided: EncodingDecision | null): Promise<LoadNote | null> {
  if (file.encoding.basis === 'chosen') return null;
  const name = decided?.name ?? file.encoding.name;
  const guessed = name === 'windows-1252' && file.usualEncoding === 'utf-8';
  if (!guessed && !(decided && decided.name !== file.encoding.name)) return null;
  const line = decided === null ? null : await lineOfByte(blob, decided.offset);
  const where = 'this line, the first with a byte outside ASCII (past the first 64 KiB, which the preview read),';
  const note =
    name === 'utf-8'
      ? `read as UTF-8, not Windows-1252 (the format's usual encoding): ${where} is valid UTF-8`
      : `read as Windows-1252 (cp1252): ${line ? `${where} is not valid UTF-8` : 'its text is not valid UTF-8'}, and the file does not name its encoding; if letters look wrong, choose its text encoding (Text encoding in the page, --text-encoding in the runner) or re-save it as UTF-8`;
  return loadNote(file.name, line, note);
}

function unreadKeyNote(file: string, key: string, line: number, column: string): LoadNote {
  return loadNote(
    file,
    line,
    `key "${excerpt(key)}" first appears on this line, past the first 64 KiB the columns were chosen from, so it is not read ` +
      `(the lab reads a key of that name as the ${column} column); to use it, give it to one of the first records`,
  );
}

/** Feeds a file's rows (header skipped) to its sink, counting bad rows; rejects the file when most rows are bad. */
async function readRows(
  chunks: AsyncIterable<string>,
  file: DetectedFile,
  sink: LayoutSink,
  skipped: SkipCounter,
  unreadKey: (key: string, line: number) => void,
): Promise<void> {
  let rows = 0;
  let bad = 0;
  let firstBad: (RowProblem & { line: number }) | null = null;
  const reportBad = (line: number, problem: RowProblem) => {
    bad++;
    firstBad ??= { line, ...problem };
    skipped.add(file.name, line, `${problem.problem}; expected ${problem.expected}`);
  };
  let notData = rowsBeforeData(file);
  await streamRows(chunks, file.name, file.syntax, {
    row: (fields, line) => {
      if (notData > 0) {
        notData--;
        return;
      }
      rows++;
      const problem = sink.row(fields, line);
      if (problem) reportBad(line, problem);
    },
    bad: (line, problem, expected) => {
      rows++;
      reportBad(line, { problem, expected });
    },
    unreadKey,
  });
  if (rows === 0) {
    throw new DataError('the file has no data rows', file.hasHeader ? 'rows below the header' : 'one record per line', file.name);
  }
  sink.finish?.(rows);
  if (firstBad && bad * 2 > rows) {
    const { line, problem, expected } = firstBad;
    throw new DataError(`${problem} (${bad === rows ? 'every row' : `${bad} of ${rows} rows`} unusable)`, expected, file.name, line);
  }
}

/** Marks MovieLens-100K's split files (u1.base … ub.test) unused when u.data itself was dropped too. */
export function markRedundantFiles(detected: DetectedFile[]): void {
  if (!detected.some((file) => file.name.toLowerCase() === 'u.data')) return;
  for (const file of detected) {
    if (file.role === 'ratings' && ML100K_SPLIT_FILE.test(file.name)) {
      file.role = 'unused';
      file.description = `${file.description}: a predefined split of u.data (not used; the lab splits by time)`;
    }
  }
}

/** The one ratings file and the items files among the detected files; the rest are unused. */
function planFiles(detected: DetectedFile[]): { ratings: DetectedFile; items: DetectedFile[] } {
  markRedundantFiles(detected);
  const ratings = detected.filter((file) => file.role === 'ratings');
  if (ratings.length === 0) {
    const found = detected.map((file) => `${file.name}: ${file.description}`).join('; ');
    throw new DataError(`no ratings file among the files (${found})`, EXPECTED_RATINGS_FILE);
  }
  if (ratings.length > 1) {
    throw new DataError(
      `several ratings files (${ratings.map((file) => file.name).join(', ')})`,
      'one ratings file, with at most its items file',
    );
  }
  const items = detected.filter((file) => file.role === 'items');
  for (const file of items) {
    if (MOVIELENS.has(file.format) && MOVIELENS.has(ratings[0].format) && file.format !== ratings[0].format) {
      throw new DataError(
        `the items of another dataset: ${kindOf(file)}, while ${ratings[0].name} holds ${kindOf(ratings[0])}, and the two number their movies differently (every title would belong to another movie)`,
        `the items file of ${ratings[0].name}'s own dataset (${ratings[0].format === 'movielens-100k' ? 'u.item' : 'movies.dat'})`,
        file.name,
      );
    }
  }
  return { ratings: ratings[0], items };
}

/** MovieLens-100K numbers its movies its own way; MovieLens-1M, 10M, 20M and later share one numbering. */
const MOVIELENS = new Set(['movielens-100k', 'movielens-1m']);

interface RowProblem {
  problem: string;
  expected: string;
}

/**
 * Turns one row's fields into builder entries; returns the problem when the row is unusable, throws a DataError when
 * the row shows the whole file cannot be read right.
 */
interface LayoutSink {
  row(fields: string[], line: number): RowProblem | null;
  /** After the last of `rows` rows: throws a DataError when they show the file does not go with the others. */
  finish?(rows: number): void;
}

function itemsSink(builder: RawBuilder, layout: FileLayout): LayoutSink {
  const { columns, genreFlags } = layout;
  const needed = Math.max(columns.item!, columns.title ?? 0, columns.genres ?? 0, genreFlags ? genreFlags.start + genreFlags.names.length - 1 : 0) + 1;
  // A movies.dat title may itself hold "::": the id is the first field, the genres the last, the title all between.
  const joinTitle = layout.format === 'movielens-1m';
  return {
    row(split) {
      const fields = joinTitle && split.length > 3 ? [split[0], split.slice(1, -1).join('::'), split[split.length - 1]] : split;
      if (fields.length < needed) return fieldCountProblem(fields, needed, layout);
      const key = field(fields, columns.item);
      if (key === '') return { problem: 'the item id is empty', expected: `an item id in column "${layout.columnNames[columns.item!]}"` };
      const genres = genreFlags
        ? genreFlags.names.filter((_, g) => fields[genreFlags.start + g].trim() === '1')
        : splitGenres(field(fields, columns.genres));
      builder.describeItem(builder.item(key), decodeEntities(field(fields, columns.title)), genres);
      return null;
    },
  };
}

function ratingsSink(builder: RawBuilder, layout: DetectedFile, itemsFiles: string | null): LayoutSink {
  const { columns } = layout;
  const named = (key: keyof FileLayout['columns']) => `"${layout.columnNames[columns[key]!]}"`;
  const expected = (key: keyof typeof RATINGS_FIELDS) => `${RATINGS_FIELDS[key].holds} in column ${named(key)}`;
  // An empty field; in JSON Lines mostly a key the record lacks.
  const empty = (key: keyof typeof RATINGS_FIELDS): RowProblem => ({
    problem: layout.syntax.kind === 'jsonl' ? `the record has no ${named(key)} (or it is empty)` : `the ${RATINGS_FIELDS[key].name} is empty`,
    expected: expected(key),
  });
  const needed = Math.max(...Object.values(columns)) + 1;
  const describes = columns.title !== undefined || columns.genres !== undefined;
  // Unix times and dates cannot be ordered together (seconds against milliseconds since 1970): the first row says which.
  let firstTimestamp: { kind: TimestampKind; text: string; line: number } | null = null;
  // Nor Unix seconds and milliseconds: every millisecond time would sort after every second one.
  let firstUnixTime: { unit: UnixUnit; text: string; line: number } | null = null;
  // Items of the items files that some rating names, and the ratings that name none of them.
  const listedItems = builder.catalog.keys.length;
  const rated = new Uint8Array(listedItems);
  let ratedItems = 0;
  let unlisted = 0;
  let firstUnlisted: { key: string; line: number } | null = null;
  return {
    finish(rows) {
      if (firstUnlisted === null || unlisted * 2 <= rows) return;
      throw new DataError(
        `${unlisted} of the ${rows} ratings name an item that is not in ${itemsFiles} (the first: item "${excerpt(firstUnlisted.key)}"), ` +
          `and only ${ratedItems} of the ${listedItems} items listed there are rated: the files do not belong together`,
        `the items file of ${layout.name}'s own dataset, whose item ids are the ones the ratings use`,
        layout.name,
        firstUnlisted.line,
      );
    },
    row(fields, line) {
      if (fields.length < needed) return fieldCountProblem(fields, needed, layout);
      const userKey = field(fields, columns.user);
      if (userKey === '') return empty('user');
      const itemKey = field(fields, columns.item);
      if (itemKey === '') return empty('item');
      let rating = NaN;
      let label = 0;
      if (columns.label !== undefined) {
        const text = field(fields, columns.label);
        if (text === '') return empty('label');
        const parsed = toLabel(text);
        if (parsed === null) return { problem: `label "${excerpt(fields[columns.label])}" is not 0 or 1`, expected: expected('label') };
        label = parsed;
      } else {
        const text = field(fields, columns.rating);
        if (text === '') return empty('rating');
        rating = toNumber(text);
        if (Number.isNaN(rating)) return { problem: `rating "${excerpt(fields[columns.rating!])}" is not a number`, expected: expected('rating') };
        // Ratings are stored as float32: a larger magnitude would become Infinity.
        if (!Number.isFinite(Math.fround(rating))) {
          return { problem: `rating "${excerpt(fields[columns.rating!])}" is out of range`, expected: `a number below 3.4e38 in column ${named('rating')}` };
        }
        // MovieLens-100K and -1M rate in whole stars: anything else is a typo, which the click rule would read as a like.
        if (MOVIELENS.has(layout.format) && !(Number.isInteger(rating) && rating >= 1 && rating <= 5)) {
          return { problem: `rating "${excerpt(fields[columns.rating!])}" is not on MovieLens's scale`, expected: 'a whole number of stars from 1 to 5' };
        }
      }
      let timestamp = NaN;
      if (columns.timestamp !== undefined) {
        const text = field(fields, columns.timestamp);
        if (text === '') return empty('timestamp');
        const parsed = toTimestamp(text);
        if (parsed === null) return { problem: `timestamp "${excerpt(text)}" is neither a number nor a date`, expected: expected('timestamp') };
        firstTimestamp ??= { kind: parsed.kind, text, line };
        if (parsed.kind !== firstTimestamp.kind) {
          throw new DataError(
            `timestamp "${excerpt(text)}" is ${TIMESTAMP_KIND[parsed.kind]}, but line ${firstTimestamp.line} holds ${TIMESTAMP_KIND[firstTimestamp.kind]} ("${excerpt(firstTimestamp.text)}"): the two cannot be put in one time order`,
            `one kind of timestamp in column ${named('timestamp')}: all numbers (Unix times) or all dates`,
            layout.name,
            line,
          );
        }
        const unit = parsed.kind === 'number' ? unixUnit(parsed.value) : null;
        if (unit !== null) {
          firstUnixTime ??= { unit, text, line };
          if (unit !== firstUnixTime.unit) {
            throw new DataError(
              `timestamp "${excerpt(text)}" reads as Unix ${unit}, but line ${firstUnixTime.line} holds Unix ${firstUnixTime.unit} ("${excerpt(firstUnixTime.text)}"): ` +
                `in one time order every time in milliseconds would come after every time in seconds`,
              `one unit in column ${named('timestamp')}: all seconds or all milliseconds since 1970`,
              layout.name,
              line,
            );
          }
        }
        timestamp = parsed.value;
      }
      const item = itemsFiles === null ? builder.item(itemKey) : builder.findItem(itemKey);
      if (item === undefined) {
        unlisted++;
        firstUnlisted ??= { key: itemKey, line };
        return { problem: `item "${excerpt(itemKey)}" is not in ${itemsFiles}`, expected: 'every rated item to be listed in the items file' };
      }
      if (itemsFiles !== null && rated[item] === 0) {
        rated[item] = 1;
        ratedItems++;
      }
      if (describes) builder.describeItem(item, decodeEntities(field(fields, columns.title)), splitGenres(field(fields, columns.genres)));
      builder.push(builder.user(userKey), item, rating, label, timestamp);
      return null;
    },
  };
}

/** Each field of a ratings row, for messages: what it is called and what it must hold. */
const RATINGS_FIELDS = {
  user: { name: 'user id', holds: 'a user id' },
  item: { name: 'item id', holds: 'an item id' },
  rating: { name: 'rating', holds: 'a number' },
  label: { name: 'label', holds: '0/1, true/false or yes/no' },
  timestamp: { name: 'timestamp', holds: 'a Unix time or an ISO date' },
} as const;

function fieldCountProblem(fields: string[], needed: number, layout: FileLayout): RowProblem {
  const separator = layout.syntax.kind === 'delimited' ? layout.syntax.delimiter.replace('\t', '⇥') : ', ';
  return {
    problem: `the row has ${fields.length} field${fields.length === 1 ? '' : 's'}`,
    expected: `at least ${needed}: ${listExcerpt(layout.columnNames.slice(0, needed), separator)}`,
  };
}

/** The trimmed text of a field ('' for a column the file does not have). */
const field = (fields: string[], index: number | undefined) => (index === undefined ? '' : (fields[index] ?? '').trim());

/** A finite number, or NaN for empty, non-numeric or infinite text (Number('') would be 0). */
function toNumber(text: string): number {
  const number = text === '' ? NaN : Number(text);
  return Number.isFinite(number) ? number : NaN;
}

type TimestampKind = 'number' | 'date';
const TIMESTAMP_KIND: Record<TimestampKind, string> = { number: 'a number (a Unix time)', date: 'a date' };

/** A Unix time (any unit: only the order matters) or a date string (as ms since 1970); null when it is neither. */
function toTimestamp(text: string): { value: number; kind: TimestampKind } | null {
  const number = toNumber(text);
  if (!Number.isNaN(number)) return { value: number, kind: 'number' };
  const date = text === '' ? NaN : Date.parse(text);
  return Number.isNaN(date) ? null : { value: date, kind: 'date' };
}

type UnixUnit = 'seconds' | 'milliseconds';

/** The unit of a Unix time of the years 1973–5138 (either unit covers them); null for other numbers (counters, small times). */
function unixUnit(value: number): UnixUnit | null {
  if (value >= 1e8 && value < 1e11) return 'seconds';
  if (value >= 1e11 && value < 1e14) return 'milliseconds';
  return null;
}

/** Click labels as exports write them: 1/0, true/false or yes/no (y/n), in any case. */
const LABEL_WORDS = new Map<string, 0 | 1>([['1', 1], ['true', 1], ['yes', 1], ['y', 1], ['0', 0], ['false', 0], ['no', 0], ['n', 0]]);
function toLabel(text: string): 0 | 1 | null {
  return LABEL_WORDS.get(text.trim().toLowerCase()) ?? null;
}

/** Genres separated by |, ; or , (MovieLens uses |; JSON arrays arrive joined by |). */
function splitGenres(text: string): string[] {
  return text === '' ? [] : text.split(/\s*[|;,]\s*/).filter((genre) => genre !== '' && genre !== '(no genres listed)');
}

/** BookCrossing titles carry HTML entities (&amp;). */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(amp|quot|lt|gt|#39|apos);/g, (_, name: string) => ENTITIES[name]);
}
const ENTITIES: Record<string, string> = { amp: '&', quot: '"', lt: '<', gt: '>', '#39': "'", apos: "'" };

class SkipCounter {
  private count = 0;
  private readonly examples: SkippedRows['examples'] = [];

  add(file: string, line: number, reason: string): void {
    this.count++;
    if (this.examples.length < SKIPPED_EXAMPLES) this.examples.push({ file, line, reason });
  }

  result(): SkippedRows {
    return { count: this.count, examples: this.examples };
  }
}
