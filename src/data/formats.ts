/**
 * Format detection: from the first 64 KiB of a file (and its name, for companion files), which format and role it has,
 * how to split it into rows, which text encoding it uses (as far as those bytes tell: encoding.ts), and which field
 * holds which column.
 * Real layouts (method doc §6): MovieLens-100K u.data / u.item, MovieLens-1M ratings.dat / movies.dat (Latin-1),
 * BookCrossing (';', quoted, cp1252, no timestamps), CSV/TSV with a header row, JSON Lines.
 */
import Papa from 'papaparse';
import { DataError, listExcerpt } from './errors';
import type { FormatId } from './raw';
import { SNIFF_BYTES, type TextEncoding, type TextEncodingName, decodeText, encodingOfBytes, lineEndsIn, utf8BomLength } from './encoding';
import { type RowSyntax, streamRows } from './rows';

export type ColumnKey = 'user' | 'item' | 'rating' | 'label' | 'timestamp' | 'title' | 'genres';
export const COLUMN_KEYS: readonly ColumnKey[] = ['user', 'item', 'rating', 'label', 'timestamp', 'title', 'genres'];
/** For CSV/TSV/JSON Lines whose column names differ from the usual ones: the column name that holds each key. */
export type ColumnMapping = Partial<Record<ColumnKey, string>>;

export type FileRole = 'ratings' | 'items' | 'unused';

/**
 * A file whose columns could not all be found: carries the column names and the keys that were found, so the page
 * can offer a mapping (prefilled with what was found).
 */
export class MissingColumnsError extends DataError {
  constructor(
    problem: string,
    expected: string,
    file: string,
    line: number,
    readonly columnNames: string[],
    readonly found: ColumnMapping,
  ) {
    super(problem, expected, file, line);
  }
}

/** A file name and contents; a browser File is one. */
export interface NamedBlob extends Blob {
  readonly name: string;
}

export interface FileLayout {
  format: FormatId;
  role: FileRole;
  /** For a person: "MovieLens-1M ratings (user::item::rating::timestamp)". */
  description: string;
  /** The encoding the format is documented in (MovieLens, BookCrossing: cp1252; CSV/TSV/JSON Lines: UTF-8). */
  usualEncoding: TextEncodingName;
  syntax: RowSyntax;
  hasHeader: boolean;
  /** Rows before the header that are not data: Excel's "sep=;" line. */
  preambleRows: number;
  /** The header, the JSON keys, or the format's documented layout. */
  columnNames: string[];
  /** Field index of each column the pipeline reads. */
  columns: Partial<Record<ColumnKey, number>>;
  /** MovieLens-100K u.item: genres are 0/1 flags from field `start` on, one per name. */
  genreFlags: { start: number; names: readonly string[] } | null;
}

export interface DetectedFile extends FileLayout {
  name: string;
  size: number;
  /** The encoding the file is read in: the chosen one, else `detectedEncoding`. */
  encoding: TextEncoding;
  /** What the bytes tell, as far as the first 64 KiB go, whatever was chosen. */
  detectedEncoding: TextEncoding;
  /** The first data rows (header excluded), as split for parsing. */
  sample: string[][];
}

export interface DetectOptions {
  columns: ColumnMapping;
  /** Overrides every file's text encoding. null: detected from the bytes (encoding.ts). */
  encoding: TextEncodingName | null;
}

const SAMPLE_ROWS = 10;

const EXPECTED_FORMATS =
  'one of: MovieLens-100K u.data (user⇥item⇥rating⇥timestamp) with optional u.item, MovieLens-1M ratings.dat ' +
  '(user::item::rating::timestamp) with optional movies.dat, BookCrossing BX-Book-Ratings.csv with optional ' +
  'BX-Books.csv, a CSV/TSV file with a header row (user, item, rating or label, optional timestamp, title, genres), ' +
  'or JSON Lines (one object per line with the same fields)';
const EXPECTED_TEXT = 'a text file of ratings or items (extract archives first)';

const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

