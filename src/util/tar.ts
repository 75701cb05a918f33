/**
 * A POSIX ustar archive of in-memory files: one download that `tar -xf` (or Python's tarfile) unpacks into a folder.
 * Each file is a 512-byte header (name, octal size and mode, checksum) and its bytes padded to 512; two zero blocks end it.
 */
const BLOCK = 512;
/** ustar's size field: 11 octal digits. */
const MAX_FILE_BYTES = 8 ** 11 - 1;

export interface TarEntry {
  /** A relative path, `/`-separated, at most 100 bytes (no prefix field is used). */
  name: string;
  bytes: Uint8Array;
}

function writeField(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > length) throw new RangeError(`tar: "${text}" does not fit its ${length}-byte field`);
  header.set(bytes, offset);
}

const octal = (value: number, digits: number) => value.toString(8).padStart(digits, '0');

export function tarArchive(entries: readonly TarEntry[], mtimeSeconds = Math.floor(Date.now() / 1000)): Uint8Array<ArrayBuffer> {
  const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
  const total = entries.reduce((sum, e) => sum + BLOCK + padded(e.bytes.length), 0) + 2 * BLOCK;
  const out = new Uint8Array(total);
  let at = 0;
  for (const entry of entries) {
    if (entry.name.startsWith('/') || entry.name.split('/').includes('..')) throw new RangeError(`tar: "${entry.name}" must be a relative path inside the archive`);
    if (entry.bytes.length > MAX_FILE_BYTES) throw new RangeError(`tar: "${entry.name}" is larger than a ustar entry can hold (8 GiB)`);
    const header = out.subarray(at, at + BLOCK);
    writeField(header, 0, 100, entry.name);
    writeField(header, 100, 8, '0000644\0');
    writeField(header, 108, 8, '0000000\0');
    writeField(header, 116, 8, '0000000\0');
    writeField(header, 124, 12, `${octal(entry.bytes.length, 11)}\0`);
    writeField(header, 136, 12, `${octal(mtimeSeconds, 11)}\0`);
    header[156] = 0x30; // '0': a regular file
    writeField(header, 257, 6, 'ustar\0');
    writeField(header, 263, 2, '00');
    // The checksum is the byte sum of the header with its own field read as spaces.
    header.fill(0x20, 148, 156);
    const sum = header.reduce((s, b) => s + b, 0);
    writeField(header, 148, 8, `${octal(sum, 6)}\0 `);
    out.set(entry.bytes, at + BLOCK);
    at += BLOCK + padded(entry.bytes.length);
  }
  return out;
}
