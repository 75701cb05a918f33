/**
 * A prepared dataset's checksum: SHA-256 over its content (vocabulary, user ids, every item's tokens, every history's
 * items, labels and split), so two loads of the same files under the same rules agree and any change shows. The
 * content is hashed in blocks of CHECKSUM_BLOCK bytes and the blocks' digests hashed again, so a dataset of any size
 * needs no copy of itself, and the page's thread gets a turn every YIELD_MS.
 */
import type { TokenizedDataset } from '../prompt/types';

export const CHECKSUM_BLOCK = 16 * 2 ** 20;
/** The longest stretch of hashing between two turns of the page's thread. */
const YIELD_MS = 15;

const asBytes = (a: Int32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** SHA-256 of some bytes, in hex (a file's checksum). */
export const sha256Hex = async (bytes: Uint8Array<ArrayBuffer>) => hex(await sha256(bytes));

export async function datasetChecksum(dataset: TokenizedDataset, blockBytes = CHECKSUM_BLOCK): Promise<string> {
  const digests: Uint8Array[] = [];
  const block = new Uint8Array(blockBytes);
  let filled = 0;
  /** Full blocks waiting for their digest (copies: the block is refilled at once). */
  const full: Uint8Array<ArrayBuffer>[] = [];
  const add = (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length; ) {
      const take = Math.min(bytes.length - at, blockBytes - filled);
      block.set(bytes.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === blockBytes) {
        full.push(block.slice());
        filled = 0;
      }
    }
  };
  const digestFull = async () => {
    for (const bytes of full.splice(0)) digests.push(await sha256(bytes));
  };
  // Each array and string is preceded by its length, so two datasets cannot hash alike by moving a boundary. Scratch
  // buffers keep millions of users from costing millions of allocations.
  const lengthBytes = new Uint8Array(4);
  const lengthView = new DataView(lengthBytes.buffer);
  const addLength = (n: number) => {
    lengthView.setInt32(0, n, true);
    add(lengthBytes);
  };
  const encoder = new TextEncoder();
  const text = new Uint8Array(1024);
  const addText = (value: string) => {
    const { written } = encoder.encodeInto(value, text);
    const bytes = written < text.length ? text.subarray(0, written) : encoder.encode(value);
    addLength(bytes.length);
    add(bytes);
  };
  addText(JSON.stringify(dataset.vocab.tokens));
  for (const tokens of dataset.itemTokens) {
    addLength(tokens.length);
    add(asBytes(tokens));
  }
  await digestFull();
  let turn = performance.now();
  for (const user of dataset.users) {
    addText(user.userId);
    addLength(user.items.length);
    add(asBytes(user.items));
    add(user.labels);
    add(user.split);
    if (full.length) await digestFull();
    // Millions of short histories fill a block slowly: the page gets a turn every few milliseconds all the same.
    if (performance.now() - turn > YIELD_MS) {
      await new Promise((resolve) => setTimeout(resolve));
      turn = performance.now();
    }
  }
  digests.push(await sha256(block.slice(0, filled)));
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(d, i * 32));
  return hex(await sha256(all));
}