/** Files that come with the supported datasets but carry nothing the lab uses. */
const COMPANION_FILES: Record<string, [FormatId, string]> = {
  'u.user': ['movielens-100k', 'MovieLens-100K users'],
  'u.genre': ['movielens-100k', 'MovieLens-100K genre list'],
  'u.info': ['movielens-100k', 'MovieLens-100K summary'],
  'u.occupation': ['movielens-100k', 'MovieLens-100K occupations'],
  'users.dat': ['movielens-1m', 'MovieLens-1M users'],
  'bx-users.csv': ['bookcrossing', 'BookCrossing users'],
};

/** Usual names of each column in CSV/TSV/JSON Lines files, compared lower-case without punctuation. */
const COLUMN_SYNONYMS: Record<ColumnKey, readonly string[]> = {
  user: ['user', 'userid', 'uid', 'customer', 'customerid', 'reviewerid', 'visitorid', 'memberid', 'accountid'],
  item: ['item', 'itemid', 'iid', 'movie', 'movieid', 'product', 'productid', 'asin', 'isbn', 'book', 'bookid', 'articleid', 'songid', 'trackid'],
  rating: ['rating', 'score', 'stars', 'bookrating', 'overall', 'rate'],
  label: ['label', 'click', 'clicked', 'target', 'liked'],
  timestamp: ['timestamp', 'time', 'ts', 'date', 'datetime', 'unixtime', 'unixreviewtime', 'eventtime', 'createdat'],
  title: ['title', 'name', 'itemname', 'movietitle', 'booktitle', 'producttitle'],
  genres: ['genres', 'genre', 'category', 'categories', 'tags'],
};

const normalizeName = (name: string) => name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
const isInteger = (text: string) => /^\s*-?\d+\s*$/.test(text);
const isNumber = (text: string) => /^\s*-?\d+(\.\d+)?\s*$/.test(text);
/** Any number a data row may hold, exponents included. */
const isNumeric = (text: string) => /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(text);

/** The column a CSV/JSON name would be read as (by the mapping or by its usual names), or undefined. */
export function columnOfName(name: string, mapping: ColumnMapping): ColumnKey | undefined {
  const normalized = normalizeName(name);
  return COLUMN_KEYS.find((key) => {
    const mapped = mapping[key];
    return (mapped !== undefined && normalizeName(mapped) === normalized) || COLUMN_SYNONYMS[key].includes(normalized);
  });
}

/** Why a tab-separated row of numbers is not MovieLens-100K's u.data, for the message. */
function uDataHint(fields: string[]): string {
  if (fields.length !== 4) return ` (MovieLens-100K u.data has 4 fields, user⇥item⇥rating⇥timestamp: this line has ${fields.length})`;
  const written = fields.find((field) => !isNumber(field));
  return written === undefined ? '' : ` (u.data holds plain numbers: "${written.trim()}" is written with an exponent or a sign)`;
}

