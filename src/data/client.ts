/** The page's side of the data worker: one Worker per request, terminated when it answers or is aborted. */
import { datasetFromMessageInSlices } from './dataset-message';
import { DataError } from './errors';
import type { FilePreview, LoadOptions, LoadProgress, LoadResult } from './index';
import type { NamedBlob } from './formats';
import type { DataEvent, DataRequest } from './protocol';

export function previewInWorker(files: NamedBlob[], options: Partial<LoadOptions> = {}, signal?: AbortSignal): Promise<FilePreview[]> {
  return run({ type: 'preview', files, options }, (event) => (event.type === 'preview' ? event.previews : undefined), undefined, signal);
}

export function loadInWorker(
  request: Extract<DataRequest, { type: 'parse' | 'builtin' }>,
  onProgress: (progress: LoadProgress) => void = () => {},
  signal?: AbortSignal,
): Promise<LoadResult> {
  return run(request, (event) => (event.type === 'loaded' ? event.result : undefined), onProgress, signal).then(async (result) => {
    // Between slices the page paints and handles input; a cancel meanwhile ends the load there.
    const pause = () => new Promise<void>((resolve, reject) => setTimeout(() => (signal?.aborted ? reject(cancelled(signal)) : resolve())));
    return { ...result, dataset: await datasetFromMessageInSlices(result.dataset, pause) };
  });
}

const cancelled = (signal: AbortSignal | undefined) => signal?.reason ?? new DOMException('Loading was cancelled', 'AbortError');

function run<T>(
  request: DataRequest,
  answer: (event: DataEvent) => T | undefined,
  onProgress: (progress: LoadProgress) => void = () => {},
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    const finish = () => {
      worker.terminate();
      signal?.removeEventListener('abort', abort);
    };
    const abort = () => {
      finish();
      reject(cancelled(signal));
    };
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort);
    worker.onmessage = (message: MessageEvent<DataEvent>) => {
      const event = message.data;
      if (event.type === 'progress') return onProgress(event.progress);
      finish();
      if (event.type === 'error') return reject(DataError.fromInfo(event.error));
      const value = answer(event);
      if (value === undefined) reject(new Error(`data worker: unexpected answer "${event.type}"`));
      else resolve(value);
    };
    worker.onerror = (event) => {
      finish();
      reject(new Error(`data worker failed: ${event.message}`));
    };
    worker.postMessage(request);
  });
}
