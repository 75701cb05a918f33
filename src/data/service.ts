/** The data worker's work, as a plain function so tests can drive it without a Worker. */
import type { TokenizedDataset } from '../prompt/types';
import { DataError, type DataErrorInfo } from './errors';
import { loadBuiltin, parseFiles, previewFiles } from './index';
import type { DataEvent, DataRequest } from './protocol';

export type PostEvent = (event: DataEvent, transfer?: Transferable[]) => void;

export async function handleDataRequest(request: DataRequest, post: PostEvent): Promise<void> {
  try {
    switch (request.type) {
      case 'preview':
        post({ type: 'preview', previews: await previewFiles(request.files, request.options) });
        break;
      case 'parse': {
        const result = await parseFiles(request.files, request.options, (progress) => post({ type: 'progress', progress }));
        post({ type: 'loaded', result }, datasetBuffers(result.dataset));
        break;
      }
      case 'builtin': {
        const result = loadBuiltin(request.preset, request.options);
        post({ type: 'loaded', result }, datasetBuffers(result.dataset));
        break;
      }
    }
  } catch (error) {
    post({ type: 'error', error: errorInfo(error) });
  }
}

/** Every typed-array buffer of the dataset, once each, so posting it moves the arrays instead of copying them. */
function datasetBuffers(dataset: TokenizedDataset): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (array: { buffer: ArrayBufferLike }) => {
    if (array.buffer instanceof ArrayBuffer) buffers.add(array.buffer);
  };
  dataset.itemTokens.forEach(add);
  add(dataset.itemIds);
  for (const user of dataset.users) [user.items, user.labels, user.split].forEach(add);
  return [...buffers];
}

function errorInfo(error: unknown): DataErrorInfo {
  if (error instanceof DataError) return error.toInfo();
  const problem = `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
  return new DataError(problem, 'files the lab can read (this is a bug: please report it with the file)').toInfo();
}