export async function detectFile(file: NamedBlob, options: DetectOptions): Promise<DetectedFile> {
  if (file.size === 0) throw new DataError('the file is empty (0 bytes)', EXPECTED_FORMATS, file.name);
  const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
  // Without a UTF-8 byte order mark, as decodeChunks reads the file whatever its encoding.
  const bytes = head.subarray(utf8BomLength(head));
  const binary = binaryProblem(bytes);
  if (binary) throw new DataError(`this looks like ${binary.what}, not text`, EXPECTED_TEXT, file.name, binary.line);
  const complete = file.size <= SNIFF_BYTES;
  const sampleEncoding = encodingOfBytes(bytes, complete);
  // A chosen encoding splits the lines and fields, as the parser will: a Shift_JIS character may hold a "|" byte.
  // ASCII reads the same in every encoding.
  const sniffText = decodeText(new TextDecoder(options.encoding ?? sampleEncoding ?? 'utf-8'), bytes);
  const lines = completeLines(sniffText, complete);
  const firstIndex = lines.findIndex((line) => line.trim() !== '');
  if (firstIndex === -1) {
    // Text, but the first non-blank line does not end within the sample: a huge line, not a records file.
    if (sniffText.trim() !== '') {
      throw new DataError(`a line runs past the first ${SNIFF_BYTES} bytes without a line break`, 'one record per line', file.name, lines.length + 1);
    }
    const what = complete ? 'the file holds' : `the first ${SNIFF_BYTES} bytes hold`;
    throw new DataError(`${what} only blank lines`, EXPECTED_FORMATS, file.name);
  }
  const firstLine = firstIndex + 1;
  // Own keys only: a file named "constructor" or "__proto__" is no companion.
  const lowerName = file.name.toLowerCase();
  const companion = Object.hasOwn(COMPANION_FILES, lowerName) ? COMPANION_FILES[lowerName] : undefined;
  // Excel writes "sep=;" above the header to name the delimiter.
  const excelSeparator = /^sep=(.)$/i.exec(lines[firstIndex].trim())?.[1] ?? null;
  const headerIndex = excelSeparator === null ? firstIndex : lines.findIndex((line, i) => i > firstIndex && line.trim() !== '');
  if (headerIndex === -1) throw new DataError(`only a "${lines[firstIndex].trim()}" line`, EXPECTED_FORMATS, file.name, firstLine);
  const detected =
    (companion ? unusedLayout(...companion) : null) ??
    (excelSeparator === null ? fixedLayout(lines[firstIndex], file.name, firstLine) : null) ??
    headerLayout(lines.slice(headerIndex).join('\n'), file.name, headerIndex + 1, options.columns, excelSeparator);
  const layout: FileLayout = { ...detected, preambleRows: excelSeparator === null ? 0 : 1 };
  // A format documented as cp1252 (MovieLens .dat, BookCrossing) may come re-saved as UTF-8 (MovieLens-10M ships so):
  // the bytes decide, the format's encoding is only the guess for an all-ASCII start.
  const detectedEncoding: TextEncoding =
    sampleEncoding !== null ? { name: sampleEncoding, basis: 'sample' } : { name: layout.usualEncoding, basis: 'ascii' };
  const encoding: TextEncoding = options.encoding !== null ? { name: options.encoding, basis: 'chosen' } : detectedEncoding;
  const sample = await sampleRows(lines.join('\n'), layout);
  return { ...layout, name: file.name, size: file.size, encoding, detectedEncoding, sample };
}

/** Why the bytes are not a text file, and from which line, or null. */
function binaryProblem(bytes: Uint8Array): { what: string; line: number } | null {
  const atStart = (what: string) => ({ what, line: 1 });
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return atStart('a zip archive');
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return atStart('a gzip archive');
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return atStart('UTF-16 text (save it as UTF-8)');
  }
  // UTF-16 without a byte order mark: ASCII text with a NUL byte beside every character, on one side.
  let evenNuls = 0;
  let oddNuls = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (i % 2 === 0) evenNuls++;
    else oddNuls++;
  }
  const half = bytes.length / 2;
  if (Math.max(evenNuls, oddNuls) > 0.8 * half && Math.min(evenNuls, oddNuls) < 0.05 * half) {
    return atStart(`UTF-16${oddNuls > evenNuls ? 'LE' : 'BE'} text without a byte order mark (save it as UTF-8)`);
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) return { what: 'binary data (it contains NUL bytes)', line: 1 + lineEndsIn(bytes.subarray(0, nul)) };
  let control = 0;
  for (const byte of bytes) if (byte < 0x09 || (byte > 0x0d && byte < 0x20)) control++;
  return control > bytes.length / 100 ? atStart(`binary data (${control} control bytes in the first ${bytes.length})`) : null;
}

/** The lines of a sample, without a last line the sample may have cut short. */
function completeLines(text: string, complete: boolean): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (!complete) lines.pop();
  return lines;
}

