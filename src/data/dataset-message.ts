/**
 * A dataset as it crosses between threads (data worker -> page -> training worker): every user's history in four
 * flat arrays and every user id in one string, instead of an object, three typed-array views and a string per user.
 * Structured cloning costs per object, and it runs in one task: 1 million users as objects froze the page's thread for
 * over a second on receipt and again on Start. As flat arrays the message is a handful of buffers whatever the number
 * of users, and the page rebuilds the per-user views in slices between which it stays responsive.
 */
import type { TokenizedDataset, UserHistory } from '../prompt/types';

export interface DatasetMessage extends Omit<TokenizedDataset, 'users' | 'itemTokens'> {
  /** User u's interactions are entries historyStarts[u] .. historyStarts[u + 1] - 1 of items, labels and split. */
  historyStarts: Int32Array;
  items: Int32Array;
  labels: Uint8Array;
  split: Uint8Array;
  /** Every user id, back to back; user u's is userIdText.slice(userIdStarts[u], userIdStarts[u + 1]). */
  userIdText: string;
  userIdStarts: Int32Array;
  /** Item i's tokens are entries itemTokenStarts[i] .. itemTokenStarts[i + 1] - 1 of itemTokenIds. */
  itemTokenStarts: Int32Array;
  itemTokenIds: Int32Array;
}

/** Users rebuilt per slice by datasetFromMessageInSlices: a few ms of work each on a software device's CPU. */
export const USERS_PER_SLICE = 20_000;

/**
 * Arrays 0 .. count - 1 end to end: the views themselves when they already lie end to end in one buffer, in order (as
 * the data layer builds them), else a copy.
 */
function flat<A extends Int32Array | Uint8Array>(count: number, array: (i: number) => A, make: (length: number) => A): { all: A; starts: Int32Array } {
  const starts = new Int32Array(count + 1);
  let contiguous = count > 0;
  const first = count > 0 ? array(0) : null;
  for (let i = 0; i < count; i++) {
    const a = array(i);
    contiguous &&= a.buffer === first!.buffer && a.byteOffset === first!.byteOffset + starts[i] * a.BYTES_PER_ELEMENT;
    starts[i + 1] = starts[i] + a.length;
  }
  if (contiguous) {
    const View = first!.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => A;
    return { all: new View(first!.buffer, first!.byteOffset, starts[count]), starts };
  }
  const all = make(starts[count]);
  for (let i = 0; i < count; i++) all.set(array(i), starts[i]);
  return { all, starts };
}

/** The message each dataset rebuilt from one came from: posting the dataset on sends that message again, unbuilt. */
const sourceMessage = new WeakMap<TokenizedDataset, DatasetMessage>();

export function datasetToMessage(dataset: TokenizedDataset): DatasetMessage {
  const { users, itemTokens, ...rest } = dataset;
  const source = sourceMessage.get(dataset);
  if (source) return { ...source, ...rest };
  const count = users.length;
  const items = flat(count, (u) => users[u].items, (length) => new Int32Array(length));
  const userIdStarts = new Int32Array(count + 1);
  for (let u = 0; u < count; u++) userIdStarts[u + 1] = userIdStarts[u] + users[u].userId.length;
  const tokens = flat(itemTokens.length, (i) => itemTokens[i], (length) => new Int32Array(length));
  return {
    ...rest,
    historyStarts: items.starts,
    items: items.all,
    labels: flat(count, (u) => users[u].labels, (length) => new Uint8Array(length)).all,
    split: flat(count, (u) => users[u].split, (length) => new Uint8Array(length)).all,
    userIdText: users.map((user) => user.userId).join(''),
    userIdStarts,
    itemTokenStarts: tokens.starts,
    itemTokenIds: tokens.all,
  };
}

/** The message's buffers, once each: posted as transfers they move instead of being copied. */
export function messageBuffers(message: DatasetMessage): ArrayBuffer[] {
  const arrays = [message.historyStarts, message.items, message.labels, message.split, message.userIdStarts, message.itemTokenStarts, message.itemTokenIds, message.itemIds];
  return [...new Set(arrays.map((array) => array.buffer).filter((buffer): buffer is ArrayBuffer => buffer instanceof ArrayBuffer))];
}

function userAt(message: DatasetMessage, u: number): UserHistory {
  const from = message.historyStarts[u];
  const to = message.historyStarts[u + 1];
  return {
    userId: message.userIdText.slice(message.userIdStarts[u], message.userIdStarts[u + 1]),
    items: message.items.subarray(from, to),
    labels: message.labels.subarray(from, to),
    split: message.split.subarray(from, to),
  };
}

/** The dataset of the message with these users, remembered as rebuilt from it (datasetToMessage sends it again). */
function assemble(message: DatasetMessage, users: UserHistory[]): TokenizedDataset {
  const { historyStarts, items, labels, split, userIdText, userIdStarts, itemTokenStarts, itemTokenIds, ...rest } = message;
  const itemTokens = Array.from({ length: itemTokenStarts.length - 1 }, (_, i) => itemTokenIds.subarray(itemTokenStarts[i], itemTokenStarts[i + 1]));
  const dataset = { ...rest, itemTokens, users };
  sourceMessage.set(dataset, message);
  return dataset;
}

/** The dataset, every view built at once (for a worker, whose thread nothing waits on). */
export function datasetFromMessage(message: DatasetMessage): TokenizedDataset {
  return assemble(message, Array.from({ length: message.historyStarts.length - 1 }, (_, u) => userAt(message, u)));
}

/** The dataset, its users rebuilt USERS_PER_SLICE at a time with a pause for the page's other tasks between slices. */
export async function datasetFromMessageInSlices(message: DatasetMessage, pause: () => Promise<void>): Promise<TokenizedDataset> {
  const count = message.historyStarts.length - 1;
  const users: UserHistory[] = new Array(count);
  for (let from = 0; from < count; from += USERS_PER_SLICE) {
    if (from > 0) await pause();
    const to = Math.min(count, from + USERS_PER_SLICE);
    for (let u = from; u < to; u++) users[u] = userAt(message, u);
  }
  return assemble(message, users);
}
