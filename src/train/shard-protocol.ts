/** Messages between the page and the export worker (shard-worker.ts). */
import type { DatasetMessage } from '../data/dataset-message';
import type { TrainConfig } from './protocol';
import type { ShardProvenance } from './shards';

export interface ShardRequest {
  dataset: DatasetMessage;
  config: TrainConfig;
  provenance: ShardProvenance;
}

export type ShardEvent =
  | { type: 'progress'; fraction: number }
  | { type: 'done'; filename: string; bytes: Uint8Array<ArrayBuffer> }
  | { type: 'error'; message: string };
