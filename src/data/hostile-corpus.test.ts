/**
 * Every entry of the hostile-data corpus (hostile-corpus.ts) through the page's parse path: previewFiles (on drop),
 * then parseFiles (on load). An entry that loads must preview without a problem and give the facts its check expects;
 * one that is refused must fail with a DataError naming the file and line the entry names, with its message. Each is
 * read in the page's slices and, when small, in 3-byte slices too (every CRLF and multi-byte character split
 * somewhere), with the same outcome.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES } from './encoding';
import { type CorpusEntry, hostileCorpus } from './hostile-corpus';
import { DataError, type LoadResult, parseFiles, previewFiles } from './index';

const corpus = await hostileCorpus();
const TINY_SLICE_BYTES = 3;
/** Drops larger than this are read in the page's slices only: 3-byte slices of a megabyte take minutes. */
const TINY_SLICED_MAX_BYTES = 256 * 1024;

async function load(entry: CorpusEntry, chunkBytes: number): Promise<LoadResult | DataError> {
  try {
    return await parseFiles(entry.files, { ...entry.options, chunkBytes });
  } catch (error) {
    if (error instanceof DataError) return error;
    throw error;
  }
}

/** `file: line N: `, as a message that names them starts. */
const where = (file: string | null, line: number | null) => (file === null ? '' : `${file}: ${line === null ? '' : `line ${line}: `}`);

describe('the hostile-data corpus loads right or is refused with a message naming the file, the line and the cause', () => {
  it('names each entry once', () => {
    const ids = corpus.map((entry) => entry.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(corpus.map((entry) => [entry.id, entry] as const))('%s', async (_, entry) => {
    const previews = await previewFiles(entry.files, entry.options);
    expect(previews.map((p) => p.name)).toEqual(entry.files.map((f) => f.name));
    const bytes = entry.files.reduce((sum, f) => sum + f.size, 0);
    const slices = bytes <= TINY_SLICED_MAX_BYTES ? [DEFAULT_CHUNK_BYTES, TINY_SLICE_BYTES] : [DEFAULT_CHUNK_BYTES];
    const { expected } = entry;
    if (expected.outcome === 'loads') expect(previews.flatMap((p) => (p.error ? [p.error.message] : []))).toEqual([]);
    for (const chunkBytes of slices) {
      const outcome = await load(entry, chunkBytes);
      if (expected.outcome === 'loads') {
        if (outcome instanceof DataError) throw new Error(`expected ${entry.id} to load (${chunkBytes}-byte slices), but: ${outcome.message}`);
        expect(expected.observe({ result: outcome, previews })).toEqual(expected.facts);
      } else {
        if (!(outcome instanceof DataError)) throw new Error(`expected ${entry.id} to be refused (${chunkBytes}-byte slices), but it loaded`);
        expect({ file: outcome.file, line: outcome.line }).toEqual({ file: expected.file, line: expected.line });
        expect(outcome.message.startsWith(where(expected.file, expected.line))).toBe(true);
        if (typeof expected.message === 'string') expect(outcome.message).toBe(expected.message);
        else expect(outcome.message).toMatch(expected.message);
      }
    }
  });
});
