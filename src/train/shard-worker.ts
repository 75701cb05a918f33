/// <reference lib="webworker" />
/**
 * The page's export to PyTorch runs here (src/train/shards.ts shardArchive), so packing every prompt of a large
 * dataset never freezes the page. One worker per export; the archive's buffer moves to the page.
 */
import { datasetFromMessage } from '../data/dataset-message';
import { shardArchive } from './shards';
import type { ShardRequest, ShardEvent } from './shard-protocol';

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = async (message: MessageEvent<ShardRequest>) => {
  const { dataset, config, provenance } = message.data;
  const post = (event: ShardEvent, transfer: Transferable[] = []) => self.postMessage(event, transfer);
  try {
    const archive = await shardArchive(datasetFromMessage(dataset), config, provenance, (fraction) => post({ type: 'progress', fraction }));
    post({ type: 'done', ...archive }, [archive.bytes.buffer]);
  } catch (error) {
    post({ type: 'error', message: (error as Error)?.message ?? String(error) });
  }
};
