/**
 * Hostile and malformed files (robustness issue): property-based fuzzing of parseFiles and previewFiles.
 *
 * Valid fixtures of every supported format (test-fixtures.ts) are mutated: truncation, random and invalid bytes,
 * separator swaps, empty lines, duplicated headers, mixed encodings, BOMs, line ends, extreme values, hostile column
 * and file names, multi-file drops with one corrupted file, huge lines (5–20 MB), long fields (up to 10^6 characters)
 * and very many columns (up to 1,000,001). Every outcome must be a dataset whose invariants hold, or a DataError naming
 * the file (and a line, when the problem is row-level), within a measured time budget; previews must agree; reading in
 * tiny slices must give the same outcome as reading in 1 MiB slices; one bad row must be reported on its exact line.
 *
 * FUZZ_SEED=n changes the (fixed) seed; FUZZ_SCALE=k multiplies the runs (a longer hunt than CI's);
 * FUZZ_REPORT=path also writes the case counts as JSON.
 */
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SPLIT_TEST } from '../prompt/types';
import { DataError, DEFAULT_LOAD_OPTIONS, type FilePreview, type LoadOptions, type LoadResult, parseFiles, previewFiles } from './index';
import { bookCrossing, csvFiles, fixtureWorld, jsonLines, movieLens100k, movieLens1m } from './test-fixtures';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_240_611;
const SCALE = process.env.FUZZ_SCALE ? Number(process.env.FUZZ_SCALE) : 1;
/** Runs per format of the small-mutation property (6 formats, each run parses twice and previews once). */
const MUTATION_RUNS = Math.round(150 * SCALE);
const HUGE_LINE_RUNS = Math.round(6 * SCALE);
const MANY_COLUMN_RUNS = Math.round(10 * SCALE);
const LONG_FIELD_RUNS = Math.round(30 * SCALE);
const BLANK_LINE_RUNS = Math.round(4 * SCALE);
const EXACT_LINE_RUNS = Math.round(120 * SCALE);
/**
 * Time budgets per call. Measured on a 2-core machine: a fixture-sized parse takes 1–5 ms, up to 0.8 s when read in
 * 1-byte slices (JSON Lines: 15,000 slices); a 5–20 MB line, a 10^6-character field or a 1,000,001-column row at most
 * 0.6 s (the record limit stops a huge line after 1–2 MiB). The budgets leave 6x or more for a slow shared CI machine.
 */
const SMALL_BUDGET_MS = 5_000;
const BIG_BUDGET_MS = 15_000;

// ---------------------------------------------------------------------------------------------------------------
// Fixtures, as "binary strings" (one char per byte), so byte-level and ASCII-level edits are the same operation.

type FormatName = 'movielens-100k' | 'movielens-1m' | 'bookcrossing' | 'csv' | 'tsv' | 'jsonl';
type Encoding = 'utf-8' | 'windows-1252';

interface FixtureFile {
  name: string;
  text: string;
  encoding: Encoding;
  /** Field separator; null for JSON Lines. */
  separator: string | null;
}

const toBinary = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

function fromBinary(text: string): Uint8Array<ArrayBuffer> {
  const buffer = Buffer.from(text, 'latin1');
  const bytes = new Uint8Array(buffer.length);
  bytes.set(buffer);
  return bytes;
}

/** Windows-1252's characters for bytes 0x80–0x9F. */
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';

/** Text to bytes of the given encoding, as a binary string (cp1252: characters it lacks become '?'). */
function encode(text: string, encoding: Encoding): string {
  if (encoding === 'utf-8') return toBinary(new TextEncoder().encode(text));
  return Array.from(text, (char) => {
    const byte = CP1252_HIGH.indexOf(char);
    if (byte !== -1) return String.fromCharCode(0x80 + byte);
    return char.charCodeAt(0) < 0x100 ? char : '?';
  }).join('');
}
const decode = (binary: string, encoding: Encoding) => new TextDecoder(encoding).decode(fromBinary(binary));

async function fixtureFile(file: File, encoding: Encoding, separator: string | null): Promise<FixtureFile> {
  return { name: file.name, text: toBinary(new Uint8Array(await file.arrayBuffer())), encoding, separator };
}

const world = fixtureWorld();
const ml100k = movieLens100k(world);
const ml1m = movieLens1m(world);
const bx = bookCrossing(world);
const csv = csvFiles(world);
const tsv = csvFiles(world, '\t');
/** Ratings file first, then its items file. */
const FIXTURES: Record<FormatName, FixtureFile[]> = {
  'movielens-100k': [await fixtureFile(ml100k.data, 'utf-8', '\t'), await fixtureFile(ml100k.item, 'windows-1252', '|')],
  'movielens-1m': [await fixtureFile(ml1m.ratings, 'utf-8', '::'), await fixtureFile(ml1m.movies, 'windows-1252', '::')],
  bookcrossing: [await fixtureFile(bx.ratings, 'windows-1252', ';'), await fixtureFile(bx.books, 'windows-1252', ';')],
  csv: [await fixtureFile(csv.ratings, 'utf-8', ','), await fixtureFile(csv.movies, 'utf-8', ',')],
  tsv: [await fixtureFile(tsv.ratings, 'utf-8', '\t'), await fixtureFile(tsv.movies, 'utf-8', '\t')],
  jsonl: [await fixtureFile(jsonLines(world), 'utf-8', null)],
};
const FORMATS = Object.keys(FIXTURES) as FormatName[];

// ---------------------------------------------------------------------------------------------------------------
// Mutations: each one a labelled edit of a binary string, so a failing case prints what was done.

interface Mutation {
  label: string;
  apply(text: string, file: FixtureFile): string;
}

function mutation(label: string, apply: Mutation['apply']): Mutation {
  return { label, apply, [fc.toStringMethod]: () => label } as Mutation;
}

