/**
 * A prepared dataset's checksum: SHA-256 over its content (vocabulary, user ids, every item's tokens, every history's
 * items, labels and split), so two loads of the same files under the same rules agree and any change shows. The
 * content is hashed in blocks of CHECKSUM_BLOCK bytes and the blocks' digests hashed again, so a dataset of any size
 * needs no copy of itself, and the page's thread gets a turn between blocks.
 */
import type { TokenizedDataset } from '../prompt/types';

export const CHECKSUM_BLOCK = 16 * 2 ** 20;

const asBytes = (a: Int32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

export const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export async function datasetChecksum(dataset: TokenizedDataset, blockBytes = CHECKSUM_BLOCK): Promise<string> {
  const digests: Uint8Array[] = [];
  const block = new Uint8Array(blockBytes);
  let filled = 0;
  const add = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length; ) {
      const take = Math.min(bytes.length - at, blockBytes - filled);
      block.set(bytes.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === blockBytes) {
        digests.push(await sha256(block));
        filled = 0;
      }
    }
  };
  // Each array is preceded by its length, so two datasets cannot hash alike by moving a boundary.
  await add(new TextEncoder().encode(JSON.stringify([dataset.vocab.tokens, dataset.users.map((u) => u.userId)])));
  for (const tokens of dataset.itemTokens) {
    await add(asBytes(Int32Array.of(tokens.length)));
    await add(asBytes(tokens));
  }
  for (const user of dataset.users) {
    await add(asBytes(Int32Array.of(user.items.length)));
    await add(asBytes(user.items));
    await add(user.labels);
    await add(user.split);
  }
  digests.push(await sha256(block.slice(0, filled)));
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(d, i * 32));
  return hex(await sha256(all));
}
