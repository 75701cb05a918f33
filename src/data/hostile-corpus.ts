/**
 * The hostile-data corpus (issue 20): one entry per kind of file that would load wrong, hang or get a misleading
 * message, each with the files (built here, small by default) and what the lab must do with them: load them, with
 * the facts a check compares, or refuse them with a DataError naming the file, the line where there is one, and the
 * cause. src/data/hostile-corpus.test.ts runs every entry through parseFiles and previewFiles; `npm run fuzz:corpus`
 * writes the files out with an index, to drop into the page by hand.
 */
import { oneClassProblem } from '../train/config';
import { type FilePreview, type LoadOptions, type LoadResult, renderInteraction } from './index';
import { DEFAULT_PREPROCESS_OPTIONS, preprocess } from './preprocess';
import { LATIN1_TITLES, cp1252, csvFiles, file, fixtureWorld, jsonLines, movieLens100k, movieLens1m, utf8 } from './test-fixtures';

/** What a load gave, for an entry's check to observe. */
export interface Loaded {
  result: LoadResult;
  previews: FilePreview[];
}

export interface Loads<Facts = unknown> {
  outcome: 'loads';
  /** What the check compares, in words. */
  check: string;
  observe(loaded: Loaded): Facts;
  /** What observe must return. */
  facts: Facts;
}

export interface Refused {
  outcome: 'refused';
  /** The file and line the DataError names (null where the problem is no one file's, or no one line's). */
  file: string | null;
  line: number | null;
  /** The whole message, or a pattern where the message ends in a long list of the formats. */
  message: string | RegExp;
}

export interface CorpusEntry {
  id: string;
  /** The class of hostile data, in the words of docs/RELIABILITY.md's table where it has a row. */
  issueClass: string;
  files: File[];
  /** What the person sets in the page before loading (the rest is the page's defaults). */
  options: PageChoices;
  expected: Loads | Refused;
}

/** The load options a person sets in the page: the split, the click rule, a column mapping, the text encoding. */
export type PageChoices = Partial<Pick<LoadOptions, 'split' | 'labelRule' | 'columns' | 'encoding'>>;

export interface CorpusSize {
  /** Users of 2 ratings each in the many-users u.data (2,500,000: 5 million rows, 119 MB, the issue's hanging upload). */
  tinyUsers: number;
}

export const SMALL_CORPUS: CorpusSize = { tinyUsers: 2_000 };
export const BIG_CORPUS: CorpusSize = { tinyUsers: 2_500_000 };

const loads = <Facts>(check: string, observe: (loaded: Loaded) => Facts, facts: Facts): Loads<Facts> => ({ outcome: 'loads', check, observe, facts });
const refused = (file: string | null, line: number | null, message: string | RegExp): Refused => ({ outcome: 'refused', file, line, message });

/** Each user's history as text (item tokens, label token, split): independent of item and user numbering. */
export function histories(result: Pick<LoadResult, 'dataset'>): string[][] {
  const { dataset } = result;
  return dataset.users.map((user) =>
    Array.from(user.items, (item, i) => `${renderInteraction(dataset, item, user.labels[i])} #${user.split[i]}`),
  );
}

const utf16le = (text: string) => Uint8Array.from(Array.from(text, (char) => char.charCodeAt(0)).flatMap((code) => [code & 0xff, code >> 8]));
const rows = (count: number, row: (i: number) => string) => Array.from({ length: count }, (_, i) => `${row(i)}\n`).join('');
const preview = (loaded: Loaded, name: string) => loaded.previews.find((p) => p.name === name)!;
const titles = ({ result }: Loaded) => result.dataset.itemTitles;
const duplicateFacts = ({ result }: Loaded) => ({ duplicateRows: result.stats.duplicateRows, interactions: result.stats.interactions });
const hasTitles = (wanted: string[]) => (loaded: Loaded) => wanted.filter((title) => titles(loaded).includes(title));

/** A u.data of `users` users with 2 ratings each, built in parts so the 119 MB version is no single string. */
function tinyUsers(users: number): File {
  const encoder = new TextEncoder();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  for (let start = 0; start < users; start += 50_000) {
    const end = Math.min(users, start + 50_000);
    let text = '';
    for (let user = start + 1; user <= end; user++) text += `${user}\t${1 + (user % 1682)}\t4\t${880000000 + user}\n${user}\t${1 + ((user * 7) % 1682)}\t2\t${880000001 + user}\n`;
    parts.push(encoder.encode(text));
  }
  return file('u.data', ...parts);
}

/** A ratings CSV: `first`, then ASCII rows past the first 64 KiB the preview reads, then `late`, from line lateLine. */
function pastTheSample(late: Uint8Array<ArrayBuffer>, first = 'user,item,rating,title\n'): { ratings: File; lateLine: number } {
  const head = first + rows(3000, (i) => `u${i % 30},i${i},4,Title ${i}`);
  if (head.length <= 64 * 1024) throw new Error('the ASCII start must fill the first 64 KiB');
  return { ratings: file('ratings.csv', head, late), lateLine: head.split('\n').length };
}

