import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { histories } from './hostile-corpus';
import { DataError, type LoadResult, parseFiles, previewFiles, renderInteraction } from './index';
import { preprocess, DEFAULT_PREPROCESS_OPTIONS } from './preprocess';
import { decodeText } from './encoding';
import { streamRows } from './rows';
import {
  CP1252_TITLE,
  LATIN1_TITLES,
  bookCrossing,
  csvFiles,
  file,
  fixtureWorld,
  jsonLines,
  movieLens100k,
  movieLens1m,
  utf8,
} from './test-fixtures';

const N = 3;
const world = fixtureWorld();
/** What the world looks like when it never touched a file. */
const direct = preprocess(world, { ...DEFAULT_PREPROCESS_OPTIONS, n: N });

async function rejection(promise: Promise<unknown>): Promise<DataError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return error as DataError;
  }
  throw new Error('expected a DataError');
}

describe('every supported format parses to the same dataset as the data it was written from', () => {
  const ml100k = movieLens100k(world);
  const ml1m = movieLens1m(world);
  const csv = csvFiles(world);
  const tsv = csvFiles(world, '\t');
  const cases: [string, File[], string][] = [
    ['MovieLens-100K', [ml100k.data, ml100k.item], 'movielens-100k'],
    ['MovieLens-1M', [ml1m.ratings, ml1m.movies], 'movielens-1m'],
    ['CSV', [csv.ratings, csv.movies], 'csv'],
    ['TSV', [tsv.ratings, tsv.movies], 'csv'],
    ['JSON Lines', [jsonLines(world)], 'jsonl'],
  ];
  it.each(cases)('%s', async (_, files, format) => {
    const result = await parseFiles(files, { n: N });
    expect(result.format).toBe(format);
    expect(result.skipped.count).toBe(0);
    expect(histories(result)).toEqual(histories(direct));
    // The words are the world's; the item-id tokens name the files' own item keys (the world's are prefixed).
    const words = (r: Pick<LoadResult, 'dataset'>) => r.dataset.vocab.tokens.filter((token) => !token.startsWith('item_'));
    const ids = (r: Pick<LoadResult, 'dataset'>) => r.dataset.vocab.tokens.length - words(r).length;
    expect(words(result)).toEqual(words(direct));
    expect(ids(result)).toBe(ids(direct));
    expect(ids(result)).toBeGreaterThan(0);
    expect(result.dataset.itemTitles).toEqual(expect.arrayContaining(LATIN1_TITLES));
    expect(result.stats.labelRule).toEqual({ threshold: 3, inclusive: false });
  });

  it('BookCrossing (cp1252, quoted, CRLF, 0–10 ratings, no timestamps: file order)', async () => {
    const { ratings, books } = bookCrossing(world);
    // The world's rating r is written as 2r, so "2r >= 8" is the world's "r > 3".
    const result = await parseFiles([ratings, books], { n: N, labelRule: { threshold: 8, inclusive: true } });
    expect(result.format).toBe('bookcrossing');
    expect(result.stats.hasTimestamps).toBe(false);
    // BookCrossing books have titles but no genres.
    const catalog = { ...world.catalog, titles: [CP1252_TITLE, ...world.catalog.titles.slice(1)], genres: world.catalog.genres.map(() => []) };
    const expected = preprocess({ ...world, catalog }, { ...DEFAULT_PREPROCESS_OPTIONS, n: N });
    expect(histories(result)).toEqual(histories(expected));
    expect(result.dataset.itemTitles).toContain(CP1252_TITLE);
    // BookCrossing's own default: rating >= 5 of 10.
    const byDefault = await parseFiles([ratings, books], { n: N });
    expect(byDefault.stats.labelRule).toEqual({ threshold: 5, inclusive: true });
  });

  it('gives the same result when every slice is 7 bytes (multi-byte characters, CRLF and quotes split across slices)', async () => {
    for (const files of [[csv.ratings, csv.movies], Object.values(bookCrossing(world)), [jsonLines(world)]]) {
      const whole = await parseFiles(files, { n: N });
      const sliced = await parseFiles(files, { n: N, chunkBytes: 7 });
      expect(histories(sliced)).toEqual(histories(whole));
      expect(sliced.dataset.itemTitles).toEqual(whole.dataset.itemTitles);
    }
  });

  it('ratings alone give item-id tokens', async () => {
    const result = await parseFiles([ml100k.data], { n: N });
    expect(result.dataset.itemTitles[0]).toMatch(/^item \d+$/);
    expect(renderInteraction(result.dataset, 0, 1)).toMatch(/^item_\d+ \[SUM\] \[LIKE\]$/);
  });

  it('ignores MovieLens-100K split files and companion files next to u.data', async () => {
    const result = await parseFiles([ml100k.data, ml100k.item, file('u1.base', '1\t2\t3\t4\n'), file('u.user', '1|24|M|technician|85711\n')], { n: N });
    expect(result.files).toEqual([
      { name: 'u.data', role: 'ratings', description: 'MovieLens-100K ratings (user⇥item⇥rating⇥timestamp)' },
      { name: 'u.item', role: 'items', description: 'MovieLens-100K items (item|title|release|video release|IMDb URL|19 genre flags)' },
      {
        name: 'u1.base',
        role: 'unused',
        description: 'MovieLens-100K ratings (user⇥item⇥rating⇥timestamp): a predefined split of u.data (not used; the lab splits by time)',
      },
      { name: 'u.user', role: 'unused', description: 'MovieLens-100K users (not used)' },
    ]);
  });
});