/** Lines with their terminators (joining them gives the text back). */
const linesOf = (text: string): string[] => text.match(/[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$/g) ?? [];
const splitEnd = (line: string): [string, string] => {
  const end = /(?:\r\n|\n|\r)$/.exec(line)?.[0] ?? '';
  return [line.slice(0, line.length - end.length), end];
};
/** Position in [0, length] from a fraction in [0, 1]. */
const at = (fraction: number, length: number) => Math.min(length, Math.floor(fraction * (length + 1)));
const fraction = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 10_000);
const SEPARATORS = ['\t', ',', ';', '::', '|'];
const show = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…(${text.length})` : text);

/** Byte sequences that break decoders and parsers: NUL, C1 (0x80–0x9F), invalid or overlong UTF-8, quotes, breaks. */
const hostileBytes = fc.oneof(
  fc.constantFrom(
    [0x00],
    [0xc3],
    [0xff],
    [0xfe, 0xff],
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xe2, 0x80, 0xa8],
    [0xc2, 0x85],
    [0x22],
    [0x0d],
    [0x0a],
    [0x7b],
    [0x5b],
  ),
  fc.array(fc.integer({ min: 0x80, max: 0x9f }), { minLength: 1, maxLength: 6 }),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }),
).map((bytes) => String.fromCharCode(...bytes));

const truncate = fraction.map((f) => mutation(`truncate at ${f}`, (text) => text.slice(0, at(f, text.length))));

const insertBytes = fc
  .tuple(fraction, hostileBytes)
  .map(([f, bytes]) => mutation(`insert ${show(bytes)} at ${f}`, (text) => {
    const i = at(f, text.length);
    return text.slice(0, i) + bytes + text.slice(i);
  }));

const replaceBytes = fc
  .tuple(fraction, hostileBytes)
  .map(([f, bytes]) => mutation(`overwrite with ${show(bytes)} at ${f}`, (text) => {
    const i = at(f, text.length);
    return text.slice(0, i) + bytes + text.slice(i + bytes.length);
  }));

const deleteBytes = fc
  .tuple(fraction, fc.integer({ min: 1, max: 300 }))
  .map(([f, count]) => mutation(`delete ${count} bytes at ${f}`, (text) => {
    const i = at(f, text.length);
    return text.slice(0, i) + text.slice(i + count);
  }));

const swapSeparators = fc
  .tuple(fc.constantFrom(...SEPARATORS, '"', ':'), fc.constantFrom(...SEPARATORS, ' ', ''), fc.option(fraction))
  .map(([from, to, line]) =>
    mutation(`replace ${show(from)} with ${show(to)} ${line === null ? 'everywhere' : `on line at ${line}`}`, (text) => {
      if (line === null) return text.split(from).join(to);
      const lines = linesOf(text);
      const i = Math.min(lines.length - 1, at(line, lines.length));
      if (i >= 0) lines[i] = lines[i].split(from).join(to);
      return lines.join('');
    }),
  );

/** Inserts copies of `line(lines)` before the lines at the given fractions. */
function insertLines(text: string, fractions: number[], line: (lines: string[]) => string): string {
  const lines = linesOf(text);
  const copy = line(lines);
  const positions = fractions.map((f) => at(f, lines.length)).sort((a, b) => b - a);
  for (const i of positions) lines.splice(i, 0, copy);
  return lines.join('');
}

const emptyLines = fc
  .tuple(fc.array(fraction, { minLength: 1, maxLength: 6 }), fc.constantFrom('\n', '\r\n', '\r', '   \t\n', '\n\n\n'))
  .map(([fractions, blank]) => mutation(`empty line ${show(blank)} at ${fractions.join(', ')}`, (text) => insertLines(text, fractions, () => blank)));

const duplicateHeader = fc
  .array(fraction, { minLength: 1, maxLength: 3 })
  .map((fractions) =>
    mutation(`first line again at ${fractions.join(', ')}`, (text) =>
      insertLines(text, fractions, (lines) => {
        const first = lines[0] ?? '';
        return /[\r\n]$/.test(first) ? first : `${first}\n`;
      }),
    ),
  );

const duplicateLine = fc
  .tuple(fraction, fc.integer({ min: 1, max: 20 }))
  .map(([f, times]) =>
    mutation(`line at ${f} repeated ${times} times`, (text) => {
      const lines = linesOf(text);
      const i = Math.min(lines.length - 1, at(f, lines.length));
      if (i < 0) return text;
      const line = /[\r\n]$/.test(lines[i]) ? lines[i] : `${lines[i]}\n`;
      lines.splice(i, 0, ...Array<string>(times).fill(line));
      return lines.join('');
    }),
  );

const NON_ASCII = ['é', 'Ü', 'ß', 'ñ', '’', '“Noir”', '€', 'Straße', 'Ω', '日本', '😀'];
/** A non-ASCII word in UTF-8 or cp1252 inside a line: two encodings in one file. */
const mixedEncoding = fc
  .tuple(fraction, fraction, fc.constantFrom(...NON_ASCII), fc.constantFrom<Encoding>('utf-8', 'windows-1252'))
  .map(([lineAt, within, word, encoding]) =>
    mutation(`${word} in ${encoding} on line at ${lineAt}, ${within}`, (text) => {
      const lines = linesOf(text);
      const i = Math.min(lines.length - 1, at(lineAt, lines.length));
      if (i < 0) return text;
      const [content, end] = splitEnd(lines[i]);
      const j = at(within, content.length);
      lines[i] = content.slice(0, j) + encode(word, encoding) + content.slice(j) + end;
      return lines.join('');
    }),
  );

/** One line re-encoded from the file's encoding to the other one. */
const reencodeLine = fraction.map((lineAt) =>
  mutation(`line at ${lineAt} re-encoded`, (text, file) => {
    const lines = linesOf(text);
    const i = Math.min(lines.length - 1, at(lineAt, lines.length));
    if (i < 0) return text;
    lines[i] = encode(decode(lines[i], file.encoding), file.encoding === 'utf-8' ? 'windows-1252' : 'utf-8');
    return lines.join('');
  }),
);

const BOMS = { 'UTF-8': '\xef\xbb\xbf', 'UTF-16LE': '\xff\xfe', 'UTF-16BE': '\xfe\xff' };
const bom = fc
  .tuple(fc.constantFrom(...(Object.keys(BOMS) as (keyof typeof BOMS)[])), fc.option(fraction))
  .map(([kind, lineAt]) =>
    mutation(`${kind} BOM ${lineAt === null ? 'at the start' : `before line at ${lineAt}`}`, (text) =>
      lineAt === null ? BOMS[kind] + text : insertLines(text, [lineAt], () => BOMS[kind]),
    ),
  );

const lineEnds = fc
  .tuple(fc.constantFrom('\n', '\r\n', '\r', 'mixed'), fc.array(fc.constantFrom('\n', '\r\n', '\r'), { minLength: 1, maxLength: 7 }))
  .map(([end, cycle]) =>
    mutation(`line ends ${end === 'mixed' ? `cycling ${show(cycle.join(''))}` : show(end)}`, (text) => {
      let n = 0;
      return text.replace(/\r\n|\n|\r/g, () => (end === 'mixed' ? cycle[n++ % cycle.length] : end));
    }),
  );

const EXTREME_VALUES = [
  '', ' ', '-0', '0', '-1', '1e39', '-1e39', '3.5e38', '1e309', '1e-320', 'NaN', 'Infinity', '-Infinity', '0x10', '9'.repeat(400), '4.5',
  '"', '""', '"a""b"', '"unclosed', 'null', 'true', '[]', '{}', '{"a":[1,{"b":2}]}', '\\u0000', '2038-01-19T03:14:08Z', '-99999999999999',
];
/** One field (or JSON value) replaced by an extreme or malformed value. */
const extremeValue = fc
  .tuple(fraction, fc.integer({ min: 0, max: 8 }), fc.constantFrom(...EXTREME_VALUES))
  .map(([lineAt, field, value]) =>
    mutation(`field ${field} of line at ${lineAt} = ${show(value)}`, (text, file) => {
      const lines = linesOf(text);
      const i = Math.min(lines.length - 1, at(lineAt, lines.length));
      if (i < 0) return text;
      const [content, end] = splitEnd(lines[i]);
      lines[i] = replaceField(content, file.separator, field, value) + end;
      return lines.join('');
    }),
  );

function replaceField(content: string, separator: string | null, field: number, value: string): string {
  if (separator === null) {
    let n = 0;
    const count = (content.match(/"(?:[^"\\]|\\.)*"\s*:\s*/g) ?? []).length;
    return content.replace(/("(?:[^"\\]|\\.)*"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]]*)/g, (match, key: string) =>
      n++ === field % Math.max(1, count) ? key + value : match,
    );
  }
  const fields = content.split(separator);
  fields[field % fields.length] = value;
  return fields.join(separator);
}

const HOSTILE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', ' ', 'user', 'item', 'rating', 'label', 'title', 'ÿ', 'x'.repeat(300)];
/** A header column (or JSON key) of the first line renamed: prototype names, empty, duplicates of other columns. */
const renameColumn = fc
  .tuple(fc.integer({ min: 0, max: 10 }), fc.constantFrom(...HOSTILE_NAMES))
  .map(([field, name]) =>
    mutation(`column ${field} renamed ${show(name)}`, (text, file) => {
      const lines = linesOf(text);
      if (lines.length === 0) return text;
      const [content, end] = splitEnd(lines[0]);
      if (file.separator === null) {
        let n = 0;
        const keys = (content.match(/"(?:[^"\\]|\\.)*"\s*:/g) ?? []).length;
        lines[0] = content.replace(/"(?:[^"\\]|\\.)*"(\s*:)/g, (match, colon: string) =>
          n++ === field % Math.max(1, keys) ? JSON.stringify(name) + colon : match,
        ) + end;
      } else {
        const quoted = content.startsWith('"');
        lines[0] = replaceField(content, file.separator, field, quoted ? `"${name}"` : name) + end;
      }
      return lines.join('');
    }),
  );

const smallMutation: fc.Arbitrary<Mutation> = fc.oneof(
  truncate,
  insertBytes,
  replaceBytes,
  deleteBytes,
  swapSeparators,
  emptyLines,
  duplicateHeader,
  duplicateLine,
  mixedEncoding,
  reencodeLine,
  bom,
  lineEnds,
  extremeValue,
  renameColumn,
);

// ---------------------------------------------------------------------------------------------------------------
// Cases: which files of a format are dropped, one of them mutated, with which options.

/** Every name but '' (a message cannot name a file without a name; browsers never give one). */
const FILE_NAMES = [...HOSTILE_NAMES.filter((name) => name !== ''), 'u.data', 'u.item', 'u1.base', 'U.USER', 'users.dat', 'bx-users.csv', 'a: line 3: b', 'new\nline.csv', '日本.csv'];

interface Case {
  format: FormatName;
  /** Index of the mutated file in the format's fixture. */
  target: number;
  mutations: Mutation[];
  /** Drop the mutated file alone (no companion). */
  alone: boolean;
  /** Items file before ratings file. */
  reversed: boolean;
  /** A new name for the mutated file. */
  rename: string | null;
  options: Partial<LoadOptions>;
}

const optionsArb: fc.Arbitrary<Partial<LoadOptions>> = fc.record({
  n: fc.constantFrom(1, 3, 10),
  chunkBytes: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(4096)),
  encoding: fc.constantFrom(null, null, null, 'utf-8', 'windows-1252'),
  split: fc.constantFrom(
    DEFAULT_LOAD_OPTIONS.split,
    { kind: 'per-user', valid: 0, test: 0.2 },
    { kind: 'global-time', valid: 0.1, test: 0.1 },
  ),
});

function caseArb(format: FormatName): fc.Arbitrary<Case> {
  return fc.record({
    format: fc.constant(format),
    target: fc.nat({ max: FIXTURES[format].length - 1 }),
    mutations: fc.array(smallMutation, { minLength: 1, maxLength: 4 }),
    alone: fc.boolean(),
    reversed: fc.boolean(),
    rename: fc.option(fc.constantFrom(...FILE_NAMES), { freq: 10 }),
    options: optionsArb,
  });
}

/** The files a case drops. */
function caseFiles({ format, target, mutations, alone, reversed, rename }: Case): File[] {
  const files = FIXTURES[format].flatMap((fixture, i) => {
    if (i !== target) return alone ? [] : [new File([fromBinary(fixture.text)], fixture.name)];
    const text = mutations.reduce((current, m) => m.apply(current, fixture), fixture.text);
    return [new File([fromBinary(text)], rename ?? fixture.name)];
  });
  return reversed ? files.reverse() : files;
}

const describeCase = (c: Case) =>
  `${c.format}: file ${c.target} (${FIXTURES[c.format][c.target].name}${c.rename === null ? '' : ` renamed ${show(c.rename)}`}) ` +
  `mutated by [${c.mutations.map((m) => m.label).join('; ')}]${c.alone ? ', dropped alone' : ''}${c.reversed ? ', reversed' : ''}, ` +
  `options ${JSON.stringify(c.options)}`;

// ---------------------------------------------------------------------------------------------------------------
// The contract.

/** Problems that concern a whole file or drop, not a row: they need no line number. */
const FILE_LEVEL =
  /^(the file is empty|the file holds only blank lines|the first \d+ bytes hold only blank lines|the file has no data rows|no ratings file among the files|several ratings files|no user has|[\s\S]* has no timestamps|the global time cut leaves no|the items of another dataset)/;

/** Loose upper bound of a file's line numbers: every line-break character counts. */
async function lineBound(file: File): Promise<number> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let breaks = 0;
  for (const byte of bytes) if (byte === 0x0a || byte === 0x0d) breaks++;
  return breaks + 1;
}

const SNIFF_BYTES = 64 * 1024;
/** A message a person can read: the file names, plus a bounded text (no field or header of any length quoted whole). */
const messageLimit = (files: File[]) => 1_500 + 2 * files.reduce((sum, f) => sum + f.name.length + 100, 0);
/** Only white space, after a UTF-8 byte order mark (which the reader skips). */
const isBlank = (bytes: Uint8Array) =>
  bytes.subarray(toBinary(bytes.subarray(0, 3)) === BOMS['UTF-8'] ? 3 : 0).every((byte) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d));

/** What is wrong with a rejection, or null when it is a DataError that names the file (and the line, for rows). */
async function errorProblem(error: unknown, files: File[]): Promise<string | null> {
  if (!(error instanceof DataError)) {
    return `not a DataError: ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error)}`;
  }
  const { file, line, problem, message } = error;
  const named = files.find((f) => f.name === file);
  if (message.length > messageLimit(files)) return `a message of ${message.length} characters: ${message.slice(0, 300)}…`;
  if (file !== null) {
    if (!named) return `names "${file}", which is not among the files: ${message}`;
    if (!message.startsWith(`${file}: `)) return `message does not start with the file name: ${message}`;
  } else if (!files.some((f) => message.includes(f.name))) {
    return `message names no file: ${message}`;
  }
  if (line !== null) {
    if (!named) return `a line without a file: ${message}`;
    const bound = await lineBound(named);
    if (!Number.isInteger(line) || line < 1 || line > bound) return `line ${line} is outside 1..${bound}: ${message}`;
    if (!message.startsWith(`${file}: line ${line}: `)) return `message does not give the line: ${message}`;
  } else if (!FILE_LEVEL.test(problem)) {
    return `row-level problem without a line number: ${message}`;
  }
  // The file-level wordings must be true.
  if (named && problem.startsWith('the file is empty') && named.size !== 0) return `"empty" but ${named.size} bytes: ${message}`;
  if (named && problem.endsWith('only blank lines')) {
    const whole = problem.startsWith('the file holds');
    if (whole !== named.size <= SNIFF_BYTES) return `"${problem}" for a file of ${named.size} bytes`;
    if (!isBlank(new Uint8Array(await named.slice(0, SNIFF_BYTES).arrayBuffer()))) return `"only blank lines" but it has text: ${message}`;
  }
  return null;
}

/** What is wrong with a parsed dataset, or null when its invariants hold. */
function resultProblem(result: LoadResult, files: File[], options: Partial<LoadOptions>): string | null {
  const { dataset, stats, skipped } = result;
  const n = options.n ?? DEFAULT_LOAD_OPTIONS.n;
  const vocabSize = dataset.vocab.tokens.length;
  const itemCount = dataset.itemTokens.length;
  if (dataset.users.length === 0) return 'no users';
  if (vocabSize > (options.vocabCap ?? DEFAULT_LOAD_OPTIONS.vocabCap)) return `vocabulary of ${vocabSize} tokens exceeds the cap`;
  if (new Set(dataset.vocab.tokens).size !== vocabSize) return 'duplicate tokens in the vocabulary';
  const badToken = dataset.vocab.tokens.find((token) => token === '' || /\s/.test(token));
  if (badToken !== undefined) return `token ${JSON.stringify(badToken)} is empty or holds whitespace`;
  if (dataset.itemTitles.length !== itemCount) return `${dataset.itemTitles.length} titles for ${itemCount} items`;
  for (const [item, tokens] of dataset.itemTokens.entries()) {
    if (tokens.length === 0) return `item ${item} has no tokens`;
    if (tokens.some((id) => !(id >= 0 && id < vocabSize))) return `item ${item} has a token id outside 0..${vocabSize - 1}: ${tokens}`;
  }
  for (const [u, user] of dataset.users.entries()) {
    const { items, labels, split } = user;
    const length = items.length;
    if (labels.length !== length || split.length !== length) return `user ${u}: arrays of different lengths`;
    if (length < n + 1) return `user ${u}: ${length} interactions, fewer than n + 1 = ${n + 1}`;
    for (let i = 0; i < length; i++) {
      if (!(items[i] >= 0 && items[i] < itemCount)) return `user ${u}: item index ${items[i]} outside 0..${itemCount - 1}`;
      if (labels[i] !== 0 && labels[i] !== 1) return `user ${u}: label ${labels[i]}`;
      if (split[i] > SPLIT_TEST) return `user ${u}: split code ${split[i]}`;
      if (i > 0 && split[i] < split[i - 1]) return `user ${u}: splits decrease along the history`;
    }
    if (options.split?.kind !== 'global-time' && split[length - 1] !== SPLIT_TEST) return `user ${u}: no test target`;
  }
  const interactions = dataset.users.reduce((sum, user) => sum + user.items.length, 0);
  if (stats.users !== dataset.users.length || stats.interactions !== interactions) return 'stats disagree with the dataset';
  const notFinite = nonFiniteNumber(stats, 'stats');
  if (notFinite) return `${notFinite} is not finite: ${JSON.stringify(stats.labelRule)}`;
  if (!(stats.positiveRate >= 0 && stats.positiveRate <= 1)) return `positive rate ${stats.positiveRate}`;
  if (skipped.count < skipped.examples.length) return 'more skipped examples than skipped rows';
  const names = new Set(files.map((f) => f.name));
  const stray = [...skipped.examples.map((row) => row.file), ...result.files.map((f) => f.name)].find((name) => !names.has(name));
  if (stray !== undefined) return `names a file that was not given: ${stray}`;
  if (skipped.examples.some((row) => !(Number.isInteger(row.line) && row.line >= 1))) return 'a skipped row without a valid line';
  const long = skipped.examples.find((row) => row.reason.length > messageLimit(files));
  if (long) return `a skipped-row reason of ${long.reason.length} characters: ${long.reason.slice(0, 300)}…`;
  return null;
}

function nonFiniteNumber(value: unknown, path: string): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : path;
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    const found = nonFiniteNumber(inner, `${path}.${key}`);
    if (found) return found;
  }
  return null;
}

/** What is wrong with the previews, or null: one per file, by name, each usable or with an error naming that file. */
async function previewProblem(previews: FilePreview[], files: File[]): Promise<string | null> {
  if (previews.length !== files.length) return `${previews.length} previews for ${files.length} files`;
  for (const [i, preview] of previews.entries()) {
    if (preview.name !== files[i].name) return `preview ${i} is of "${preview.name}", not "${files[i].name}"`;
    if (preview.error) {
      if (preview.error.file !== files[i].name) return `preview error of "${files[i].name}" names ${preview.error.file}: ${preview.error.message}`;
      const problem = await errorProblem(DataError.fromInfo(preview.error), [files[i]]);
      if (problem) return `preview: ${problem}`;
    } else {
      if (preview.format === null || preview.role === null || preview.encoding === null) return `preview ${i} without format, role or encoding`;
      if (preview.sample.length > 10 || !preview.sample.every((row) => Array.isArray(row) && row.every((f) => typeof f === 'string'))) {
        return `preview ${i}: malformed sample`;
      }
      const unknown = Object.values(preview.mapping).find((name) => !preview.columnNames.includes(name!));
      if (unknown !== undefined) return `preview ${i}: mapping names "${unknown}", not a column`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Running one case within its budget, and the counts for the report.

type Outcome = { ok: true; result: LoadResult } | { ok: false; error: unknown };

interface Tally {
  cases: number;
  parsed: number;
  rejected: number;
  parseCalls: number;
  previewCalls: number;
  maxParseMs: number;
  maxPreviewMs: number;
  /** Time spent in parseFiles and previewFiles. */
  totalMs: number;
}
const newTally = (): Tally => ({ cases: 0, parsed: 0, rejected: 0, parseCalls: 0, previewCalls: 0, maxParseMs: 0, maxPreviewMs: 0, totalMs: 0 });
type Property = 'mutations' | 'exactLines' | 'hugeLine' | 'blankLines' | 'longField' | 'manyColumns';
const tallies = new Map<string, Tally>();
const tally = (format: FormatName, property: Property) => {
  const key = `${format}/${property}`;
  if (!tallies.has(key)) tallies.set(key, newTally());
  return tallies.get(key)!;
};

/**
 * Runs `run`, failing when it takes longer than the budget: a timer rejects what never settles (an async hang); the
 * elapsed time catches a synchronous stall once it returns (a truly endless synchronous loop cannot be interrupted
 * in-thread; in the app it would hang the data worker, not the page).
 */
async function withinBudget<T>(what: string, budgetMs: number, run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${budgetMs} ms (hang)`)), budgetMs);
  });
  try {
    const value = await Promise.race([run(), hang]);
    const ms = performance.now() - start;
    if (ms > budgetMs) throw new Error(`${what} took ${ms.toFixed(0)} ms, over its budget of ${budgetMs} ms`);
    return { value, ms };
  } finally {
    clearTimeout(timer);
  }
}

