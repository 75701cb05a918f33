/**
 * The data layer's public API: the built-in dataset, or the user's own files, to a TokenizedDataset with statistics.
 * Everything here also runs inside the data worker (src/data/worker.ts), which the page uses for uploads.
 */
import type { TokenizedDataset } from '../prompt/types';
import { type TextEncoding, type TextEncodingName, describeTextEncoding } from './encoding';
import { DataError, type DataErrorInfo, type LoadNote, type SkippedRows } from './errors';
import { type ColumnMapping, type DetectedFile, type FileRole, MissingColumnsError, type NamedBlob, detectFile } from './formats';
import { type Preset, generateDataset } from './generator';
import { DEFAULT_READ_OPTIONS, type ReadOptions, markRedundantFiles, readFiles } from './parse';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions, checkPreprocessOptions, preprocess } from './preprocess';
import type { FormatId, RawDataset } from './raw';
import type { DatasetStats } from './stats';

export { historyScores, popularityScores, type ScoredTargets } from './baselines';
export type { DataErrorInfo, LoadNote, SkippedRows } from './errors';
export { DataError } from './errors';
export { TEXT_ENCODINGS, type TextEncoding, type TextEncodingName, describeTextEncoding, isTextEncodingName } from './encoding';
export type { ColumnKey, ColumnMapping, FileRole, NamedBlob } from './formats';
export { COLUMN_KEYS } from './formats';
export { PRESETS, PRESETS_ORDER, type Preset } from './generator';
export { DEFAULT_PREPROCESS_OPTIONS, defaultLabelRule, type LabelRule, type PreprocessOptions, type SplitRule } from './preprocess';
export type { FormatId } from './raw';
export type { DatasetStats, Distribution } from './stats';
export { interactionTokens, renderInteraction } from './tokenizer';

export interface LoadOptions extends PreprocessOptions, ReadOptions {}
export const DEFAULT_LOAD_OPTIONS: LoadOptions = { ...DEFAULT_PREPROCESS_OPTIONS, ...DEFAULT_READ_OPTIONS };

export interface BuiltinOptions extends PreprocessOptions {
  seed: number;
}

export interface LoadedFile {
  name: string;
  role: FileRole;
  description: string;
}

export interface LoadResult {
  dataset: TokenizedDataset;
  stats: DatasetStats;
  skipped: SkippedRows;
  /** What the person should know about how the files were read (an encoding guessed, a key not read). */
  notes: LoadNote[];
  format: FormatId;
  files: LoadedFile[];
}

export interface LoadProgress {
  phase: 'read' | 'preprocess';
  /** The file being read (read phase). */
  file: string | null;
  /** 0..1 over the read phase. */
  fraction: number;
  bytesRead: number;
  totalBytes: number;
}

/** What the page shows before a file is used: its detected format, columns and first rows, or its problem. */
export interface FilePreview {
  name: string;
  size: number;
  format: FormatId | null;
  role: FileRole | null;
  description: string;
  /** The encoding the rows are read in. */
  encoding: TextEncodingName | null;
  /** What `encoding` rests on: chosen, or detected from the sample or from ASCII alone. */
  encodingBasis: TextEncoding['basis'] | null;
  /** What the bytes tell, whatever was chosen: what choosing detection reads. */
  detectedEncoding: TextEncoding | null;
  /** Every column name; also given when columns are missing, so the page can offer a mapping. */
  columnNames: string[];
  /** Column name used for each key (so the mapping can be shown and edited); for missing columns, the keys found. */
  mapping: ColumnMapping;
  sample: string[][];
  error: DataErrorInfo | null;
}

export function loadBuiltin(preset: Preset, options: Partial<BuiltinOptions> = {}): LoadResult {
  const { seed = 1, ...preprocessOptions } = options;
  const { dataset, stats } = preprocess(generateDataset(preset, seed), { ...DEFAULT_PREPROCESS_OPTIONS, ...preprocessOptions });
  return {
    dataset,
    stats,
    skipped: { count: 0, examples: [] },
    notes: [],
    format: 'builtin',
    files: [{ name: dataset.name, role: 'ratings', description: 'generated in the browser' }],
  };
}

/** Reads, checks, preprocesses and tokenizes the user's files. Throws DataError (nothing is kept on failure). */
export async function parseFiles(
  files: readonly NamedBlob[],
  options: Partial<LoadOptions> = {},
  onProgress: (progress: LoadProgress) => void = () => {},
): Promise<LoadResult> {
  const merged: LoadOptions = { ...DEFAULT_LOAD_OPTIONS, ...options };
  checkPreprocessOptions(merged);
  const { raw, skipped, notes, files: detected } = await readFiles(files, merged, (progress) =>
    onProgress({ phase: 'read', ...progress }),
  );
  onProgress({ phase: 'preprocess', file: null, fraction: 1, bytesRead: 0, totalBytes: 0 });
  const { dataset, stats } = preprocessFile(raw, merged, detected.find((file) => file.role === 'ratings')!.name);
  return {
    dataset,
    stats,
    skipped,
    notes,
    format: raw.format,
    files: detected.map(({ name, role, description }) => ({ name, role, description })),
  };
}

/** preprocess, naming the ratings file in its errors (the options were checked before reading, so they are about the data). */
function preprocessFile(raw: RawDataset, options: LoadOptions, ratingsFile: string): ReturnType<typeof preprocess> {
  try {
    return preprocess(raw, options);
  } catch (error) {
    if (error instanceof DataError && error.file === null) throw new DataError(error.problem, error.expected, ratingsFile);
    throw error;
  }
}

/** Detects each file from its first 64 KiB; a file's problem is reported in its preview instead of thrown. */
export async function previewFiles(files: readonly NamedBlob[], options: Partial<LoadOptions> = {}): Promise<FilePreview[]> {
  const merged: LoadOptions = { ...DEFAULT_LOAD_OPTIONS, ...options };
  const results: (DetectedFile | DataError)[] = [];
  for (const file of files) {
    try {
      results.push(await detectFile(file, merged));
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      results.push(error);
    }
  }
  markRedundantFiles(results.filter((result): result is DetectedFile => !(result instanceof DataError)));
  return results.map((result, i) => (result instanceof DataError ? errorPreview(files[i], result) : previewOf(result)));
}

function errorPreview(file: NamedBlob, error: DataError): FilePreview {
  return {
    name: file.name,
    size: file.size,
    format: null,
    role: null,
    description: 'not usable',
    encoding: null,
    encodingBasis: null,
    detectedEncoding: null,
    columnNames: error instanceof MissingColumnsError ? error.columnNames : [],
    mapping: error instanceof MissingColumnsError ? error.found : {},
    sample: [],
    error: error.toInfo(),
  };
}

function previewOf(file: DetectedFile): FilePreview {
  const mapping: ColumnMapping = {};
  for (const [key, index] of Object.entries(file.columns)) mapping[key as keyof ColumnMapping] = file.columnNames[index];
  return {
    name: file.name,
    size: file.size,
    format: file.format,
    role: file.role,
    description: file.description,
    encoding: file.encoding.name,
    encodingBasis: file.encoding.basis,
    detectedEncoding: file.detectedEncoding,
    columnNames: file.columnNames,
    mapping,
    sample: file.sample,
    error: null,
  };
}

/** What detection finds in each file that could be read: "u.item — Windows-1252, a guess: …; u.data — ASCII …". */
export function detectedEncodings(previews: readonly FilePreview[]): string {
  return previews.flatMap((p) => (p.detectedEncoding ? [`${p.name} — ${describeTextEncoding(p.detectedEncoding)}`] : [])).join('; ');
}