describe('preview', () => {
  it('shows format, encoding, column mapping and the first rows, decoded', async () => {
    const { data, item } = movieLens100k(world);
    const [ratings, items] = await previewFiles([data, item]);
    expect(ratings.description).toBe('MovieLens-100K ratings (user⇥item⇥rating⇥timestamp)');
    expect(ratings.mapping).toEqual({ user: 'user', item: 'item', rating: 'rating', timestamp: 'timestamp' });
    expect(ratings.sample[0]).toEqual(['1', '16', '1', '980563689']);
    expect(items.encoding).toBe('windows-1252');
    expect(items.sample[0].slice(0, 2)).toEqual(['1', LATIN1_TITLES[0]]);
    const [books] = await previewFiles([bookCrossing(world).books]);
    expect(books.sample[0][1]).toBe(CP1252_TITLE.replace('&', '&amp;'));
  });

  it('reports a file problem in the preview instead of throwing', async () => {
    const [good, bad] = await previewFiles([csvFiles(world).ratings, file('empty.csv', '')]);
    expect(good.error).toBeNull();
    expect(bad.error?.message).toMatch(/^empty\.csv: the file is empty \(0 bytes\); expected one of: MovieLens-100K/);
  });

  it('lists the columns of a file whose columns were not found, for the mapping', async () => {
    const [preview] = await previewFiles([file('r.csv', 'member,thing,stars\na,b,4\n')]);
    expect(preview.error?.problem).toBe('the header has no user column, no item column (columns: member, thing, stars)');
    expect(preview.columnNames).toEqual(['member', 'thing', 'stars']);
  });
});

describe('column mapping and labels of generic files', () => {
  const header = 'member,thing,stars,when\n';
  const rows = Array.from({ length: 12 }, (_, i) => `m1,t${i},${1 + (i % 5)},${1000 + i}\n`).join('');

  it('asks for a mapping when column names are unusual, and uses it when given', async () => {
    const ratings = file('ratings.csv', header + rows);
    const error = await rejection(parseFiles([ratings], { n: 3 }));
    expect(error.message).toBe(
      'ratings.csv: line 1: the header has no user column, no item column (columns: member, thing, stars, when); ' +
        'expected columns named like user (user/userid/uid), item (item/itemid/iid), rating (rating/score/stars), label (label/click/clicked), ' +
        'timestamp (timestamp/time/ts), title (title/name/itemname), genres (genres/genre/category) — or a column mapping that names them (the page offers one after a failed upload; npm run experiment takes --columns)',
    );
    const result = await parseFiles([ratings], { n: 3, columns: { user: 'member', item: 'thing', rating: 'stars', timestamp: 'when' } });
    expect(result.stats.interactions).toBe(12);
    expect(result.stats.positiveRate).toBeCloseTo(4 / 12);
  });

  it('uses 0/1 labels as they are', async () => {
    const labelled = file('clicks.csv', `user,item,click,ts\n${Array.from({ length: 6 }, (_, i) => `a,i${i},${i % 2},${i}\n`).join('')}`);
    const fromLabels = await parseFiles([labelled], { n: 2 });
    expect(fromLabels.stats.labelSource).toBe('labels');
    expect(Array.from(fromLabels.dataset.users[0].labels)).toEqual([0, 1, 0, 1, 0, 1]);
    const binary = file('binary.csv', `user,item,rating\n${Array.from({ length: 6 }, (_, i) => `a,i${i},${i % 2}\n`).join('')}`);
    expect((await parseFiles([binary], { n: 2 })).stats.labelSource).toBe('binary-ratings');
    // Words exports use for clicks; anything else is refused with what the column may hold.
    const words = ['yes', 'No', 'TRUE', 'false', ' y ', 'n'];
    const worded = file('worded.csv', `user,item,clicked\n${words.map((w, i) => `a,i${i},${w}\n`).join('')}`);
    expect(Array.from((await parseFiles([worded], { n: 2 })).dataset.users[0].labels)).toEqual([1, 0, 1, 0, 1, 0]);
    const odd = file('odd.csv', `user,item,clicked\n${['yes', 'no', 'constructor', 'yes', 'no'].map((w, i) => `a,i${i},${w}\n`).join('')}`);
    await expect(parseFiles([odd], { n: 2 })).resolves.toMatchObject({ skipped: { count: 1 } });
  });

  it('counts line numbers across quoted fields that hold newlines', async () => {
    const ratings = file('r.csv', 'user,item,rating,title\na,1,4,"two\nlines"\na,2,4,x\na,3,oops,y\na,4,1,z\na,5,5,w\na,6,5,v\n');
    const result = await parseFiles([ratings], { n: 2 });
    expect(result.skipped).toEqual({
      count: 1,
      examples: [{ file: 'r.csv', line: 5, reason: 'rating "oops" is not a number; expected a number in column "rating"' }],
    });
  });
});