const settle = (promise: Promise<LoadResult>): Promise<Outcome> =>
  promise.then((result) => ({ ok: true as const, result }), (error: unknown) => ({ ok: false as const, error }));

/** A comparable summary of an outcome: the error message, or the users' histories and the item titles. */
function signature(outcome: Outcome): string {
  if (!outcome.ok) return `error: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`;
  const { dataset, skipped } = outcome.result;
  const users = dataset.users.map((user) => `${user.userId}:${Array.from(user.items, (item, i) => `${dataset.itemTitles[item]}/${user.labels[i]}/${user.split[i]}`)}`);
  return JSON.stringify({ users, vocab: dataset.vocab.tokens, skipped: skipped.count });
}

/**
 * Checks one drop against the contract: previews, then the parse; with `compareSlices`, also that parsing with the
 * default 1 MiB slices gives the same outcome as the case's small slices. Throws a message holding the case.
 */
async function checkDrop(
  label: string,
  files: File[],
  options: Partial<LoadOptions>,
  record: Tally,
  budgetMs: number,
  compareSlices: boolean,
): Promise<Outcome> {
  const fail = (problem: string): never => {
    throw new Error(`${problem}\n  case: ${label}`);
  };
  record.cases++;
  const previews = await withinBudget('previewFiles', budgetMs, () => previewFiles(files, options));
  record.previewCalls++;
  record.maxPreviewMs = Math.max(record.maxPreviewMs, previews.ms);
  record.totalMs += previews.ms;
  const previewIssue = await previewProblem(previews.value, files);
  if (previewIssue) fail(previewIssue);

  const parsed = await withinBudget('parseFiles', budgetMs, () => settle(parseFiles(files, options)));
  record.parseCalls++;
  record.maxParseMs = Math.max(record.maxParseMs, parsed.ms);
  record.totalMs += parsed.ms;
  const outcome = parsed.value;
  if (outcome.ok) {
    record.parsed++;
    const issue = resultProblem(outcome.result, files, options);
    if (issue) fail(`parsed, but ${issue}`);
  } else {
    record.rejected++;
    const issue = await errorProblem(outcome.error, files);
    if (issue) fail(`rejected, but ${issue}`);
  }
  // A file the preview rejects rejects the parse, with the first such file's message.
  const firstPreviewError = previews.value.find((preview) => preview.error)?.error;
  if (firstPreviewError && (outcome.ok || (outcome.error as Error).message !== firstPreviewError.message)) {
    fail(`the preview says "${firstPreviewError.message}" but the parse ${outcome.ok ? 'succeeded' : `says "${(outcome.error as Error).message}"`}`);
  }
  if (compareSlices) {
    const whole = await withinBudget('parseFiles (1 MiB slices)', budgetMs, () => settle(parseFiles(files, { ...options, chunkBytes: DEFAULT_LOAD_OPTIONS.chunkBytes })));
    record.parseCalls++;
    record.maxParseMs = Math.max(record.maxParseMs, whole.ms);
    record.totalMs += whole.ms;
    const [small, big] = [signature(outcome), signature(whole.value)];
    if (small !== big) fail(`${options.chunkBytes}-byte slices and 1 MiB slices disagree:\n  ${small.slice(0, 400)}\n  ${big.slice(0, 400)}`);
  }
  return outcome;
}

