/**
 * Splits a file's decoded text (encoding.ts) into rows of text fields, in bounded memory: papaparse's own Parser, fed
 * chunk by chunk exactly as papaparse's ChunkStreamer does (an incomplete last row waits for the next chunk). JSON
 * Lines are framed by line ends (JSON text never holds a raw line break) and parsed with JSON.parse. Every line end
 * (LF, CRLF, lone CR) counts as one, in any mix.
 */
import Papa, { type ParseResult } from 'papaparse';
import { DataError } from './errors';

export type RowSyntax =
  | { kind: 'delimited'; delimiter: string; quoted: boolean }
  /**
   * One JSON object per line; `keys` name the fields, in row order. The values of `idKeys` must be strings or numbers
   * JSON keeps exactly: an object, or an integer beyond 2^53 (its digits already lost), makes the record bad.
   */
  | { kind: 'jsonl'; keys: string[]; idKeys: string[] };

export interface RowSink {
  /** A row of fields; line is the 1-based line where the row starts. */
  row(fields: string[], line: number): void;
  /** A line that could not be split into fields. */
  bad(line: number, problem: string, expected: string): void;
  /** JSON Lines: a key that is not among the syntax's keys (so not read), on the first line that has it. */
  unreadKey?(key: string, line: number): void;
}

/** A record longer than this is an unclosed quote or not a records file at all: stop before memory runs away. */
const MAX_RECORD_CHARS = 1 << 20;
/** Quote character for formats without quoting: one that never occurs in text, so papaparse takes its fast path. */
const NO_QUOTE = '\u0000';

/**
 * The chunks with every line end as '\n': old Mac files end lines in a lone CR, Windows files in CRLF, and a file may
 * mix all three. A CR at the end of a chunk waits for the next one, which may start with its LF.
 */
async function* withLfLineEnds(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let heldCr = false;
  for await (const chunk of chunks) {
    let text: string = heldCr ? `\r${chunk}` : chunk;
    heldCr = text.endsWith('\r');
    if (heldCr) text = text.slice(0, -1);
    if (text) yield text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  }
  if (heldCr) yield '\n';
}

export async function streamRows(
  chunks: AsyncIterable<string>,
  fileName: string,
  syntax: RowSyntax,
  sink: RowSink,
): Promise<void> {
  const lines = withLfLineEnds(chunks);
  if (syntax.kind === 'jsonl') return streamJsonLines(lines, fileName, syntax, sink);
  const parser = new Papa.Parser({ delimiter: syntax.delimiter, newline: '\n', quoteChar: syntax.quoted ? '"' : NO_QUOTE, skipEmptyLines: false });
  let partial = '';
  let line = 1;
  const emit = (result: ParseResult<string[]>) => {
    const badRows = new Map(result.errors.map((error) => [error.row, error.message]));
    result.data.forEach((fields, r) => {
      const message = badRows.get(r);
      if (message !== undefined) sink.bad(line, `malformed quoting (${message})`, 'fields in matching double quotes');
      else if (!(fields.length === 1 && fields[0].trim() === '')) sink.row(fields, line);
      line += 1 + (syntax.quoted ? embeddedNewlines(fields) : 0);
    });
  };
  for await (const chunk of lines) {
    const text = partial + chunk;
    const result = parser.parse(text, 0, true) as ParseResult<string[]>;
    emit(result);
    partial = text.substring(result.meta.cursor);
    if (partial.length > MAX_RECORD_CHARS) {
      throw new DataError(
        `a record runs past ${MAX_RECORD_CHARS} characters without ending (an unclosed quote?)`,
        'one record per line, quotes closed on the same record',
        fileName,
        line,
      );
    }
  }
  if (partial) emit(parser.parse(partial, 0, false) as ParseResult<string[]>);
}

function embeddedNewlines(fields: string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) count++;
  }
  return count;
}

async function streamJsonLines(chunks: AsyncIterable<string>, fileName: string, syntax: RowSyntax & { kind: 'jsonl' }, sink: RowSink) {
  let partial = '';
  let line = 1;
  const read = new Set(syntax.keys);
  const handle = (text: string) => {
    const trimmed = text.trim();
    if (trimmed !== '') {
      const fields = jsonFields(trimmed, syntax);
      if (typeof fields === 'string') sink.bad(line, fields, 'one JSON object per line');
      else if ('problem' in fields) sink.bad(line, fields.problem, fields.expected);
      else {
        for (const key of fields.keys) {
          if (read.has(key)) continue;
          read.add(key);
          sink.unreadKey?.(key, line);
        }
        sink.row(fields.values, line);
      }
    }
    line++;
  };
  for await (const chunk of chunks) {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const text of lines) handle(text);
    if (partial.length > MAX_RECORD_CHARS) {
      throw new DataError(`a line runs past ${MAX_RECORD_CHARS} characters`, 'one JSON object per line', fileName, line);
    }
  }
  if (partial) handle(partial);
}

/**
 * The fields of one JSON Lines record in the syntax's `keys` order, with every key the record has, or the problem with
 * the line (or with one of its ids).
 */
function jsonFields(
  text: string,
  { keys, idKeys }: RowSyntax & { kind: 'jsonl' },
): { values: string[]; keys: string[] } | string | { problem: string; expected: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  // Own keys only: a record without "constructor" must not yield Object's constructor.
  const own = (key: string) => (Object.hasOwn(record, key) ? record[key] : undefined);
  for (const key of idKeys) {
    const id = own(key);
    if (typeof id === 'object' && id !== null) {
      return { problem: `"${key}" is a JSON ${Array.isArray(id) ? 'array' : 'object'}`, expected: `a string or a number as "${key}"` };
    }
    if (typeof id === 'number' && Number.isInteger(id) && !Number.isSafeInteger(id)) {
      return {
        problem: `"${key}" is a number beyond 2^53 (${String(id)}): JSON numbers that large lose their last digits, so different ids would merge`,
        expected: `ids above 9007199254740991 written as strings ("${key}": "…")`,
      };
    }
  }
  return { values: keys.map((key) => fieldText(own(key))), keys: Object.keys(record) };
}

function fieldText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(fieldText).join('|');
  if (typeof value === 'boolean') return value ? '1' : '0';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