/** Every line end replaced by LF, CRLF and lone CR in turn. */
async function mixedLineEnds(source: File): Promise<File> {
  const ends = ['\n', '\r\n', '\r'];
  let n = 0;
  return file(source.name, utf8((await source.text()).replace(/\r\n|\n|\r/g, () => ends[n++ % ends.length])));
}

/** A CR-only u.data whose fourth line is `fourth`. */
const crOnly = (fourth: string) => file('u.data', `1\t1\t4\t10\r1\t2\t4\t11\r1\t3\t4\t12\r${fourth}\r1\t5\t4\t14\r1\t6\t4\t15\r`);

const jsonRecord = (i: number, more: object = {}) => JSON.stringify({ user: `u${i % 4}`, item: `i${i}`, rating: 4, ...more });
/** A JSON Lines record whose user is `user` written as raw JSON. */
const jsonUser = (i: number, user: string) => JSON.stringify({ user: 'u', item: `i${i}`, rating: 4 }).replace('"u"', user);
const lateJsonRecords = rows(4, (i) => jsonRecord(2000 + i, { timestamp: 1000 + i, style: 'x' }));

const amelie = '1::Amélie (2001)::Comedy|Romance\n';
const amelieRatings = () => file('ratings.dat', rows(6, (i) => `1::1::${1 + (i % 5)}::${978300760 + i}`));

const timedCsv = (time: (i: number) => number) => file('r.csv', `user,item,rating,timestamp\n${rows(40, (i) => `u${i % 4},i${i},4,${time(i)}`)}`);
const GLOBAL_CUT: PageChoices = { split: { kind: 'global-time', valid: 0.1, test: 0.1 } };

const utf8Start = 'user,item,rating,title\nu0,first,4,Crème brûlée\n';
const ratingsText = `user,item,rating\n${rows(50, (i) => `u,i${i},4`)}`;