function unusedLayout(format: FormatId, what: string): FileLayout {
  return {
    format,
    role: 'unused',
    description: `${what} (not used)`,
    usualEncoding: 'utf-8',
    syntax: { kind: 'delimited', delimiter: ',', quoted: true },
    hasHeader: false,
    preambleRows: 0,
    columnNames: [],
    columns: {},
    genreFlags: null,
  };
}

/** MovieLens layouts, recognised from the first line (they have no header). */
function fixedLayout(line: string, fileName: string, lineNumber: number): FileLayout | null {
  const base = { usualEncoding: 'windows-1252' as const, hasHeader: false, preambleRows: 0, genreFlags: null };
  const doubleColon = line.split('::');
  if (doubleColon.length === 4 && doubleColon.every(isNumber)) {
    return {
      ...base,
      format: 'movielens-1m',
      role: 'ratings',
      description: 'MovieLens-1M ratings (user::item::rating::timestamp)',
      syntax: { kind: 'delimited', delimiter: '::', quoted: false },
      columnNames: ['user', 'item', 'rating', 'timestamp'],
      columns: { user: 0, item: 1, rating: 2, timestamp: 3 },
    };
  }
  // users.dat: user::gender::age::occupation::zip.
  if (doubleColon.length === 5 && isInteger(doubleColon[0]) && /^[MF]$/i.test(doubleColon[1].trim()) && isInteger(doubleColon[2])) {
    return unusedLayout('movielens-1m', 'MovieLens-1M users');
  }
  // Numbers where movies.dat has its title and genres: a ratings.dat line with fields added.
  if (doubleColon.length > 4 && doubleColon.slice(0, 4).every(isNumber)) {
    throw new DataError(
      `unrecognised layout: "${line.trim().slice(0, 80)}" (MovieLens-1M ratings.dat has 4 fields, user::item::rating::timestamp: this line has ${doubleColon.length})`,
      EXPECTED_FORMATS,
      fileName,
      lineNumber,
    );
  }
  // movies.dat: item::title::genres, where a title may itself hold "::" (the id is the first field, the genres the last).
  if (doubleColon.length >= 3 && isInteger(doubleColon[0])) {
    return {
      ...base,
      format: 'movielens-1m',
      role: 'items',
      description: 'MovieLens-1M movies (item::title::genre|genre)',
      syntax: { kind: 'delimited', delimiter: '::', quoted: false },
      columnNames: ['item', 'title', 'genres'],
      columns: { item: 0, title: 1, genres: 2 },
    };
  }
  const tabs = line.split('\t');
  if (tabs.length === 4 && tabs.every(isNumber)) {
    return {
      ...base,
      format: 'movielens-100k',
      role: 'ratings',
      description: 'MovieLens-100K ratings (user⇥item⇥rating⇥timestamp)',
      syntax: { kind: 'delimited', delimiter: '\t', quoted: false },
      columnNames: ['user', 'item', 'rating', 'timestamp'],
      columns: { user: 0, item: 1, rating: 2, timestamp: 3 },
    };
  }
  const bars = line.split('|');
  if (bars.length === 5 + ML100K_GENRES.length && isInteger(bars[0])) {
    return {
      ...base,
      format: 'movielens-100k',
      role: 'items',
      description: 'MovieLens-100K items (item|title|release|video release|IMDb URL|19 genre flags)',
      syntax: { kind: 'delimited', delimiter: '|', quoted: false },
      columnNames: ['item', 'title', 'release date', 'video release date', 'IMDb URL', ...ML100K_GENRES],
      columns: { item: 0, title: 1 },
      genreFlags: { start: 5, names: ML100K_GENRES },
    };
  }
  return null;
}