// Each kind of hostile file, with its outcome: hostile-corpus.test.ts.
describe('any bytes', () => {
  it('never fails with anything but a DataError, whatever the bytes', async () => {
    const text = fc.array(fc.constantFrom('user', 'item', 'rating', ',', ';', '\t', '|', '::', '"', '\n', '\r\n', '1', '4', 'x', '{', '}', ' ', 'é'), { maxLength: 60 });
    const header = fc.constantFrom('', 'user,item,rating,timestamp\n', 'user;item;label\n', '{"user": 1, "item": 2, "rating": 3}\n');
    const textFile = fc.tuple(header, text).map(([head, parts]) => utf8(head + parts.join('')));
    await fc.assert(
      fc.asyncProperty(fc.oneof(textFile, fc.uint8Array({ maxLength: 200 })), async (bytes) => {
        try {
          await parseFiles([file('any.csv', bytes)], { n: 1 });
        } catch (error) {
          if (!(error instanceof DataError)) throw error;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeText', () => {
  it("decodes every cp1252 byte like the streaming decoder (Node 20's one-shot path decodes 0x80–0x9F as Latin-1)", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const streamed = new TextDecoder('windows-1252').decode(bytes, { stream: true });
    expect(decodeText(new TextDecoder('windows-1252'), bytes)).toBe(streamed);
    expect(decodeText(new TextDecoder('windows-1252'), Uint8Array.from([0x80, 0x92, 0x9f]))).toBe('€’Ÿ');
  });
});

describe('streamRows', () => {
  async function rows(chunks: string[], quoted = true) {
    const out: [number, string[]][] = [];
    async function* source() {
      yield* chunks;
    }
    await streamRows(source(), 'f.csv', { kind: 'delimited', delimiter: ',', quoted }, {
      row: (fields, line) => out.push([line, fields]),
      bad: (line, problem) => out.push([line, [problem]]),
    });
    return out;
  }

  it('joins rows split across chunks, CRLF included, and numbers lines past quoted newlines', async () => {
    expect(await rows(['a,b\r', '\nc,"d\r\ne"\r\n', '\r\nf,g'])).toEqual([
      [1, ['a', 'b']],
      [2, ['c', 'd\ne']],
      [5, ['f', 'g']],
    ]);
    // LF, CRLF and lone CR in one text, a CR at a chunk's end whose LF starts the next, a lone CR inside quotes.
    expect(await rows(['a,b\rc,d\r', '\ne,"f\rg"\nh,i\r', 'j,k'])).toEqual([
      [1, ['a', 'b']],
      [2, ['c', 'd']],
      [3, ['e', 'f\ng']],
      [5, ['h', 'i']],
      [6, ['j', 'k']],
    ]);
    expect(await rows(['x,"y', '""z"', '\n'])).toEqual([[1, ['x', 'y"z']]]);
    expect(await rows(['x,"y\n'], false)).toEqual([[1, ['x', '"y']]]);
  });
});