/** Every entry, its files built at `size`. */
export async function hostileCorpus(size: CorpusSize = SMALL_CORPUS): Promise<CorpusEntry[]> {
  const world = fixtureWorld();
  /** What the world's files must load as: the world preprocessed without touching a file. */
  const direct = preprocess(world, DEFAULT_PREPROCESS_OPTIONS);
  const ml100k = movieLens100k(world);
  const ml1m = movieLens1m(world);
  const csv = csvFiles(world);
  const sameAsWritten = loads(
    'every line is read (no row skipped) and every user history equals that of the data the files were written from',
    ({ result }) => ({ skipped: result.skipped.count, histories: histories(result) }),
    { skipped: 0, histories: histories(direct) },
  );
  const latin = pastTheSample(cp1252('u1,late,5,Café Niño\n'));
  const twoEncodings = pastTheSample(cp1252('u1,late,5,Café\n'), utf8Start);
  const cutShort = utf8('u1,real,5,Real \uFFFD\nu1,cut,5,Cut \u00e9');
  const movieRows = rows(3000, (i) => `${i + 1}::Movie number ${i} (1995)::Drama`);
  if (movieRows.length <= 64 * 1024) throw new Error('the ASCII start of movies.dat must fill the first 64 KiB');
  const nulLines = ratingsText.split('\n');
  nulLines[39] = `u,i38\u00004`;
  // fewItems lists the world's first 4 items (ids 1–4), so most ratings name an item it lacks.
  const fewItems = movieLens100k({ ...world, catalog: { keys: [], titles: LATIN1_TITLES, genres: LATIN1_TITLES.map(() => ['Drama']) } }).item;
  const worldItems = Array.from(world.item);
  const firstUnlisted = worldItems.findIndex((item) => item >= 4);
  const catalog28 = { keys: world.catalog.keys.slice(0, 28), titles: world.catalog.titles.slice(0, 28), genres: world.catalog.genres.slice(0, 28) };

  const oneBadRating = Array.from({ length: 10 }, (_, i) => `u${i % 2},i${i},4,${i}\n`);
  oneBadRating.splice(2, 0, 'u1,i99,five,100\n');
  const jsonWithCutLine = Array.from({ length: 5 }, (_, i) => JSON.stringify({ user: 'a', item: i, rating: 5, timestamp: i }));
  jsonWithCutLine.splice(1, 0, '{"user": "a", "item": 9, "rating": ');

  const entries: CorpusEntry[] = [];
  const add = (id: string, issueClass: string, files: File[], expected: Loads | Refused, options: PageChoices = {}) =>
    entries.push({ id, issueClass, files, options, expected });

  // Issue 20, item 1: a load that hung the page.
  add(
    'many-tiny-users',
    'A u.data of millions of users with 2 ratings each (2.5 million: 119 MB, which hung the page at "Labelling…")',
    [tinyUsers(size.tinyUsers)],
    loads(
      "every user loads, and all users' histories share 3 buffers (items, labels, splits), so handing the dataset to the page is a fixed number of transfers",
      ({ result }) => ({
        users: result.stats.users,
        interactions: result.stats.interactions,
        userBuffers: new Set(result.dataset.users.flatMap((user) => [user.items.buffer, user.labels.buffer, user.split.buffer])).size,
      }),
      { users: size.tinyUsers, interactions: 2 * size.tinyUsers, userBuffers: 3 },
    ),
  );

  // Item 3: silent wrong datasets.
  add(
    'typo-rating',
    'One typo rating (50 on a 1–5 scale)',
    [file('r.csv', `user,item,rating\n${rows(40, (i) => `u${i % 4},i${i},${1 + (i % 5)}`)}u0,i99,50\n`)],
    loads('the click rule stays rating > 3', ({ result }) => result.stats.labelRule, { threshold: 3, inclusive: false }),
  );
  add(
    'typo-rating-movielens',
    'One typo rating (50 on a 1–5 scale)',
    [file('u.data', `${rows(60, (i) => `${1 + (i % 4)}\t${1 + i}\t${1 + (i % 5)}\t${874724710 + i}`)}1\t99\t50\t874724799\n`)],
    loads(
      'a MovieLens file rates in whole stars 1–5: the row is skipped and shown, not read as a like',
      ({ result }) => ({ interactions: result.stats.interactions, skipped: result.skipped.examples }),
      { interactions: 60, skipped: [{ file: 'u.data', line: 61, reason: 'rating "50" is not on MovieLens\'s scale; expected a whole number of stars from 1 to 5' }] },
    ),
  );
  add(
    'rating-scale-0-100',
    'One typo rating (50 on a 1–5 scale)',
    [file('r.csv', `user,item,rating\n${rows(40, (i) => `u${i % 4},i${i},${(i * 37) % 101}`)}u0,i99,100\nu1,i98,100\n`)],
    loads('a real 0–100 scale gets its own rule, rating ≥ 50', ({ result }) => result.stats.labelRule, { threshold: 50, inclusive: true }),
  );
  for (const [id, column, value, kind] of [
    ['one-class-all-rated-5', 'rating', 5, 'clicks'],
    ['one-class-no-clicks', 'click', 0, 'non-clicks'],
  ] as const) {
    add(
      id,
      'Training targets of one class (all clicks, none)',
      [file('r.csv', `user,item,${column}\n${rows(40, (i) => `u${i % 4},i${i},${value}`)}`)],
      loads(
        'the data loads, and the check the page and the trainer run before training refuses it, naming the click threshold to change',
        ({ result }) => oneClassProblem(result.dataset, 1),
        `all 28 training targets of "CSV: r.csv" are ${kind}: a CTR model learns from the difference, and no AUC can be computed; choose another click threshold or other data`,
      ),
    );
  }
  add(
    'unix-times-and-dates',
    'Unix times mixed with dates in one timestamp column',
    [file('r.csv', `user,item,rating,timestamp\n${rows(4, (i) => `u,i${i},4,${978300760 + i}`)}u,i9,4,2001-01-01\n`)],
    refused(
      'r.csv',
      6,
      'r.csv: line 6: timestamp "2001-01-01" is a date, but line 2 holds a number (a Unix time) ("978300760"): the two cannot be put in one time order; ' +
        'expected one kind of timestamp in column "timestamp": all numbers (Unix times) or all dates',
    )
  );
  add(
    'unix-seconds-and-milliseconds',
    'Unix seconds mixed with Unix milliseconds in one timestamp column',
    [file('r.csv', `user,item,rating,timestamp\n${rows(4, (i) => `u,i${i},4,${978300760 + i}`)}u,i9,4,978300760050\n`)],
    refused(
      'r.csv',
      6,
      'r.csv: line 6: timestamp "978300760050" reads as Unix milliseconds, but line 2 holds Unix seconds ("978300760"): in one time order every time in ' +
        'milliseconds would come after every time in seconds; expected one unit in column "timestamp": all seconds or all milliseconds since 1970',
    ),
  );
  add(
    'jsonl-ids-beyond-2-53',
    'JSON Lines ids above 2^53, nested objects or arrays as ids',
    [file('r.jsonl', rows(6, (i) => jsonUser(i, `1234567890123456789${i}`)))],
    refused('r.jsonl', 1, /^r\.jsonl: line 1: "user" is a number beyond 2\^53 \(12345678901234567000\): JSON numbers that large lose their last digits/)
  );
  add(
    'jsonl-object-ids',
    'JSON Lines ids above 2^53, nested objects or arrays as ids',
    [file('r.jsonl', rows(6, (i) => jsonUser(i, '{"id":1}')))],
    refused('r.jsonl', 1, /^r\.jsonl: line 1: "user" is a JSON object .*expected a string or a number as "user"/)
  );
  add(
    'jsonl-big-ids-as-strings',
    'JSON Lines ids above 2^53, nested objects or arrays as ids',
    [file('r.jsonl', rows(6, (i) => JSON.stringify({ user: `1234567890123456789${i % 2}`, item: `i${i}`, rating: 4, style: { format: 'x' } })))],
    loads('ids as strings are exact (2 users), and an object in a key the lab does not read is no problem', ({ result }) => result.stats.users, 2)
  );
  add(
    'jsonl-key-first-seen-late-in-first-64k',
    'JSON Lines keys first seen late in the file',
    [file('r.jsonl', rows(80, (i) => JSON.stringify({ user: 'u', item: `i${i}`, rating: 4, ...(i >= 60 ? { title: `Late ${i}` } : {}) })))],
    loads('a key first seen on line 61 is read', hasTitles(['Late 70']), ['Late 70'])
  );
  add(
    'jsonl-key-first-seen-past-64k',
    'JSON Lines keys first seen late in the file',
    [file('r.jsonl', rows(2000, (i) => jsonRecord(i)) + lateJsonRecords)],
    loads(
      'every record loads, and a note names the key that is not read and its line ("style" names no column: nothing to say)',
      ({ result }) => ({ interactions: result.stats.interactions, notes: result.notes.map((note) => note.message) }),
      {
        interactions: 2004,
        notes: [
          'r.jsonl: line 2001: key "timestamp" first appears on this line, past the first 64 KiB the columns were chosen from, so it is not read ' +
            '(the lab reads a key of that name as the timestamp column); to use it, give it to one of the first records',
        ],
      },
    )
  );
  add(
    'jsonl-key-in-64k-missing-from-most-records',
    'JSON Lines keys first seen late in the file',
    [file('r.jsonl', rows(6, (i) => jsonRecord(i)) + lateJsonRecords)],
    refused(
      'r.jsonl',
      1,
      'r.jsonl: line 1: the record has no "timestamp" (or it is empty) (6 of 10 rows unusable); expected a Unix time or an ISO date in column "timestamp"',
    )
  );
  add(
    'duplicated-header-name',
    'A used column whose name the header holds twice',
    [file('r.csv', `user,item,rating,item\n${rows(6, (i) => `u,i${i},4,j${i}`)}`)],
    refused('r.csv', 1, /^r\.csv: line 1: the item column "item" is not the only column of that name \(columns 2, 4/)
  );
  add(
    'product-left-of-item',
    'A `product` column left of an exact `item`',
    [file('r.csv', `product,user,item,rating\n${rows(8, (i) => `p${i % 2},u,i${i},4`)}`)],
    loads('the "item" column is used (8 items, not the 2 products)', ({ result }) => result.stats.items, 8)
  );
  add(
    'colons-in-movies-title',
    '`::` inside a movies.dat title',
    [
      file('movies.dat', '1::Face::Off (1997)::Action|Thriller\n2::Heat (1995)::Crime\n3::A::B::C (2000)::Drama\n'),
      file('ratings.dat', rows(6, (i) => `1::${1 + (i % 3)}::4::${978300760 + i}`)),
    ],
    loads(
      'the titles keep their "::" and the last field is the genres',
      (loaded) => ({
        titles: hasTitles(['Face::Off (1997)', 'Heat (1995)', 'A::B::C (2000)'])(loaded),
        thrillerGenre: loaded.result.dataset.vocab.tokens.includes('thriller'),
        titleAsGenre: loaded.result.dataset.vocab.tokens.includes('off (1997)'),
      }),
      { titles: ['Face::Off (1997)', 'Heat (1995)', 'A::B::C (2000)'], thrillerGenre: true, titleAsGenre: false },
    )
  );
  const ameliePreview = (title: string) =>
    loads(
      `movies.dat's first row reads "${title}", in the preview and in the dataset`,
      (loaded) => ({ sample: preview(loaded, 'movies.dat').sample[0], titles: hasTitles([title])(loaded) }),
      { sample: ['1', title, 'Comedy|Romance'], titles: [title] },
    );
  add('utf8-movies-dat', 'A MovieLens `.dat` or BookCrossing file re-saved as UTF-8', [file('movies.dat', utf8(amelie)), amelieRatings()], ameliePreview('Amélie (2001)'));
  add('latin1-movies-dat', 'A MovieLens `.dat` or BookCrossing file re-saved as UTF-8', [file('movies.dat', cp1252(amelie)), amelieRatings()], ameliePreview('Amélie (2001)'));
  add(
    'utf8-movies-dat-read-as-chosen-cp1252',
    'A MovieLens `.dat` or BookCrossing file re-saved as UTF-8',
    [file('movies.dat', utf8(amelie)), amelieRatings()],
    ameliePreview('AmÃ©lie (2001)'),
    { encoding: 'windows-1252' },
  );
  const cp1252Csv = () => file('r.csv', cp1252('user;item;rating;title\n1;10;4;Café’s\n1;11;2;Niño\n'));
  const readAsCp1252 = (notes: LoadResult['notes']) =>
    loads(
      'the preview and the load read it as cp1252; a note says when that is a guess',
      (loaded) => ({
        preview: preview(loaded, 'r.csv').encoding,
        sample: preview(loaded, 'r.csv').sample[0],
        titles: titles(loaded),
        notes: loaded.result.notes,
      }),
      { preview: 'windows-1252', sample: ['1', '10', '4', 'Café’s'], titles: ['Café’s', 'Niño'], notes },
    );
  add(
    'cp1252-csv',
    'A CSV or JSON Lines file that is not UTF-8 (no byte tells which 8-bit encoding it is)',
    [cp1252Csv()],
    readAsCp1252([
      {
        file: 'r.csv',
        line: null,
        message:
          'r.csv: read as Windows-1252 (cp1252): its text is not valid UTF-8, and the file does not name its encoding; if letters look wrong, choose its text encoding (Text encoding in the page, --text-encoding in the runner) or re-save it as UTF-8',
      },
    ]),
  );
  add(
    'cp1252-csv-chosen',
    'A CSV or JSON Lines file that is not UTF-8 (no byte tells which 8-bit encoding it is)',
    [cp1252Csv()],
    readAsCp1252([]),
    { encoding: 'windows-1252' },
  );
  add(
    'cp1252-past-64k',
    'UTF-8 detection past the first 64 KiB: a file whose first 64 KiB are ASCII',
    [latin.ratings],
    loads(
      'the preview (first 64 KiB) guesses UTF-8; the load reads the late cp1252 text as cp1252 and says so on its line',
      (loaded) => ({ preview: preview(loaded, 'ratings.csv').encoding, titles: hasTitles(['Café Niño'])(loaded), notes: loaded.result.notes }),
      {
        preview: 'utf-8',
        titles: ['Café Niño'],
        notes: [
          {
            file: 'ratings.csv',
            line: latin.lateLine,
            message:
              `ratings.csv: line ${latin.lateLine}: read as Windows-1252 (cp1252): this line, the first with a byte outside ASCII (past the first 64 KiB, which the preview read), ` +
              'is not valid UTF-8, and the file does not name its encoding; if letters look wrong, choose its text encoding (Text encoding in the page, --text-encoding in the runner) or re-save it as UTF-8',
          },
        ],
      },
    )
  );
  add(
    'utf8-past-64k',
    'UTF-8 detection past the first 64 KiB: a file whose first 64 KiB are ASCII',
    [pastTheSample(utf8('u1,late,5,Café Niño\n')).ratings],
    loads('UTF-8 after an ASCII start stays UTF-8, with nothing to say', (loaded) => ({ titles: hasTitles(['Café Niño'])(loaded), notes: loaded.result.notes }), {
      titles: ['Café Niño'],
      notes: [],
    })
  );
  add(
    'utf8-movies-dat-past-64k',
    'UTF-8 detection past the first 64 KiB: a file whose first 64 KiB are ASCII',
    [file('movies.dat', movieRows, utf8('3001::Amélie (2001)::Comedy|Romance\n')), file('ratings.dat', rows(6, (i) => `1::${2996 + i}::4::${978300760 + i}`))],
    loads(
      'a movies.dat (documented as Latin-1) with UTF-8 after an ASCII start, as MovieLens-10M ships, is read as UTF-8, with a note on that line',
      (loaded) => ({ titles: hasTitles(['Amélie (2001)'])(loaded), notes: loaded.result.notes.map((note) => note.message) }),
      {
        titles: ['Amélie (2001)'],
        notes: [
          "movies.dat: line 3001: read as UTF-8, not Windows-1252 (the format's usual encoding): this line, the first with a byte outside ASCII " +
            '(past the first 64 KiB, which the preview read), is valid UTF-8',
        ],
      },
    )
  );
  add(
    'utf8-then-cp1252-past-64k',
    'A UTF-8 file with cp1252 bytes later (two encodings in one file)',
    [twoEncodings.ratings],
    refused(
      'ratings.csv',
      twoEncodings.lateLine,
      `ratings.csv: line ${twoEncodings.lateLine}: this line is not valid UTF-8 (byte 0xE9), but line 2 holds UTF-8 text: the file mixes two text encodings, ` +
        'and one of them would come out garbled; expected one text encoding in the whole file (re-save it as UTF-8)',
    )
  );
  add(
    'utf8-with-real-replacement-character-and-cut-end',
    'A UTF-8 file with cp1252 bytes later (two encodings in one file)',
    [pastTheSample(cutShort.subarray(0, cutShort.length - 1), utf8Start).ratings],
    loads('a real U+FFFD is valid UTF-8, and a character cut short by the end of the file is a truncation, not a second encoding', hasTitles(['Real \uFFFD', 'Cut \uFFFD']), [
      'Real \uFFFD',
      'Cut \uFFFD',
    ])
  );
  add(
    'ml100k-ratings-with-ml1m-movies',
    'u.data joined with an ML-1M movies.dat (or ratings.dat with u.item)',
    [ml100k.data, ml1m.movies],
    refused(
      'movies.dat',
      null,
      'movies.dat: the items of another dataset: MovieLens-1M movies, while u.data holds MovieLens-100K ratings, and the two number their movies differently ' +
        "(every title would belong to another movie); expected the items file of u.data's own dataset (u.item)",
    )
  );
  add(
    'ml1m-ratings-with-ml100k-items',
    'u.data joined with an ML-1M movies.dat (or ratings.dat with u.item)',
    [ml1m.ratings, ml100k.item],
    refused('u.item', null, /^u\.item: the items of another dataset: MovieLens-100K items, while ratings\.dat holds MovieLens-1M ratings, .*\(movies\.dat\)$/)
  );
  add(
    'ml1m-ratings-with-own-movies',
    'u.data joined with an ML-1M movies.dat (or ratings.dat with u.item)',
    [ml1m.ratings, ml1m.movies],
    loads('MovieLens-1M, 10M and 20M share one numbering: their ratings.dat and movies.dat go together', ({ result }) => result.format, 'movielens-1m')
  );
  add(
    'exact-duplicate-rows',
    'Exact duplicate rows (same user, item, rating or label, timestamp)',
    [file('r.csv', `user,item,rating,timestamp\n${rows(6, (i) => `u,i${i},${1 + (i % 5)},${1000 + i}`)}u,i3,4,1003\nu,i3,4,1003\nu,i3,5,1003\n`)],
    loads(
      "two copies of i3's row are left out and counted; the same item rated differently at the same time stays",
      duplicateFacts,
      { duplicateRows: 2, interactions: 7 },
    )
  );
  add(
    'untimed-repeats',
    'Exact duplicate rows (same user, item, rating or label, timestamp)',
    [file('r.csv', 'user,item,click\nu,a,0\nu,b,1\nu,a,0\nu,c,1\n')],
    loads(
      'without timestamps a copy is the same item shown again (click logs repeat items): kept',
      duplicateFacts,
      { duplicateRows: 0, interactions: 4 },
    )
  );
  add(
    'bookcrossing-implicit-zeros',
    "BookCrossing's implicit 0 ratings",
    [file('BX-Book-Ratings.csv', '"User-ID";"ISBN";"Book-Rating"\n' + rows(9, (i) => `"1";"b${i}";"${i % 3 === 0 ? 0 : 4 + (i % 6)}"`))],
    loads(
      'the 3 implicit 0 ratings are left out and counted, 6 ratings stay',
      ({ result }) => ({ implicitRatings: result.stats.implicitRatings, interactions: result.stats.interactions }),
      { implicitRatings: 3, interactions: 6 },
    )
  );

  // Item 4: misleading diagnoses.
  add(
    'utf16-without-bom',
    'UTF-16 without a byte order mark',
    [file('r.csv', utf16le(ratingsText))],
    refused('r.csv', 1, /^r\.csv: line 1: this looks like UTF-16LE text without a byte order mark \(save it as UTF-8\), not text/),
  );
  add('nul-on-line-40', 'A NUL byte on line 40', [file('r.csv', nulLines.join('\n'))], refused('r.csv', 40, /^r\.csv: line 40: this looks like binary data \(it contains NUL bytes\)/));
  add(
    'excel-sep-line',
    "Excel's `sep=;` line above the header",
    [file('r.csv', `sep=;\nuser;item;rating\n${rows(6, (i) => `u;i${i};4`)}`)],
    loads(
      'the preview offers the real columns and rows; every row loads',
      (loaded) => ({
        columns: preview(loaded, 'r.csv').columnNames,
        sample: preview(loaded, 'r.csv').sample[0],
        interactions: loaded.result.stats.interactions,
        skipped: loaded.result.skipped.count,
      }),
      { columns: ['user', 'item', 'rating'], sample: ['u', 'i0', '4'], interactions: 6, skipped: 0 },
    )
  );
  add(
    'udata-fifth-field',
    'A u.data line with a 5th field or an exponent',
    [file('u.data', '1\t2\t3\t4\t5\n6\t7\t8\t9\t10\n')],
    refused('u.data', 1, /is data, not a header row \(MovieLens-100K u\.data has 4 fields, user⇥item⇥rating⇥timestamp: this line has 5\)/),
  );
  add(
    'ratings-dat-fifth-field',
    'A ratings.dat line with a 5th field (was taken for a movies.dat)',
    [file('ratings.dat', '1::2::4::978300760::x\n1::3::5::978300761::x\n')],
    refused('ratings.dat', 1, /^ratings\.dat: line 1: unrecognised layout: "1::2::4::978300760::x" \(MovieLens-1M ratings\.dat has 4 fields, user::item::rating::timestamp: this line has 5\)/),
  );
  add(
    'udata-exponent',
    'A u.data line with a 5th field or an exponent',
    [file('u.data', '196\t242\t3\t8.8e8\n186\t302\t3\t891717742\n')],
    refused('u.data', 1, /^u\.data: line 1: .*is data, not a header row \(u\.data holds plain numbers: "8\.8e8" is written with an exponent or a sign\)/),
  );
  for (const [id, files] of [
    ['mixed-line-ends-movielens-100k', [await mixedLineEnds(ml100k.data), ml100k.item]],
    ['mixed-line-ends-csv', [await mixedLineEnds(csv.ratings), await mixedLineEnds(csv.movies)]],
    ['mixed-line-ends-jsonl', [await mixedLineEnds(jsonLines(world))]],
  ] as const) {
    add(id, 'Line ends mixed: LF, CRLF and lone CR (old Mac files) in one file', [...files], sameAsWritten);
  }
  add(
    'cr-only-bad-row',
    'Line ends mixed: LF, CRLF and lone CR (old Mac files) in one file',
    [crOnly('1\t4\tfour\t13')],
    loads('lines are numbered by every kind of line end: the bad row is skipped on line 4', ({ result }) => result.skipped.examples, [
      { file: 'u.data', line: 4, reason: 'rating "four" is not a number; expected a number in column "rating"' },
    ])
  );
  add(
    'cr-only-nul',
    'Line ends mixed: LF, CRLF and lone CR (old Mac files) in one file',
    [crOnly('1\t4\u00004\t13')],
    refused('u.data', 4, /^u\.data: line 4: this looks like binary data \(it contains NUL bytes\)/),
  );
  add(
    'equal-timestamps-at-both-cuts',
    'Equal timestamps under a global time cut',
    [timedCsv((i) => (i < 10 ? 1000 + i : 5000))],
    refused(
      'r.csv',
      null,
      'r.csv: the global time cut leaves no validation interactions: 30 of the 40 interactions share the timestamp 5000, where both the validation cut ' +
        "(at 80 % of the interactions in time order) and the test cut (at 90 %) fall, and interactions of one time cannot be split; expected timestamps that differ around the cuts (or the 'per-user' split, which cuts each user's own history)",
    ),
    GLOBAL_CUT,
  );
  add(
    'equal-timestamps-at-validation-cut',
    'Equal timestamps under a global time cut',
    [timedCsv((i) => (i < 36 ? 5000 : 6000 + i))],
    refused(
      'r.csv',
      null,
      /^r\.csv: the global time cut leaves no training interactions: 36 of the 40 interactions share the timestamp 5000, where the validation cut \(at 80 % of the interactions in time order\) falls,/,
    ),
    GLOBAL_CUT,
  );
  add(
    'distinct-timestamps-around-cuts',
    'Equal timestamps under a global time cut',
    [timedCsv((i) => (i < 30 ? 5000 : 6000 + i))],
    loads(
      'distinct times around the cuts split as asked (train, validation, test interactions)',
      ({ result }) => [result.stats.splits.train.interactions, result.stats.splits.valid.interactions, result.stats.splits.test.interactions],
      [32, 4, 4],
    ),
    GLOBAL_CUT,
  );
  add(
    'equal-timestamps-per-user-split',
    'Equal timestamps under a global time cut',
    [timedCsv(() => 5000)],
    loads("the per-user split is not affected by ties: every interaction loads", ({ result }) => result.stats.interactions, 40)
  );

  // Item 6, in a file: a title the page would render 186,116 px tall.
  add(
    'title-of-100k-characters',
    'A 100,000-character title',
    [file('r.csv', `user,item,rating,title\n${rows(6, (i) => `u,i${i},4,${i === 0 ? 'x'.repeat(100_000) : `T${i}`}`)}`)],
    loads('the long title is cut to 200 characters for the page; the others stay', (loaded) => titles(loaded).slice(0, 2), [`${'x'.repeat(199)}…`, 'T1'])
  );

  // Files that are no ratings at all, or broken in a way each message must name.
  const malformed = 'Malformed input: a message naming the file, the line and what was expected';
  add('empty-file', malformed, [file('ratings.csv', '')], refused('ratings.csv', null, /^ratings\.csv: the file is empty \(0 bytes\); expected one of: MovieLens-100K u\.data/));
  add('blank-lines-only', malformed, [file('blank.csv', '\n  \n')], refused('blank.csv', null, /^blank\.csv: the file holds only blank lines; expected one of: /));
  add('header-without-rows', malformed, [file('ratings.csv', 'user,item,rating\n')], refused('ratings.csv', null, 'ratings.csv: the file has no data rows; expected rows below the header'));
  add('prose', malformed, [file('notes.txt', '\nhello world\nthis is prose\n')], refused('notes.txt', 2, /^notes\.txt: line 2: unrecognised layout: "hello world"; expected one of: MovieLens-100K/));
  add('headerless-csv', malformed, [file('r.csv', '1,2,3\n4,5,6\n')], refused('r.csv', 1, /^r\.csv: line 1: unrecognised layout: "1,2,3" is data, not a header row; expected one of:/));
  add(
    'binary-garbage',
    malformed,
    [file('junk.bin', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    refused('junk.bin', 1, 'junk.bin: line 1: this looks like binary data (it contains NUL bytes), not text; expected a text file of ratings or items (extract archives first)'),
  );
  add('zip-archive', malformed, [file('ml-100k.zip', Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]))], refused('ml-100k.zip', 1, /^ml-100k\.zip: line 1: this looks like a zip archive, not text; /));
  add(
    'one-non-numeric-rating',
    malformed,
    [file('r.csv', `user,item,rating,timestamp\n${oneBadRating.join('')}`)],
    loads('the row is skipped and shown with its line', ({ result }) => result.skipped, {
      count: 1,
      examples: [{ file: 'r.csv', line: 4, reason: 'rating "five" is not a number; expected a number in column "rating"' }],
    })
  );
  add(
    'every-rating-non-numeric',
    malformed,
    [file('r.csv', 'user,item,rating\na,b,x\na,c,y\n')],
    refused('r.csv', 2, 'r.csv: line 2: rating "x" is not a number (every row unusable); expected a number in column "rating"'),
  );
  add(
    'non-numeric-timestamp',
    malformed,
    [file('ratings.dat', '1::1::5::978300760\n1::2::5::soon\n1::3::4::978300762\n1::4::2::978300763\n')],
    loads('the row is skipped and shown with its line', ({ result }) => result.skipped.examples, [
      { file: 'ratings.dat', line: 2, reason: 'timestamp "soon" is neither a number nor a date; expected a Unix time or an ISO date in column "timestamp"' },
    ])
  );
  add(
    'dates-as-timestamps',
    malformed,
    [file('r.csv', 'user,item,rating,date\na,1,4,2021-03-01\na,2,4,2020-01-01\na,3,2,2020-06-01\n')],
    loads(
      'ISO dates order the history (item 2, then 3, then 1)',
      ({ result }) => ({ titles: result.dataset.itemTitles, order: Array.from(result.dataset.users[0].items) }),
      { titles: ['item 1', 'item 2', 'item 3'], order: [1, 2, 0] },
    )
  );
  add(
    'too-few-fields',
    malformed,
    [file('ratings.dat', '1::1::5::978300760\n1::2::5\n1::3::4::978300762\n1::4::2::978300763\n')],
    loads('the short row is skipped and shown with its line', ({ result }) => result.skipped.examples[0], {
      file: 'ratings.dat',
      line: 2,
      reason: 'the row has 3 fields; expected at least 4: user::item::rating::timestamp',
    })
  );
  add(
    'items-file-of-other-ids',
    'An items file whose ids most ratings do not find',
    [ml100k.data, fewItems],
    refused(
      'u.data',
      firstUnlisted + 1,
      `u.data: line ${firstUnlisted + 1}: ${worldItems.filter((item) => item >= 4).length} of the ${worldItems.length} ratings name an item that is not in u.item ` +
        `(the first: item "${worldItems[firstUnlisted] + 1}"), and only ${new Set(worldItems.filter((item) => item < 4)).size} of the 4 items listed there are rated: ` +
        "the files do not belong together; expected the items file of u.data's own dataset, whose item ids are the ones the ratings use",
    )
  );
  add(
    'items-file-missing-a-few-ids',
    'An items file whose ids most ratings do not find',
    [ml100k.data, movieLens100k({ ...world, catalog: catalog28 }).item],
    loads(
      'the few ratings of unlisted items (29, 30) are skipped and counted',
      ({ result }) => ({ skipped: result.skipped.count > 0, reason: /^item "(29|30)" is not in u\.item; expected every rated item/.test(result.skipped.examples[0]?.reason ?? '') }),
      { skipped: true, reason: true },
    )
  );
  add('no-ratings-file', malformed, [ml100k.item], refused(null, null, /^no ratings file among the files \(u\.item: MovieLens-100K items .*\); expected a ratings file: u\.data, ratings\.dat/));
  add(
    'several-ratings-files',
    malformed,
    [ml100k.data, ml1m.ratings],
    refused(null, null, 'several ratings files (u.data, ratings.dat); expected one ratings file, with at most its items file'),
  );
  add(
    'json-array',
    malformed,
    [file('r.json', '[{"user": 1}]')],
    refused('r.json', 1, 'r.json: line 1: this is a JSON array; expected JSON Lines: one JSON object per line, no enclosing [ ]'),
  );
  add(
    'json-line-cut-short',
    malformed,
    [file('r.jsonl', jsonWithCutLine.join('\n'))],
    loads(
      'the broken line is skipped and shown with its line and the JSON error',
      ({ result }) => ({ line: result.skipped.examples[0].line, reason: /^not valid JSON \(.+\); expected one JSON object per line$/.test(result.skipped.examples[0].reason) }),
      { line: 2, reason: true },
    )
  );
  add(
    'unclosed-quote',
    malformed,
    [file('r.csv', `user,item,rating\na,1,4\na,"2,4\n${'x'.repeat(1_200_000)}\n`)],
    refused(
      'r.csv',
      3,
      'r.csv: line 3: a record runs past 1048576 characters without ending (an unclosed quote?); expected one record per line, quotes closed on the same record',
    ),
  );
  return entries;
}