/** Layouts with a header row: BookCrossing, generic CSV/TSV, JSON Lines (whose keys act as the header). */
function headerLayout(
  text: string,
  fileName: string,
  firstLine: number,
  mapping: ColumnMapping,
  excelSeparator: string | null,
): FileLayout {
  const firstText = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n')).trim();
  if (firstText.startsWith('[')) {
    throw new DataError('this is a JSON array', 'JSON Lines: one JSON object per line, no enclosing [ ]', fileName, firstLine);
  }
  if (firstText.startsWith('{')) {
    const keys = jsonKeys(text, fileName, firstLine);
    return genericLayout('jsonl', 'JSON Lines', { kind: 'jsonl', keys, idKeys: [] }, keys, false, mapping, fileName, firstLine);
  }
  const guess = guessDelimiter(text, excelSeparator);
  if (!guess) throw new DataError(`unrecognised layout: "${firstText.slice(0, 80)}"`, EXPECTED_FORMATS, fileName, firstLine);
  const { delimiter } = guess;
  const header = guess.header.map((name) => name.trim());
  if (header.every((name) => isNumeric(name) || name === '')) {
    throw new DataError(
      `unrecognised layout: "${firstText.slice(0, 80)}" is data, not a header row${delimiter === '\t' ? uDataHint(header) : ''}`,
      EXPECTED_FORMATS,
      fileName,
      firstLine,
    );
  }
  const syntax: RowSyntax = { kind: 'delimited', delimiter, quoted: true };
  const normalized = header.map(normalizeName).join(',');
  if (delimiter === ';' && normalized === 'userid,isbn,bookrating') {
    return bookCrossingLayout('ratings', 'BookCrossing ratings ("User-ID";"ISBN";"Book-Rating", 0–10)', header, { user: 0, item: 1, rating: 2 });
  }
  if (delimiter === ';' && normalized.startsWith('isbn,booktitle,bookauthor')) {
    return bookCrossingLayout('items', 'BookCrossing books ("ISBN";"Book-Title";"Book-Author";…)', header, { item: 0, title: 1 });
  }
  if (delimiter === ';' && normalized === 'userid,location,age') return unusedLayout('bookcrossing', 'BookCrossing users');
  const kind = delimiter === '\t' ? 'TSV' : `CSV (delimiter "${delimiter}")`;
  return genericLayout('csv', kind, syntax, header, true, mapping, fileName, firstLine);
}

/**
 * The delimiter that splits the header into 2 or more columns and whose column count most of the following rows share
 * (ties: the first in [',', '\t', ';', '|']; only the one Excel's "sep=" line names, when there is one). Anchored on
 * the header, so a bad row or genres written a|b|c cannot outvote the real delimiter (papaparse's own guess sums count
 * changes, which one bad row among blank lines can flip).
 */
function guessDelimiter(text: string, named: string | null): { delimiter: string; header: string[] } | null {
  let best: { delimiter: string; header: string[] } | null = null;
  let bestScore = -1;
  for (const delimiter of named === null ? [',', '\t', ';', '|'] : [named]) {
    const rows = Papa.parse<string[]>(text, { delimiter, preview: 20, skipEmptyLines: 'greedy' }).data;
    if (rows.length === 0 || rows[0].length < 2) continue;
    const score = rows.slice(1).filter((row) => row.length === rows[0].length).length;
    if (score > bestScore) {
      best = { delimiter, header: rows[0] };
      bestScore = score;
    }
  }
  return best;
}

function bookCrossingLayout(
  role: FileRole,
  description: string,
  header: string[],
  columns: FileLayout['columns'],
): FileLayout {
  return {
    format: 'bookcrossing',
    role,
    description,
    usualEncoding: 'windows-1252',
    syntax: { kind: 'delimited', delimiter: ';', quoted: true },
    hasHeader: true,
    preambleRows: 0,
    columnNames: header,
    columns,
    genreFlags: null,
  };
}

/** The keys of every JSON Lines record of the sample (in first-seen order). */
function jsonKeys(text: string, fileName: string, firstLine: number): string[] {
  const keys = new Set<string>();
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  for (const [index, line] of lines.entries()) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      if (index === 0) {
        throw new DataError(`not valid JSON (${(error as Error).message})`, 'JSON Lines: one JSON object per line', fileName, firstLine);
      }
      continue;
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) for (const key of Object.keys(value)) keys.add(key);
  }
  return [...keys];
}

