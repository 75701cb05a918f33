import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataError, type LoadResult, parseFiles, previewFiles, renderInteraction } from './index';
import { preprocess, DEFAULT_PREPROCESS_OPTIONS } from './preprocess';
import { decodeText } from './encoding';
import { streamRows } from './rows';
import {
  CP1252_TITLE,
  LATIN1_TITLES,
  bookCrossing,
  cp1252,
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

/** Each user's history as text (item tokens, label token, split): independent of item and user numbering. */
function histories(result: Pick<LoadResult, 'dataset'>): string[][] {
  const { dataset } = result;
  return dataset.users.map((user) =>
    Array.from(user.items, (item, i) => `${renderInteraction(dataset, item, user.labels[i])} #${user.split[i]}`),
  );
}

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

  it('reads a movies.dat re-saved as UTF-8 (as MovieLens-10M ships) as UTF-8, a Latin-1 one as cp1252; the option overrides both', async () => {
    const movies = file('movies.dat', utf8('1::Amélie (2001)::Comedy|Romance\n'));
    const [detected] = await previewFiles([movies]);
    expect(detected.sample[0]).toEqual(['1', 'Amélie (2001)', 'Comedy|Romance']);
    const [latin1] = await previewFiles([file('movies.dat', cp1252('1::Amélie (2001)::Comedy|Romance\n'))]);
    expect(latin1.sample[0][1]).toBe('Amélie (2001)');
    const [overridden] = await previewFiles([movies], { encoding: 'windows-1252' });
    expect(overridden.sample[0][1]).toBe('AmÃ©lie (2001)');
  });

  it('detects a CSV that is not UTF-8 as cp1252, and says that this is a guess', async () => {
    const ratings = file('r.csv', cp1252('user;item;rating;title\n1;10;4;Café’s\n1;11;2;Niño\n'));
    const [preview] = await previewFiles([ratings]);
    expect(preview.encoding).toBe('windows-1252');
    expect(preview.sample[0]).toEqual(['1', '10', '4', 'Café’s']);
    const result = await parseFiles([ratings], { n: 1 });
    expect(result.dataset.itemTitles).toEqual(['Café’s', 'Niño']);
    expect(result.notes).toEqual([
      {
        file: 'r.csv',
        line: null,
        message:
          'r.csv: read as Windows-1252 (cp1252): its text is not valid UTF-8, and the file does not name its encoding; if accented letters look wrong, re-save the file as UTF-8',
      },
    ]);
    // Chosen, it is no guess.
    expect((await parseFiles([ratings], { n: 1, encoding: 'windows-1252' })).notes).toEqual([]);
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

describe('data that would load wrong is read right or refused', () => {
  const rows = (count: number, row: (i: number) => string) => Array.from({ length: count }, (_, i) => `${row(i)}\n`).join('');

  it('an exact column name wins over a synonym further left ("item" over "product")', async () => {
    const ratings = file('r.csv', `product,user,item,rating\n${rows(8, (i) => `p${i % 2},u,i${i},4`)}`);
    const result = await parseFiles([ratings], { n: 2 });
    expect(result.stats.items).toBe(8);
  });

  it('refuses a used column whose name the header holds twice, naming both', async () => {
    const ratings = file('r.csv', `user,item,rating,item\n${rows(6, (i) => `u,i${i},4,j${i}`)}`);
    const error = await rejection(parseFiles([ratings], { n: 2 }));
    expect(error.message).toContain('r.csv: line 1: the item column "item" is not the only column of that name (columns 2, 4');
  });

  it('reads JSON keys first seen late in the first 64 KiB', async () => {
    const lines = rows(80, (i) => JSON.stringify({ user: 'u', item: `i${i}`, rating: 4, ...(i >= 60 ? { title: `Late ${i}` } : {}) }));
    const result = await parseFiles([file('r.jsonl', lines)], { n: 2 });
    expect(result.dataset.itemTitles).toContain('Late 70');
  });

  it('reads every line of a file whose lines end in LF, CRLF and lone CR, mixed (old Mac files end in CR)', async () => {
    const ends = ['\n', '\r\n', '\r'];
    const mixed = async (source: File) => {
      let n = 0;
      return file(source.name, utf8((await source.text()).replace(/\r\n|\n|\r/g, () => ends[n++ % ends.length])));
    };
    const ml100k = movieLens100k(world);
    const csv = csvFiles(world);
    const drops = [
      [await mixed(ml100k.data), ml100k.item],
      [await mixed(csv.ratings), await mixed(csv.movies)],
      [await mixed(jsonLines(world))],
    ];
    for (const files of drops) {
      for (const chunkBytes of [3, 1 << 20]) {
        const result = await parseFiles(files, { n: N, chunkBytes });
        expect(result.skipped.count).toBe(0);
        expect(histories(result)).toEqual(histories(direct));
      }
    }
    // Lines are numbered by every kind of line end: a bad row, and a NUL byte, on line 4 of a CR-only file.
    const crOnly = (fourth: string) => file('u.data', `1\t1\t4\t10\r1\t2\t4\t11\r1\t3\t4\t12\r${fourth}\r1\t5\t4\t14\r1\t6\t4\t15\r`);
    const bad = await parseFiles([crOnly('1\t4\tfour\t13')], { n: 2 });
    expect(bad.skipped.examples).toEqual([{ file: 'u.data', line: 4, reason: 'rating "four" is not a number; expected a number in column "rating"' }]);
    const nul = await rejection(parseFiles([crOnly('1\t4\u00004\t13')]));
    expect(nul.message).toMatch(/^u\.data: line 4: this looks like binary data \(it contains NUL bytes\)/);
  });

  /** A ratings CSV: `first`, then ASCII rows past the first 64 KiB, then the `late` bytes, which start on line lateLine. */
  const pastTheSample = (late: Uint8Array<ArrayBuffer>, first = 'user,item,rating,title\n') => {
    const head = first + rows(3000, (i) => `u${i % 30},i${i},4,Title ${i}`);
    expect(head.length).toBeGreaterThan(64 * 1024);
    return { ratings: file('ratings.csv', head, late), lateLine: head.split('\n').length };
  };

  it('decides the encoding of a file whose first 64 KiB are ASCII by its first byte outside ASCII, and says when that overturns the guess', async () => {
    // cp1252 after an ASCII start: cp1252 throughout, not "Caf\uFFFD".
    const latin = pastTheSample(cp1252('u1,late,5,Café Niño\n'));
    const [preview] = await previewFiles([latin.ratings]);
    expect(preview.encoding).toBe('utf-8');
    for (const chunkBytes of [5, 1 << 20]) {
      const result = await parseFiles([latin.ratings], { n: 2, chunkBytes });
      expect(result.dataset.itemTitles).toContain('Café Niño');
      expect(result.notes).toEqual([
        {
          file: 'ratings.csv',
          line: latin.lateLine,
          message:
            `ratings.csv: line ${latin.lateLine}: read as Windows-1252 (cp1252): this line, the first with a byte outside ASCII (past the first 64 KiB, which the preview read), ` +
            'is not valid UTF-8, and the file does not name its encoding; if accented letters look wrong, re-save the file as UTF-8',
        },
      ]);
    }
    // UTF-8 after an ASCII start stays UTF-8, with nothing to say.
    const utf = pastTheSample(utf8('u1,late,5,Café Niño\n'));
    const asUtf8 = await parseFiles([utf.ratings], { n: 2 });
    expect(asUtf8.dataset.itemTitles).toContain('Café Niño');
    expect(asUtf8.notes).toEqual([]);
    // A movies.dat (documented as Latin-1) with an ASCII start and UTF-8 later (as MovieLens-10M ships): UTF-8, said.
    const movieRows = rows(3000, (i) => `${i + 1}::Movie number ${i} (1995)::Drama`);
    expect(movieRows.length).toBeGreaterThan(64 * 1024);
    const movies = file('movies.dat', movieRows, utf8('3001::Amélie (2001)::Comedy|Romance\n'));
    const ratings = file('ratings.dat', rows(6, (i) => `1::${2996 + i}::4::${978300760 + i}`));
    const dat = await parseFiles([movies, ratings], { n: 2 });
    expect(dat.dataset.itemTitles).toContain('Amélie (2001)');
    expect(dat.notes.map((note) => note.message)).toEqual([
      "movies.dat: line 3001: read as UTF-8, not Windows-1252 (the format's usual encoding): this line, the first with a byte outside ASCII " +
        '(past the first 64 KiB, which the preview read), is valid UTF-8',
    ]);
  });

  it('refuses a UTF-8 file with bytes that are not UTF-8 past the first 64 KiB, naming both lines', async () => {
    const utf8Start = 'user,item,rating,title\nu0,first,4,Crème brûlée\n';
    const { ratings, lateLine } = pastTheSample(cp1252('u1,late,5,Café\n'), utf8Start);
    for (const chunkBytes of [5, 1 << 20]) {
      const error = await rejection(parseFiles([ratings], { n: 2, chunkBytes }));
      expect(error.message).toBe(
        `ratings.csv: line ${lateLine}: this line is not valid UTF-8 (byte 0xE9), but line 2 holds UTF-8 text: the file mixes two text encodings, ` +
          'and one of them would come out garbled; expected one text encoding in the whole file (re-save it as UTF-8)',
      );
    }
    // A real U+FFFD is valid UTF-8, and a character cut short by the end of the file is a truncation, not a second encoding.
    const late = utf8('u1,real,5,Real \uFFFD\nu1,cut,5,Cut \u00e9');
    const truncated = pastTheSample(late.subarray(0, late.length - 1), utf8Start);
    const result = await parseFiles([truncated.ratings], { n: 2 });
    expect(result.dataset.itemTitles).toEqual(expect.arrayContaining(['Real \uFFFD', 'Cut \uFFFD']));
  });

  it('says which JSON Lines key first seen past the first 64 KiB is not read, and on which line', async () => {
    const record = (i: number, more: object = {}) => JSON.stringify({ user: `u${i % 4}`, item: `i${i}`, rating: 4, ...more });
    const head = rows(2000, (i) => record(i));
    expect(head.length).toBeGreaterThan(64 * 1024);
    const late = rows(4, (i) => record(2000 + i, { timestamp: 1000 + i, style: 'x' }));
    const result = await parseFiles([file('r.jsonl', head + late)], { n: 2 });
    expect(result.stats.interactions).toBe(2004);
    // "style" names no column the lab reads: nothing is lost by leaving it.
    expect(result.notes.map((note) => note.message)).toEqual([
      'r.jsonl: line 2001: key "timestamp" first appears on this line, past the first 64 KiB the columns were chosen from, so it is not read ' +
        '(the lab reads a key of that name as the timestamp column); to use it, give it to one of the first records',
    ]);
    // Seen within the first 64 KiB, the key is read, and the records without it are named as such.
    const early = await rejection(parseFiles([file('r.jsonl', rows(6, (i) => record(i)) + late)], { n: 2 }));
    expect(early.message).toBe(
      'r.jsonl: line 1: the record has no "timestamp" (or it is empty) (6 of 10 rows unusable); expected a Unix time or an ISO date in column "timestamp"',
    );
  });

  it('refuses a global time cut that interactions of one timestamp make impossible, naming the timestamp and how many share it', async () => {
    const globalCut = { n: 2, split: { kind: 'global-time' as const, valid: 0.1, test: 0.1 } };
    const timed = (time: (i: number) => number) => file('r.csv', `user,item,rating,timestamp
${rows(40, (i) => `u${i % 4},i${i},4,${time(i)}`)}`);
    const validation = await rejection(parseFiles([timed((i) => (i < 10 ? 1000 + i : 5000))], globalCut));
    expect(validation.message).toBe(
      'r.csv: the global time cut leaves no validation interactions: 30 of the 40 interactions share the timestamp 5000, where both the validation cut ' +
        "(at 80 % of the interactions in time order) and the test cut (at 90 %) fall, and interactions of one time cannot be split; expected timestamps that differ around the cuts (or the 'per-user' split, which cuts each user's own history)",
    );
    const training = await rejection(parseFiles([timed((i) => (i < 36 ? 5000 : 6000 + i))], globalCut));
    expect(training.message).toMatch(
      /^r\.csv: the global time cut leaves no training interactions: 36 of the 40 interactions share the timestamp 5000, where the validation cut \(at 80 % of the interactions in time order\) falls,/,
    );
    // Distinct times around the cuts split as asked; the per-user split is not affected by ties.
    const distinct = await parseFiles([timed((i) => (i < 30 ? 5000 : 6000 + i))], globalCut);
    expect([distinct.stats.splits.train.interactions, distinct.stats.splits.valid.interactions, distinct.stats.splits.test.interactions]).toEqual([32, 4, 4]);
    expect((await parseFiles([timed(() => 5000)], { n: 2 })).stats.interactions).toBe(40);
  });

  it('refuses a MovieLens items file of another dataset than the ratings (u.data with movies.dat), which number movies differently', async () => {
    const { data, item } = movieLens100k(world);
    const { ratings, movies } = movieLens1m(world);
    const error = await rejection(parseFiles([data, movies], { n: N }));
    expect(error.message).toBe(
      'movies.dat: the items of another dataset: MovieLens-1M movies, while u.data holds MovieLens-100K ratings, and the two number their movies differently ' +
        "(every title would belong to another movie); expected the items file of u.data's own dataset (u.item)",
    );
    const reverse = await rejection(parseFiles([ratings, item], { n: N }));
    expect(reverse.message).toMatch(/^u\.item: the items of another dataset: MovieLens-100K items, while ratings\.dat holds MovieLens-1M ratings, .*\(movies\.dat\)$/);
    // MovieLens-1M, 10M and 20M share one numbering: their ratings.dat and movies.dat go together.
    expect((await parseFiles([ratings, movies], { n: N })).format).toBe('movielens-1m');
  });

  it('refuses JSON Lines ids that JSON cannot keep (integers beyond 2^53, objects), naming the key', async () => {
    const record = (i: number, user: unknown) => JSON.stringify({ user: 'u', item: `i${i}`, rating: 4 }).replace('"u"', String(user));
    const big = rows(6, (i) => record(i, `1234567890123456789${i}`));
    const error = await rejection(parseFiles([file('r.jsonl', big)], { n: 2 }));
    expect(error.message).toMatch(/^r\.jsonl: line 1: "user" is a number beyond 2\^53 \(12345678901234567000\): JSON numbers that large lose their last digits/);
    const nested = await rejection(parseFiles([file('r.jsonl', rows(6, (i) => record(i, '{"id":1}')))], { n: 2 }));
    expect(nested.message).toMatch(/^r\.jsonl: line 1: "user" is a JSON object .*expected a string or a number as "user"/);
    // As strings they are exact; an object in a key the lab does not read is no problem.
    const asStrings = rows(6, (i) => JSON.stringify({ user: `1234567890123456789${i % 2}`, item: `i${i}`, rating: 4, style: { format: 'x' } }));
    expect((await parseFiles([file('r.jsonl', asStrings)], { n: 2 })).stats.users).toBe(2);
  });

  it('reads the delimiter from Excel\'s "sep=;" line and skips it', async () => {
    const ratings = file('r.csv', `sep=;\nuser;item;rating\n${rows(6, (i) => `u;i${i};4`)}`);
    const [preview] = await previewFiles([ratings]);
    expect(preview.columnNames).toEqual(['user', 'item', 'rating']);
    expect(preview.sample[0]).toEqual(['u', 'i0', '4']);
    const result = await parseFiles([ratings], { n: 2 });
    expect([result.stats.interactions, result.skipped.count]).toEqual([6, 0]);
  });

  it('keeps "::" inside a movies.dat title, the genres after it', async () => {
    const movies = file('movies.dat', '1::Face::Off (1997)::Action|Thriller\n2::Heat (1995)::Crime\n3::A::B::C (2000)::Drama\n');
    const ratings = file('ratings.dat', rows(6, (i) => `1::${1 + (i % 3)}::4::${978300760 + i}`));
    const result = await parseFiles([movies, ratings], { n: 2 });
    expect(result.dataset.itemTitles).toEqual(expect.arrayContaining(['Face::Off (1997)', 'Heat (1995)', 'A::B::C (2000)']));
    const words = result.dataset.vocab.tokens;
    expect(words).toContain('thriller');
    expect(words).not.toContain('off (1997)');
  });

  it('refuses Unix times mixed with dates, naming both lines', async () => {
    const ratings = file('r.csv', `user,item,rating,timestamp\n${rows(4, (i) => `u,i${i},4,${978300760 + i}`)}u,i9,4,2001-01-01\n`);
    const error = await rejection(parseFiles([ratings], { n: 2 }));
    expect(error.message).toBe(
      'r.csv: line 6: timestamp "2001-01-01" is a date, but line 2 holds a number (a Unix time) ("978300760"): the two cannot be put in one time order; ' +
        'expected one kind of timestamp in column "timestamp": all numbers (Unix times) or all dates',
    );
  });

  it('one typo rating does not move the click rule of a 1–5 scale; a 0–100 scale gets its own', async () => {
    const typo = file('r.csv', `user,item,rating\n${rows(40, (i) => `u${i % 4},i${i},${1 + (i % 5)}`)}u0,i99,50\n`);
    expect((await parseFiles([typo], { n: 2 })).stats.labelRule).toEqual({ threshold: 3, inclusive: false });
    const hundred = file('r.csv', `user,item,rating\n${rows(40, (i) => `u${i % 4},i${i},${(i * 37) % 101}`)}u0,i99,100\nu1,i98,100\n`);
    expect((await parseFiles([hundred], { n: 2 })).stats.labelRule).toEqual({ threshold: 50, inclusive: true });
  });

  it('leaves out exact copies of a row, and says how many', async () => {
    const once = rows(6, (i) => `u,i${i},${1 + (i % 5)},${1000 + i}`);
    const copies = 'u,i3,4,1003\nu,i3,4,1003\n';
    const result = await parseFiles([file('r.csv', `user,item,rating,timestamp\n${once}${copies}u,i3,5,1003\n`)], { n: 2 });
    // Two copies of i3's row are left out; the same item rated differently at the same time stays.
    expect(result.stats.duplicateRows).toBe(2);
    expect(result.stats.interactions).toBe(7);
    // Without timestamps a copy is the same item shown again (click logs repeat items): kept.
    const untimed = await parseFiles([file('r.csv', `user,item,click\nu,a,0\nu,b,1\nu,a,0\nu,c,1\n`)], { n: 2 });
    expect([untimed.stats.duplicateRows, untimed.stats.interactions]).toEqual([0, 4]);
  });

  it('cuts a title of 100,000 characters to 200 for the page (its words are capped for the model anyway)', async () => {
    const ratings = file('r.csv', `user,item,rating,title\n${rows(6, (i) => `u,i${i},4,${i === 0 ? 'x'.repeat(100_000) : `T${i}`}`)}`);
    const titles = (await parseFiles([ratings], { n: 2 })).dataset.itemTitles;
    expect(titles[0]).toBe(`${'x'.repeat(199)}…`);
    expect(titles[1]).toBe('T1');
  });

  it("leaves out BookCrossing's implicit 0 ratings, and says how many", async () => {
    const header = '"User-ID";"ISBN";"Book-Rating"\n';
    const ratings = file('BX-Book-Ratings.csv', header + rows(9, (i) => `"1";"b${i}";"${i % 3 === 0 ? 0 : 4 + (i % 6)}"`));
    const result = await parseFiles([ratings], { n: 2 });
    expect([result.stats.implicitRatings, result.stats.interactions]).toEqual([3, 6]);
  });
});

describe('bad input gets a message naming the file, the line and what was expected', () => {
  const { data, item } = movieLens100k(world);
  const fewItems = movieLens100k({ ...world, catalog: { keys: [], titles: LATIN1_TITLES, genres: LATIN1_TITLES.map(() => ['Drama']) } }).item;

  it('empty file', async () => {
    const error = await rejection(parseFiles([file('ratings.csv', '')]));
    expect(error.message).toMatch(/^ratings\.csv: the file is empty \(0 bytes\); expected one of: MovieLens-100K u\.data/);
    const blank = await rejection(parseFiles([file('blank.csv', '\n  \n')]));
    expect(blank.message).toMatch(/^blank\.csv: the file holds only blank lines; expected one of: /);
  });

  it('header without rows', async () => {
    const error = await rejection(parseFiles([file('ratings.csv', 'user,item,rating\n')]));
    expect(error.message).toBe('ratings.csv: the file has no data rows; expected rows below the header');
  });

  it('unknown format', async () => {
    const error = await rejection(parseFiles([file('notes.txt', '\nhello world\nthis is prose\n')]));
    expect(error.message).toMatch(/^notes\.txt: line 2: unrecognised layout: "hello world"; expected one of: MovieLens-100K/);
    const fiveFields = await rejection(parseFiles([file('u.data', '1\t2\t3\t4\t5\n6\t7\t8\t9\t10\n')]));
    expect(fiveFields.message).toMatch(/is data, not a header row \(MovieLens-100K u\.data has 4 fields, user⇥item⇥rating⇥timestamp: this line has 5\)/);
    const exponent = await rejection(parseFiles([file('u.data', '196\t242\t3\t8.8e8\n186\t302\t3\t891717742\n')]));
    expect(exponent.message).toMatch(/^u\.data: line 1: .*is data, not a header row \(u\.data holds plain numbers: "8\.8e8" is written with an exponent or a sign\)/);
    const headerless = await rejection(parseFiles([file('r.csv', '1,2,3\n4,5,6\n')]));
    expect(headerless.message).toMatch(/^r\.csv: line 1: unrecognised layout: "1,2,3" is data, not a header row; expected one of:/);
  });

  it('binary garbage and archives', async () => {
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256);
    const error = await rejection(parseFiles([file('junk.bin', garbage)]));
    expect(error.message).toBe(
      'junk.bin: line 1: this looks like binary data (it contains NUL bytes), not text; expected a text file of ratings or items (extract archives first)',
    );
    const text = `user,item,rating\n${Array.from({ length: 50 }, (_, i) => `u,i${i},4\n`).join('')}`;
    const utf16 = await rejection(parseFiles([file('r.csv', new Uint8Array(Buffer.from(text, 'utf16le')))]));
    expect(utf16.message).toMatch(/^r\.csv: line 1: this looks like UTF-16LE text without a byte order mark \(save it as UTF-8\), not text/);
    const lines = text.split('\n');
    lines[39] = `u,i38\u00004`;
    const nul = await rejection(parseFiles([file('r.csv', lines.join('\n'))]));
    expect(nul.message).toMatch(/^r\.csv: line 40: this looks like binary data \(it contains NUL bytes\)/);
    const zip = await rejection(parseFiles([file('ml-100k.zip', Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]))]));
    expect(zip.message).toMatch(/^ml-100k\.zip: line 1: this looks like a zip archive, not text; /);
  });

  it('non-numeric rating: one row is skipped and shown, a file of them is rejected', async () => {
    const good = (i: number) => `u${i % 2},i${i},4,${i}\n`;
    const rows = Array.from({ length: 10 }, (_, i) => good(i));
    rows.splice(2, 0, 'u1,i99,five,100\n');
    const result = await parseFiles([file('r.csv', `user,item,rating,timestamp\n${rows.join('')}`)], { n: 2 });
    expect(result.skipped.count).toBe(1);
    expect(result.skipped.examples[0]).toEqual({ file: 'r.csv', line: 4, reason: 'rating "five" is not a number; expected a number in column "rating"' });
    const allBad = file('r.csv', 'user,item,rating\na,b,x\na,c,y\n');
    const error = await rejection(parseFiles([allBad]));
    expect(error.message).toBe('r.csv: line 2: rating "x" is not a number (every row unusable); expected a number in column "rating"');
  });

  it('non-numeric timestamp', async () => {
    const ratings = file('ratings.dat', '1::1::5::978300760\n1::2::5::soon\n1::3::4::978300762\n1::4::2::978300763\n');
    const result = await parseFiles([ratings], { n: 2 });
    expect(result.skipped.examples).toEqual([
      { file: 'ratings.dat', line: 2, reason: 'timestamp "soon" is neither a number nor a date; expected a Unix time or an ISO date in column "timestamp"' },
    ]);
    const dates = file('r.csv', 'user,item,rating,date\na,1,4,2021-03-01\na,2,4,2020-01-01\na,3,2,2020-06-01\n');
    const byDate = await parseFiles([dates], { n: 2 });
    expect(byDate.dataset.itemTitles).toEqual(['item 1', 'item 2', 'item 3']);
    expect(Array.from(byDate.dataset.users[0].items)).toEqual([1, 2, 0]);
  });

  it('rows with too few fields', async () => {
    const ratings = file('ratings.dat', '1::1::5::978300760\n1::2::5\n1::3::4::978300762\n1::4::2::978300763\n');
    const result = await parseFiles([ratings], { n: 2 });
    expect(result.skipped.examples[0]).toEqual({ file: 'ratings.dat', line: 2, reason: 'the row has 3 fields; expected at least 4: user::item::rating::timestamp' });
  });

  it('ratings whose items are not in the items file', async () => {
    // Most of them: the files do not belong together. fewItems lists the world's first 4 items (ids 1–4).
    const error = await rejection(parseFiles([data, fewItems], { n: N }));
    const rows = Array.from(world.item);
    const unlisted = rows.filter((item) => item >= 4);
    const first = rows.findIndex((item) => item >= 4);
    expect(error.message).toBe(
      `u.data: line ${first + 1}: ${unlisted.length} of the ${rows.length} ratings name an item that is not in u.item (the first: item "${rows[first] + 1}"), ` +
        `and only ${new Set(rows.filter((item) => item < 4)).size} of the 4 items listed there are rated: ` +
        "the files do not belong together; expected the items file of u.data's own dataset, whose item ids are the ones the ratings use",
    );
    // A few unknown items are skipped and counted.
    const manyItems = movieLens100k({ ...world, catalog: { keys: world.catalog.keys.slice(0, 28), titles: world.catalog.titles.slice(0, 28), genres: world.catalog.genres.slice(0, 28) } }).item;
    const result = await parseFiles([data, manyItems], { n: N });
    expect(result.skipped.count).toBeGreaterThan(0);
    expect(result.skipped.examples[0].reason).toMatch(/^item "(29|30)" is not in u\.item; expected every rated item/);
  });

  it('no ratings file, or several', async () => {
    const none = await rejection(parseFiles([item]));
    expect(none.message).toMatch(/^no ratings file among the files \(u\.item: MovieLens-100K items .*\); expected a ratings file: u\.data, ratings\.dat/);
    const two = await rejection(parseFiles([data, movieLens1m(world).ratings]));
    expect(two.message).toBe('several ratings files (u.data, ratings.dat); expected one ratings file, with at most its items file');
  });

  it('JSON problems', async () => {
    const array = await rejection(parseFiles([file('r.json', '[{"user": 1}]')]));
    expect(array.message).toBe('r.json: line 1: this is a JSON array; expected JSON Lines: one JSON object per line, no enclosing [ ]');
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ user: 'a', item: i, rating: 5, timestamp: i }));
    lines.splice(1, 0, '{"user": "a", "item": 9, "rating": ');
    const result = await parseFiles([file('r.jsonl', lines.join('\n'))], { n: 2 });
    expect(result.skipped.examples[0].line).toBe(2);
    expect(result.skipped.examples[0].reason).toMatch(/^not valid JSON \(.+\); expected one JSON object per line$/);
  });

  it('an unclosed quote stops at the record limit instead of eating memory', async () => {
    const ratings = file('r.csv', `user,item,rating\na,1,4\na,"2,4\n${'x'.repeat(1_200_000)}\n`);
    const error = await rejection(parseFiles([ratings]));
    expect(error.message).toBe(
      'r.csv: line 3: a record runs past 1048576 characters without ending (an unclosed quote?); expected one record per line, quotes closed on the same record',
    );
  });

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
