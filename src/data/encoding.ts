/**
 * Text encodings: which one a file uses, and its text, slice by slice, in bounded memory. Files come as UTF-8 or as
 * Windows-1252 (cp1252, a superset of Latin-1: MovieLens .dat files, BookCrossing). Text with bytes outside ASCII that
 * is valid UTF-8 is UTF-8 (cp1252 text almost never is); other text is read as cp1252. A file whose first 64 KiB are
 * all ASCII is decided by the 64 KiB from its first byte outside ASCII, wherever that is; a UTF-8 file whose later
 * bytes are not UTF-8 mixes two encodings and is refused (one of them would come out garbled). Bytes do not tell one
 * 8-bit encoding from another, so cp1252 is a guess: a person may choose another (TEXT_ENCODINGS), which is read as it is.
 */
import { DataError } from './errors';

/**
 * The encodings a person can choose for a file (detection tells only UTF-8 from cp1252), by their WHATWG names, which
 * TextDecoder takes in browsers and Node. Each is ASCII-compatible and never puts a NUL, LF or CR byte inside a
 * multi-byte character, so those are found on the bytes (lineEndsIn, lineOfByte, formats.ts's binary check) whichever
 * it is; other ASCII bytes may be part of one (Shift_JIS's "ソ" is 0x83 0x5C), so text is split only once decoded.
 */
export const TEXT_ENCODINGS = [
  { name: 'utf-8', label: 'UTF-8', languages: 'Unicode' },
  { name: 'windows-1252', label: 'Windows-1252', languages: 'Western European, Latin-1' },
  { name: 'iso-8859-15', label: 'ISO-8859-15', languages: 'Western European with €, Latin-9' },
  { name: 'windows-1250', label: 'Windows-1250', languages: 'Central European' },
  { name: 'iso-8859-2', label: 'ISO-8859-2', languages: 'Central European, Latin-2' },
  { name: 'windows-1251', label: 'Windows-1251', languages: 'Cyrillic' },
  { name: 'koi8-r', label: 'KOI8-R', languages: 'Russian' },
  { name: 'shift_jis', label: 'Shift_JIS', languages: 'Japanese' },
  { name: 'euc-jp', label: 'EUC-JP', languages: 'Japanese' },
  { name: 'gbk', label: 'GBK', languages: 'Simplified Chinese' },
  { name: 'big5', label: 'Big5', languages: 'Traditional Chinese' },
  { name: 'euc-kr', label: 'EUC-KR', languages: 'Korean' },
] as const;

export type TextEncodingName = (typeof TEXT_ENCODINGS)[number]['name'];

export const isTextEncodingName = (text: string): text is TextEncodingName => TEXT_ENCODINGS.some((encoding) => encoding.name === text);

const labelOf = (name: TextEncodingName) => TEXT_ENCODINGS.find((encoding) => encoding.name === name)!.label;

/**
 * A file's encoding and what it rests on. 'chosen': the person's choice, read as it is. 'sample': the first 64 KiB
 * hold bytes outside ASCII, and decided. 'ascii': they hold none, so `name` is only the format's usual encoding; the
 * file's first byte outside ASCII decides while it is read.
 */
export interface TextEncoding {
  name: TextEncodingName;
  basis: 'chosen' | 'sample' | 'ascii';
}

/** Bytes that decide a file's encoding: the sample, or as much text from a later first byte outside ASCII. */
export const SNIFF_BYTES = 64 * 1024;
/** Bytes read and decoded at a time. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** A file's encoding and what it rests on, for a person: "Windows-1252, a guess: its text is not valid UTF-8". */
export function describeTextEncoding({ name, basis }: TextEncoding): string {
  if (basis === 'chosen') return `${labelOf(name)}, as chosen`;
  if (basis === 'ascii') return `ASCII in the first ${SNIFF_BYTES / 1024} KiB, so a later byte decides UTF-8 or Windows-1252`;
  return name === 'utf-8' ? 'UTF-8: its text is valid UTF-8' : `${labelOf(name)}, a guess: its text is not valid UTF-8`;
}

/** Windows-1252's characters for bytes 0x80–0x9F (the five undefined bytes keep their C1 code, as WHATWG says). */
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';
const C1_CONTROLS = /[\u0080-\u009f]/g;
const NON_ASCII = /[^\u0000-\u007f]/;

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

/** The encoding the bytes show, or null when they are all ASCII (which reads the same in both). */
export function encodingOfBytes(bytes: Uint8Array, complete: boolean): TextEncodingName | null {
  if (bytes.every((byte) => byte < 0x80)) return null;
  try {
    // stream: a character cut at the end of an incomplete sample is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: !complete });
    return 'utf-8';
  } catch {
    return 'windows-1252';
  }
}

/**
 * Offset of the first byte that does not begin a well-formed UTF-8 sequence (Unicode's table 3-7, which TextDecoder
 * follows), or -1 when there is none. The bytes end on a whole character.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    // The sequence length and the range of its second byte, which rules out overlong forms, surrogates and > U+10FFFF.
    let length = 0;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) [length, low, high] = [3, lead === 0xe0 ? 0xa0 : 0x80, lead === 0xed ? 0x9f : 0xbf];
    else if (lead >= 0xf0 && lead <= 0xf4) [length, low, high] = [4, lead === 0xf0 ? 0x90 : 0x80, lead === 0xf4 ? 0x8f : 0xbf];
    if (length === 0 || i + length > bytes.length || bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (let k = 2; k < length; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/** The length of the bytes without a UTF-8 character cut short at their end. */