/** CSV/TSV/JSON Lines: columns found by the mapping first, then by their usual names. */
function genericLayout(
  format: 'csv' | 'jsonl',
  kind: string,
  syntax: RowSyntax,
  names: string[],
  hasHeader: boolean,
  mapping: ColumnMapping,
  fileName: string,
  firstLine: number,
): FileLayout {
  const normalized = names.map(normalizeName);
  const columns: FileLayout['columns'] = {};
  for (const key of COLUMN_KEYS) {
    const mapped = mapping[key];
    const byMapping = mapped === undefined ? -1 : normalized.indexOf(normalizeName(mapped));
    // Synonyms in their listed order: an exact "item" column wins over a "product" column further left.
    const bySynonym = COLUMN_SYNONYMS[key].map((synonym) => normalized.indexOf(synonym)).find((index) => index !== -1) ?? -1;
    const index = byMapping !== -1 ? byMapping : bySynonym;
    if (index !== -1) columns[key] = index;
  }
  for (const [key, index] of Object.entries(columns)) {
    const same = normalized.flatMap((name, i) => (name === normalized[index] ? [i + 1] : []));
    if (same.length > 1) {
      throw new DataError(
        `the ${key} column "${names[index]}" is not the only column of that name (columns ${same.join(', ')}: ${listExcerpt(same.map((i) => names[i - 1]))})`,
        'one column per name in the header: rename the others (the lab cannot tell which one is meant)',
        fileName,
        firstLine,
      );
    }
  }
  const has = (key: ColumnKey) => columns[key] !== undefined;
  const ids = (['user', 'item'] as const).filter(has).map((key) => names[columns[key]!]);
  const base = {
    format,
    syntax: syntax.kind === 'jsonl' ? { ...syntax, idKeys: ids } : syntax,
    hasHeader,
    preambleRows: 0,
    columnNames: names,
    columns,
    usualEncoding: 'utf-8' as const,
    genreFlags: null,
  };
  if (has('user') && has('item') && (has('rating') || has('label'))) {
    const fields = COLUMN_KEYS.filter(has).join(', ');
    return { ...base, role: 'ratings', description: `${kind} ratings (${fields})` };
  }
  if (has('item') && !has('user') && (has('title') || has('genres'))) {
    const fields = COLUMN_KEYS.filter(has).join(', ');
    return { ...base, role: 'items', description: `${kind} items (${fields})` };
  }
  const found: ColumnMapping = {};
  for (const key of COLUMN_KEYS) if (has(key)) found[key] = names[columns[key]!];
  const missing = (['user', 'item'] as const).filter((key) => !has(key)).map((key) => `no ${key} column`);
  if (!has('rating') && !has('label')) missing.push('no rating (or label) column');
  throw new MissingColumnsError(
    `the ${hasHeader ? 'header has' : 'records have'} ${missing.join(', ')} (columns: ${listExcerpt(names)})`,
    `columns named like ${COLUMN_KEYS.map((key) => `${key} (${COLUMN_SYNONYMS[key].slice(0, 3).join('/')})`).join(', ')} — or a column mapping that names them (the page offers one after a failed upload; npm run experiment takes --columns)`,
    fileName,
    firstLine,
    names,
    found,
  );
}

/** The first rows of the sample, split exactly as the parser will split them. */
/** Rows at the top of a file that are not data: Excel's "sep=" line, the header. */
export function rowsBeforeData(layout: FileLayout): number {
  return layout.preambleRows + (layout.hasHeader ? 1 : 0);
}

async function sampleRows(text: string, layout: FileLayout): Promise<string[][]> {
  if (layout.role === 'unused') return [];
  const rows: string[][] = [];
  const notData = rowsBeforeData(layout);
  async function* single() {
    yield text;
  }
  await streamRows(single(), '', layout.syntax, {
    row: (fields) => {
      if (rows.length < notData + SAMPLE_ROWS) rows.push(fields);
    },
    bad: () => {},
  });
  return rows.slice(notData);
}
