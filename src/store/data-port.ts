/** The page's data port: every load runs in the data worker (src/data/worker.ts), so the page never freezes. */
import { DataError, type LoadProgress, type LoadResult } from '../data';
import { loadInWorker, previewInWorker } from '../data/client';
import { type DataPrep, prepOptions } from './data-prep';
import type { DataPort, DataProgress, DatasetSource, LoadedDataset } from './types';
import { uploadOptions } from './upload-choices';

const megabytes = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function describeProgress(progress: LoadProgress): DataProgress {
  if (progress.phase === 'preprocess') return { message: 'Labelling, splitting by time and tokenizing', fraction: null };
  const file = progress.file ? `${progress.file}: ` : '';
  return { message: `${file}read ${megabytes(progress.bytesRead)} of ${megabytes(progress.totalBytes)} MB`, fraction: progress.fraction };
}

function loaded(result: LoadResult, source: DatasetSource, prep: DataPrep): LoadedDataset {
  return { data: result.dataset, stats: result.stats, source, format: result.format, files: result.files, skipped: result.skipped, notes: result.notes, prep };
}

/** DataError instances become plain DataErrorInfo objects, which the store keeps and the panel shows. */
async function plainErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw error instanceof DataError ? error.toInfo() : error;
  }
}

export const workerDataPort: DataPort = {
  loadBuiltin: async (preset, onProgress, prep, signal) => {
    onProgress({ message: 'Generating users, items and ratings', fraction: null });
    const result = await plainErrors(loadInWorker({ type: 'builtin', preset, options: prepOptions(prep) }, undefined, signal));
    return loaded(result, { kind: 'builtin', preset }, prep);
  },
  previewFiles: (files, choices, signal) => plainErrors(previewInWorker(files, uploadOptions(choices), signal)),
  loadFiles: async (files, onProgress, choices, prep, signal) => {
    const result = await plainErrors(
      loadInWorker(
        { type: 'parse', files, options: { ...uploadOptions(choices), ...prepOptions(prep) } },
        (progress) => onProgress(describeProgress(progress)),
        signal,
      ),
    );
    return loaded(result, { kind: 'upload', files: files.map((f) => f.name) }, prep);
  },
};
