/**
 * Streams a file's records as rows of text fields, in bounded memory: the Blob is read in slices, decoded with a
 * streaming TextDecoder (so a multi-byte character split across slices survives), and split into rows by papaparse's
 * own Parser, fed chunk by chunk exactly as papaparse's ChunkStreamer does (an incomplete last row waits for the next
 * slice). JSON Lines are framed by newlines (JSON text never holds a raw newline) and parsed with JSON.parse.
 */
import Papa, { type ParseResult } from 'papaparse';
import { DataError } from './errors';

export type TextEncodingName = 'utf-8' | 'windows-1252';

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
}

export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** A record longer than this is an unclosed quote or not a records file at all: stop before memory runs away. */
const MAX_RECORD_CHARS = 1 << 20;
/** Quote character for formats without quoting: one that never occurs in text, so papaparse takes its fast path. */
const NO_QUOTE = '\u0000';

/** Windows-1252's characters for bytes 0x80–0x9F (the five undefined bytes keep their C1 code, as WHATWG says). */
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';
const C1_CONTROLS = /[\u0080-\u009f]/g;

/**
 * decoder.decode, repairing Node 20's non-streaming windows-1252 path, which decodes 0x80–0x9F as Latin-1 control
 * codes. Browsers (and Node's streaming path) already give cp1252's characters there, and the repair is a no-op.
 */
export function decodeText(decoder: TextDecoder, bytes?: Uint8Array, stream = false): string {
  const text = decoder.decode(bytes, { stream });
  if (decoder.encoding !== 'windows-1252' || !/[\u0080-\u009f]/.test(text)) return text;
  return text.replace(C1_CONTROLS, (char) => CP1252_HIGH[char.charCodeAt(0) - 0x80]);
}

/** 3 when the bytes start with a UTF-8 byte order mark, else 0. */
export function utf8BomLength(bytes: Uint8Array): number {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

/**
 * Decoded text of a Blob, slice by slice; onBytes reports how many bytes have been read. A UTF-8 byte order mark is
 * skipped whatever the encoding (a cp1252 decoder would turn it into "ï»¿" glued to the first field).
 */
export async function* decodeChunks(
  blob: Blob,
  encoding: TextEncodingName,
  chunkBytes: number,
  onBytes: (bytesRead: number) => void = () => {},
): AsyncGenerator<string> {
  const decoder = new TextDecoder(encoding);
  const start = utf8BomLength(new Uint8Array(await blob.slice(0, 3).arrayBuffer()));
  for (let offset = start; offset < blob.size; offset += chunkBytes) {
    const end = Math.min(blob.size, offset + chunkBytes);
    const text = decodeText(decoder, new Uint8Array(await blob.slice(offset, end).arrayBuffer()), true);
    onBytes(end);
    if (text) yield text;
  }
  const tail = decodeText(decoder);
  if (tail) yield tail;
}

/** The line break a text uses ('\r\n', '\n' or '\r'), judged from its first one. */
function detectNewline(text: string): '\r\n' | '\n' | '\r' {
  const lf = text.indexOf('\n');
  const cr = text.indexOf('\r');
  if (lf === -1) return cr === -1 ? '\n' : '\r';
  if (cr === -1) return '\n';
  if (cr === lf - 1) return '\r\n';
  return cr < lf ? '\r' : '\n';
}

export async function streamRows(
  chunks: AsyncIterable<string>,
  fileName: string,
  syntax: RowSyntax,
  sink: RowSink,
): Promise<void> {
  if (syntax.kind === 'jsonl') return streamJsonLines(chunks, fileName, syntax, sink);
  let parser: InstanceType<typeof Papa.Parser> | null = null;
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
  const makeParser = (text: string) =>
    new Papa.Parser({ delimiter: syntax.delimiter, newline: detectNewline(text), quoteChar: syntax.quoted ? '"' : NO_QUOTE, skipEmptyLines: false });
  for await (const chunk of chunks) {
    const text = partial + chunk;
    // The line break is judged once the text holds one ('\r' at the very end may be the first half of '\r\n').
    parser ??= /\n|\r(?!$)/.test(text) ? makeParser(text) : null;
    if (parser) {
      const result = parser.parse(text, 0, true) as ParseResult<string[]>;
      emit(result);
      partial = text.substring(result.meta.cursor);
    } else partial = text;
    if (partial.length > MAX_RECORD_CHARS) {
      throw new DataError(
        `a record runs past ${MAX_RECORD_CHARS} characters without ending (an unclosed quote?)`,
        'one record per line, quotes closed on the same record',
        fileName,
        line,
      );
    }
  }
  if (partial) emit((parser ?? makeParser(partial)).parse(partial, 0, false) as ParseResult<string[]>);
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
  const handle = (text: string) => {
    const trimmed = text.trim();
    if (trimmed !== '') {
      const fields = jsonFields(trimmed, syntax);
      if (typeof fields === 'string') sink.bad(line, fields, 'one JSON object per line');
      else if ('problem' in fields) sink.bad(line, fields.problem, fields.expected);
      else sink.row(fields, line);
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

/** The fields of one JSON Lines record in `keys` order, or the problem with the line (or with one of its ids). */
function jsonFields(text: string, { keys, idKeys }: RowSyntax & { kind: 'jsonl' }): string[] | string | { problem: string; expected: string } {
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
  return keys.map((key) => fieldText(own(key)));
}

function fieldText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(fieldText).join('|');
  if (typeof value === 'boolean') return value ? '1' : '0';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
