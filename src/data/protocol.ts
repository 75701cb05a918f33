/**
 * Messages between the page and the data worker (src/data/worker.ts). One worker serves one request and is then
 * terminated, so cancelling is terminating it and a slow parse never holds the page's thread.
 */
import type { DatasetMessage } from './dataset-message';
import type { DataErrorInfo } from './errors';
import type { BuiltinOptions, FilePreview, LoadOptions, LoadProgress, LoadResult } from './index';
import type { NamedBlob } from './formats';
import type { Preset } from './generator';

export type DataRequest =
  | { type: 'preview'; files: NamedBlob[]; options: Partial<LoadOptions> }
  | { type: 'parse'; files: NamedBlob[]; options: Partial<LoadOptions> }
  | { type: 'builtin'; preset: Preset; options: Partial<BuiltinOptions> };

/** A LoadResult as posted: its dataset in flat arrays (dataset-message.ts). */
export type LoadResultMessage = Omit<LoadResult, 'dataset'> & { dataset: DatasetMessage };

export type DataEvent =
  | { type: 'progress'; progress: LoadProgress }
  | { type: 'preview'; previews: FilePreview[] }
  | { type: 'loaded'; result: LoadResultMessage }
  | { type: 'error'; error: DataErrorInfo };