const startedAt = performance.now();

afterAll(() => {
  const byFormat: Record<string, Record<string, number>> = {};
  const byProperty: Record<string, Tally> = {};
  const total = newTally();
  for (const [key, t] of tallies) {
    const [format, property] = key.split('/');
    (byFormat[format] ??= { total: 0 })[property] = t.cases;
    byFormat[format].total += t.cases;
    const p = (byProperty[property] ??= newTally());
    for (const target of [p, total]) {
      target.cases += t.cases;
      target.parsed += t.parsed;
      target.rejected += t.rejected;
      target.parseCalls += t.parseCalls;
      target.previewCalls += t.previewCalls;
      target.maxParseMs = Math.max(target.maxParseMs, t.maxParseMs);
      target.maxPreviewMs = Math.max(target.maxPreviewMs, t.maxPreviewMs);
      target.totalMs += t.totalMs;
    }
  }
  const round = (t: Tally) => ({ ...t, maxParseMs: Math.round(t.maxParseMs), maxPreviewMs: Math.round(t.maxPreviewMs), totalMs: Math.round(t.totalMs) });
  const report = {
    seed: SEED,
    seconds: Math.round((performance.now() - startedAt) / 100) / 10,
    total: round(total),
    byFormat,
    byProperty: Object.fromEntries(Object.entries(byProperty).map(([key, t]) => [key, round(t)])),
  };
  console.log(`data fuzz report:\n${JSON.stringify(report, null, 2)}`);
  if (process.env.FUZZ_REPORT) writeFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(report, null, 2)}\n`);
});

// ---------------------------------------------------------------------------------------------------------------
// The properties.

describe('hostile and malformed files: a dataset or a DataError naming the file and line, within budget', () => {
  it.each(FORMATS)('%s: small mutations of the files (stacked, one file of the drop corrupted)', async (format) => {
    await fc.assert(
      fc.asyncProperty(caseArb(format), async (c) => {
        await checkDrop(describeCase(c), caseFiles(c), c.options, tally(format, 'mutations'), SMALL_BUDGET_MS, true);
      }),
      { seed: SEED, numRuns: MUTATION_RUNS },
    );
  });

  it('line numbers are exact: one bad row among blank lines, with any line ends', async () => {
    const arb = fc.constantFrom(...FORMATS).chain((format) =>
      fc.record({
        format: fc.constant(format),
        target: fc.nat({ max: FIXTURES[format].length - 1 }),
        end: fc.constantFrom('\n', '\r\n', '\r'),
        blanks: fc.array(fraction, { maxLength: 6 }),
        badAfter: fraction,
        bad: fc.constantFrom('garbage', '@@@ not a record @@@', '#'),
        utf8Bom: fc.boolean(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ format, target, end, blanks, badAfter, bad, utf8Bom }) => {
        const fixture = FIXTURES[format][target];
        const normalized = fixture.text.replace(/\r\n|\n|\r/g, end);
        const lines = linesOf(normalized.endsWith(end) ? normalized : normalized + end);
        // The bad row after a record (so never in place of the header), blank lines anywhere.
        lines.splice(1 + Math.min(lines.length - 1, at(badAfter, lines.length - 1)), 0, `${bad}${end}`);
        for (const f of blanks) lines.splice(at(f, lines.length), 0, end);
        const expectedLine = lines.indexOf(`${bad}${end}`) + 1;
        const text = (utf8Bom ? BOMS['UTF-8'] : '') + lines.join('');
        const files = FIXTURES[format].map((f) => new File([fromBinary(f === fixture ? text : f.text)], f.name));
        const label =
          `${format}: ${show(bad)} on line ${expectedLine} of ${fixture.name}, line ends ${show(end)}, ${blanks.length} blank lines` +
          (utf8Bom ? ', UTF-8 BOM' : '');
        const outcome = await checkDrop(label, files, { n: 3 }, tally(format, 'exactLines'), SMALL_BUDGET_MS, false);
        const skipped = outcome.ok ? outcome.result.skipped : { count: 0, examples: [] };
        const skippedAt = skipped.examples.map((row) => `${row.file}:${row.line}`);
        if (skipped.count !== 1 || skippedAt[0] !== `${fixture.name}:${expectedLine}`) {
          throw new Error(`expected one skipped row, ${fixture.name}:${expectedLine}; got ${signature(outcome).slice(0, 300)} ${skippedAt.join(', ')}\n  case: ${label}`);
        }
      }),
      { seed: SEED, numRuns: EXACT_LINE_RUNS },
    );
  });

  interface BigCase {
    format: FormatName;
    target: number;
    /** Megabytes of the huge line, or columns of the wide line. */
    size: number;
    placement: 'whole' | 'start' | 'middle' | 'quoted';
    filler: string;
  }
  const bigCaseArb = (size: fc.Arbitrary<number>, fillers: string[]): fc.Arbitrary<BigCase> =>
    fc.constantFrom(...FORMATS).chain((format) =>
      fc.record({
        format: fc.constant(format),
        target: fc.nat({ max: FIXTURES[format].length - 1 }),
        size,
        placement: fc.constantFrom<BigCase['placement']>('whole', 'start', 'middle', 'quoted'),
        filler: fc.constantFrom(...fillers),
      }),
    );
  /** The fixture with `line` placed as the case says (the other files of the format as they are). */
  const bigDrop = ({ format, target, placement }: BigCase, line: string): File[] =>
    FIXTURES[format].map((fixture, i) => {
      if (i !== target) return new File([fromBinary(fixture.text)], fixture.name);
      const lines = linesOf(fixture.text);
      const middle = lines.length >> 1;
      const parts: Record<BigCase['placement'], string[]> = {
        whole: [line],
        start: [line, '\n', fixture.text],
        middle: [...lines.slice(0, middle), line, '\n', ...lines.slice(middle)],
        // An unclosed quote before it, so quoted formats read on and on.
        quoted: [...lines.slice(0, middle), '"', line, '\n', ...lines.slice(middle)],
      };
      return new File(parts[placement].map(fromBinary), fixture.name);
    });
  const bigLabel = (c: BigCase, what: string) => `${c.format}: ${what} (${show(c.filler)}) placed ${c.placement} in ${FIXTURES[c.format][c.target].name}`;

  it('huge lines: 5–20 MB without a line break', async () => {
    const arb = bigCaseArb(fc.integer({ min: 5, max: 20 }), ['x', 'fixture', '1,2;3\t4|5::', '"', 'é']);
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const fixture = FIXTURES[c.format][c.target];
        const unit = c.filler === 'fixture' ? fixture.text.replace(/[\r\n]/g, ' ') : encode(c.filler, 'utf-8');
        const line = unit.repeat(Math.ceil((c.size << 20) / unit.length)).slice(0, c.size << 20);
        await checkDrop(bigLabel(c, `${c.size} MB line`), bigDrop(c, line), {}, tally(c.format, 'hugeLine'), BIG_BUDGET_MS, false);
      }),
      {
        seed: SEED,
        numRuns: HUGE_LINE_RUNS,
        endOnFailure: true,
        examples: [[{ format: 'csv', target: 0, size: 20, placement: 'whole', filler: 'x' }]],
      },
    );
  });

  it('many blank lines: 1–4 MB of them', async () => {
    const arb = fc.record({
      format: fc.constantFrom(...FORMATS),
      target: fc.nat({ max: 1 }),
      mb: fc.integer({ min: 1, max: 4 }),
      blank: fc.constantFrom('\n', '\r\n', '\r', ' \t \n'),
      lineAt: fraction,
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ format, target, mb, blank, lineAt }) => {
        const fixture = FIXTURES[format][Math.min(target, FIXTURES[format].length - 1)];
        const lines = linesOf(fixture.text);
        lines.splice(at(lineAt, lines.length), 0, blank.repeat(Math.ceil((mb << 20) / blank.length)));
        const files = FIXTURES[format].map((f) => new File([fromBinary(f === fixture ? lines.join('') : f.text)], f.name));
        const label = `${format}: ${mb} MB of ${show(blank)} at ${lineAt} of ${fixture.name}`;
        await checkDrop(label, files, {}, tally(format, 'blankLines'), BIG_BUDGET_MS, false);
      }),
      { seed: SEED, numRuns: BLANK_LINE_RUNS, endOnFailure: true },
    );
  });

  it('long fields: 10^3 to 10^6 characters in one field, under the record limit', async () => {
    const arb = fc.record({
      format: fc.constantFrom(...FORMATS),
      target: fc.nat({ max: 1 }),
      size: fc.integer({ min: 1_000, max: 1_000_000 }),
      lineAt: fraction,
      field: fc.integer({ min: 0, max: 8 }),
      filler: fc.constantFrom('x', '9', 'é', ' ', '"', 'ab|c,d;e'),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ format, target, size, lineAt, field, filler }) => {
        const fixture = FIXTURES[format][Math.min(target, FIXTURES[format].length - 1)];
        const long = encode(filler.repeat(Math.ceil(size / filler.length)).slice(0, size), 'utf-8');
        const lines = linesOf(fixture.text);
        const i = Math.min(lines.length - 1, at(lineAt, lines.length));
        const [content, end] = splitEnd(lines[i]);
        lines[i] = replaceField(content, fixture.separator, field, fixture.separator === null ? JSON.stringify(long) : long) + end;
        const files = FIXTURES[format].map((f) => new File([fromBinary(f === fixture ? lines.join('') : f.text)], f.name));
        const label = `${format}: field ${field} of line ${i + 1} of ${fixture.name} = ${size} × ${show(filler)}`;
        await checkDrop(label, files, {}, tally(format, 'longField'), BIG_BUDGET_MS, false);
      }),
      { seed: SEED, numRuns: LONG_FIELD_RUNS, endOnFailure: true },
    );
  });

  it('very many columns: 10^5 to 1,000,001 fields on one line', async () => {
    const arb = bigCaseArb(fc.integer({ min: 100_000, max: 1_000_000 }), ['', 'x', '1', '""']);
    // The format's own separator, so the line really splits into that many fields (JSON Lines: one object's keys).
    const wideLine = (c: BigCase) => {
      const separator = FIXTURES[c.format][c.target].separator;
      if (separator === null) return `{${Array.from({ length: c.size }, (_, k) => `"k${k}":${c.filler === '' ? 0 : JSON.stringify(c.filler)}`).join(',')}}`;
      return Array<string>(c.size).fill(c.filler).join(separator);
    };
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        await checkDrop(bigLabel(c, `${c.size} columns`), bigDrop(c, wideLine(c)), {}, tally(c.format, 'manyColumns'), BIG_BUDGET_MS, false);
      }),
      {
        seed: SEED,
        numRuns: MANY_COLUMN_RUNS,
        endOnFailure: true,
        // 1,000,001 empty fields: 1,000,000 separators, under the 1 Mi-character record limit, so they are parsed.
        examples: [
          [{ format: 'csv', target: 0, size: 1_000_001, placement: 'middle', filler: '' }],
          [{ format: 'movielens-100k', target: 0, size: 1_000_001, placement: 'middle', filler: '' }],
          [{ format: 'tsv', target: 1, size: 1_000_001, placement: 'start', filler: '' }],
        ],
      },
    );
  });
});

describe('counterexamples the fuzzer found (fixed in src/data; kept as plain regression tests)', () => {
  const ratingsText = FIXTURES.csv[0].text;
  const asFile = (name: string, ...parts: string[]) => new File(parts.map(fromBinary), name);
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (error: unknown) => error,
    );

  it('a file named like an Object.prototype property ("constructor", "__proto__") is read, not a TypeError', async () => {
    for (const name of ['constructor', '__proto__']) {
      const result = await parseFiles([asFile(name, ratingsText)], { n: 3 });
      expect(result.stats.interactions).toBe(world.count);
    }
  });

  it('a first line longer than the 64 KiB sample is reported as such, not as "only blank lines"', async () => {
    const error = await failure(parseFiles([asFile('big.csv', 'x'.repeat(200_000))]));
    expect((error as DataError).message).toMatch(/^big\.csv: line 1: a line runs past the first 65536 bytes without a line break; /);
    const blanks = await failure(parseFiles([asFile('blank.csv', '\n'.repeat(70_000), ratingsText)]));
    expect((blanks as DataError).message).toMatch(/^blank\.csv: the first 65536 bytes hold only blank lines; /);
  });

  it('"no user has n + 1 interactions" names the ratings file', async () => {
    const error = await failure(parseFiles([asFile('few.csv', 'user,item,rating\na,1,4\na,2,5\n')], { n: 3 }));
    expect((error as DataError).message).toMatch(/^few\.csv: no user has 4 or more interactions/);
  });

  it('a rating beyond float32 (1e39) is skipped as out of range instead of making the label threshold Infinity', async () => {
    const lines = ratingsText.split('\r\n');
    lines[1] = lines[1].replace(/^([^,]*,[^,]*,)[^,]*/, '$11e39');
    const result = await parseFiles([asFile('ratings.csv', lines.join('\n'))], { n: 3 });
    expect(result.skipped.examples[0].reason).toBe('rating "1e39" is out of range; expected a number below 3.4e38 in column "rating"');
    expect(result.stats.labelRule).toEqual({ threshold: 3, inclusive: false });
  });

  it('a megabyte-long field is cut short in messages', async () => {
    const result = await parseFiles([asFile('ratings.csv', ratingsText, `\na,i1,4,${'9'.repeat(500_000)}x`)], { n: 3 });
    expect(result.skipped.examples[0].reason).toMatch(/^timestamp "9{60}… \(500001 characters\)" is neither a number nor a date/);
    expect(result.skipped.examples[0].reason.length).toBeLessThan(200);
  });

  it('a file that starts with a blank line (LF, no CR anywhere) is split on LF, not read as one record', async () => {
    const result = await parseFiles([asFile('u.data', '\n', FIXTURES['movielens-100k'][0].text)], { n: 3 });
    expect(result.stats.interactions).toBe(world.count);
    expect(result.skipped.count).toBe(0);
  });

  it('blank lines and one bad row under the header do not make "|" (genres a|b|c) the delimiter of a CSV', async () => {
    const [header, ...rows] = FIXTURES.csv[1].text.split('\r\n');
    const movies = asFile('movies.csv', [header, '', '', '', 'garbage', ...rows].join('\n'));
    const [preview] = await previewFiles([movies]);
    expect(preview.columnNames).toEqual(['movieId', 'title', 'genres']);
  });

  it('a UTF-8 byte order mark is skipped in cp1252 files too', async () => {
    const [data, item] = FIXTURES['movielens-100k'];
    const result = await parseFiles([asFile('u.data', BOMS['UTF-8'], data.text), asFile('u.item', BOMS['UTF-8'], item.text)], { n: 3 });
    expect(result.skipped.count).toBe(0);
    expect(result.dataset.users.map((user) => user.userId)).not.toContain('ï»¿1');
  });

  it('a JSON Lines record without a key named "constructor" gives an empty field, not Object\'s constructor', async () => {
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ user: 'a', item: i, rating: 4, ...(i === 0 ? { constructor: 'first' } : {}) }));
    const result = await parseFiles([asFile('r.jsonl', lines.join('\n'))], { n: 2, columns: { title: 'constructor' } });
    expect(result.dataset.itemTitles.join(' ')).not.toMatch(/native code/);
  });
});
