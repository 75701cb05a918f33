/** The page's export to PyTorch: one worker (src/train/shard-worker.ts) per export, ended when it answers. */
import { datasetToMessage } from '../data/dataset-message';
import type { ShardEvent, ShardRequest } from '../train/shard-protocol';
import type { ShardExporter } from './types';

export const workerShardExporter: ShardExporter = (dataset, config, provenance, onProgress) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL('../train/shard-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (message: MessageEvent<ShardEvent>) => {
      const event = message.data;
      if (event.type === 'progress') return onProgress(event.fraction);
      worker.terminate();
      if (event.type === 'error') reject(new Error(event.message));
      else resolve({ filename: event.filename, bytes: event.bytes });
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`export worker failed: ${event.message}`));
    };
    const request: ShardRequest = { dataset: datasetToMessage(dataset), config, provenance };
    worker.postMessage(request);
  });
