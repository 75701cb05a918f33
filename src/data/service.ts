/** The data worker's work, as a plain function so tests can drive it without a Worker. */
import { datasetToMessage, messageBuffers } from './dataset-message';
import { DataError, type DataErrorInfo } from './errors';
import { type LoadResult, loadBuiltin, parseFiles, previewFiles } from './index';
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
        postLoaded(post, result);
        break;
      }
      case 'builtin': {
        postLoaded(post, loadBuiltin(request.preset, request.options));
        break;
      }
    }
  } catch (error) {
    post({ type: 'error', error: errorInfo(error) });
  }
}

/** The result with its dataset in flat arrays, whose buffers move to the page instead of being copied. */
function postLoaded(post: PostEvent, result: LoadResult): void {
  const dataset = datasetToMessage(result.dataset);
  post({ type: 'loaded', result: { ...result, dataset } }, messageBuffers(dataset));
}

function errorInfo(error: unknown): DataErrorInfo {
  if (error instanceof DataError) return error.toInfo();
  const problem = `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
  return new DataError(problem, 'files the lab can read (this is a bug: please report it with the file)').toInfo();
}