function wholeCharactersLength(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (first.length === 0) return second;
  const bytes = new Uint8Array(first.length + second.length);
  bytes.set(first);
  bytes.set(second, first.length);
  return bytes;
}

/** Line ends (LF, CRLF, lone CR) in the bytes; `afterCr`: the bytes before them ended in a CR, whose LF may start these. */
export function lineEndsIn(bytes: Uint8Array, afterCr = false): number {
  let count = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === 0x0d || (byte === 0x0a && !(i === 0 ? afterCr : bytes[i - 1] === 0x0d))) count++;
  }
  return count;
}

/** The 1-based line of the byte at `offset`. */
export async function lineOfByte(blob: Blob, offset: number): Promise<number> {
  let line = 1;
  let afterCr = false;
  for (let from = 0; from < offset; from += DEFAULT_CHUNK_BYTES) {
    const bytes = new Uint8Array(await blob.slice(from, Math.min(offset, from + DEFAULT_CHUNK_BYTES)).arrayBuffer());
    line += lineEndsIn(bytes, afterCr);
    afterCr = bytes[bytes.length - 1] === 0x0d;
  }
  return line;
}

export interface DecodeEvents {
  /** Bytes of the blob read so far. */
  onBytes?(bytesRead: number): void;
  /** An 'ascii' file's first byte outside ASCII, at `offset`, decided its encoding. */
  onDecided?(name: TextEncodingName, offset: number): void;
}

/**
 * Decoded text of a file, slice by slice. A UTF-8 byte order mark is skipped whatever the encoding (a cp1252 decoder
 * would turn it into "ï»¿" glued to the first field). Unless the encoding was chosen or is cp1252 by the sample, the
 * text is checked as UTF-8: see the module comment. Slice size never changes the outcome.
 */
export async function* decodeChunks(
  file: Blob & { readonly name: string },
  encoding: TextEncoding,
  chunkBytes: number,
  events: DecodeEvents = {},
): AsyncGenerator<string> {
  const start = utf8BomLength(new Uint8Array(await file.slice(0, 3).arrayBuffer()));
  const plain = encoding.basis === 'chosen' || (encoding.basis === 'sample' && encoding.name === 'windows-1252');
  // Until a file checked as UTF-8 turns out to be cp1252: then (all before was ASCII) it is read as cp1252 throughout.
  let decoder = plain ? new TextDecoder(encoding.name) : null;
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  let firstNonAscii: number | null = null;
  // The start of a UTF-8 character cut at the end of the last slice.
  let carry = new Uint8Array(0);
  for (let offset = start; offset < file.size; offset += chunkBytes) {
    const end = Math.min(file.size, offset + chunkBytes);
    const slice = new Uint8Array(await file.slice(offset, end).arrayBuffer());
    events.onBytes?.(end);
    if (decoder) {
      const text = decodeText(decoder, slice, true);
      if (text) yield text;
      continue;
    }
    const bytes = concat(carry, slice);
    const at = offset - carry.length;
    const whole = bytes.subarray(0, wholeCharactersLength(bytes));
    carry = bytes.slice(whole.length);
    // A character cut short by the end of the file is a truncation, not another encoding: it reads as U+FFFD.
    const cutAtEnd = end === file.size && carry.length > 0 ? utf8.decode(carry) : '';
    const text = utf8.decode(whole) + cutAtEnd;
    if (firstNonAscii === null) {
      const index = text.search(NON_ASCII);
      if (index !== -1) {
        // Every character before it is ASCII, one byte each.
        firstNonAscii = at + index;
        if (encoding.basis === 'ascii') {
          const window = new Uint8Array(await file.slice(firstNonAscii, firstNonAscii + SNIFF_BYTES).arrayBuffer());
          // The window starts outside ASCII, so it always shows an encoding.
          const name = encodingOfBytes(window, firstNonAscii + SNIFF_BYTES >= file.size)!;
          events.onDecided?.(name, firstNonAscii);
          if (name === 'windows-1252') {
            decoder = new TextDecoder('windows-1252');
            yield decodeText(decoder, bytes, true);
            continue;
          }
        }
      }
    }
    // An invalid sequence decodes to U+FFFD; so does a real U+FFFD, which the byte check tells apart.
    const invalid = text.includes('\uFFFD') ? firstInvalidUtf8(whole) : -1;
    // firstNonAscii is known by then: U+FFFD is outside ASCII.
    if (invalid !== -1) throw await mixedEncodings(file, at + invalid, whole[invalid], firstNonAscii!);
    if (text) yield text;
  }
  if (decoder) {
    const tail = decodeText(decoder);
    if (tail) yield tail;
  }
}

async function mixedEncodings(file: Blob & { readonly name: string }, offset: number, byte: number, utf8Offset: number): Promise<DataError> {
  const [line, utf8Line] = [await lineOfByte(file, offset), await lineOfByte(file, utf8Offset)];
  const hex = `0x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return new DataError(
    `this line is not valid UTF-8 (byte ${hex}), but ${utf8Line === line ? 'it also holds' : `line ${utf8Line} holds`} UTF-8 text: the file mixes two text encodings, and one of them would come out garbled`,
    'one text encoding in the whole file (re-save it as UTF-8)',
    file.name,
    line,
  );
}
