/**
 * Test fixtures: a small generated world written out in the exact layouts of every supported format (MovieLens-100K,
 * MovieLens-1M, BookCrossing, CSV/TSV, JSON Lines), with Latin-1 and cp1252 titles. Used by the data tests only.
 */
import Papa from 'papaparse';
import { generateDataset } from './generator';
import type { RawDataset } from './raw';

/** Windows-1252's characters in 0x80–0x9F that the fixtures use; the rest of Latin-1 maps to its own code. */
const CP1252_PUNCTUATION: Record<string, number> = { '€': 0x80, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '–': 0x96 };

export function cp1252(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text, (char) => {
    const code = char.codePointAt(0)!;
    const byte = CP1252_PUNCTUATION[char] ?? (code < 0x80 || (code >= 0xa0 && code <= 0xff) ? code : -1);
    if (byte < 0) throw new Error(`cp1252 cannot encode "${char}"`);
    return byte;
  });
}

/** Windows-1251 bytes of ASCII and Cyrillic А–я (0xC0–0xFF) text. */
export function windows1251(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text, (char) => {
    const code = char.codePointAt(0)!;
    if (code < 0x80) return code;
    if (code >= 0x410 && code <= 0x44f) return code - 0x410 + 0xc0;
    throw new Error(`windows1251 cannot encode "${char}"`);
  });
}

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

export function file(name: string, ...parts: (string | Uint8Array<ArrayBuffer>)[]): File {
  return new File(parts, name);
}

/** Titles outside ASCII (Latin-1: é, Ü, ß, ñ; cp1252: ’ “ ”), and one with a comma, which CSV must quote. */
export const LATIN1_TITLES = ['Café Éclair', 'Über Straße', 'Misérables, Les', 'Señor Niño'];
export const CP1252_TITLE = 'L’été “Noir” & Co';

/** 8 users with 12–18 ratings each over 30 items; the first items carry the non-ASCII titles. */
export function fixtureWorld(): RawDataset {
  const raw = generateDataset({ users: 8, items: 30, minHistory: 12, maxHistory: 18 }, 7);
  LATIN1_TITLES.forEach((title, i) => (raw.catalog.titles[i] = title));
  return raw;
}

const ML100K_GENRE_FLAGS = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

/** Rows in file order: [user number, item number, rating, timestamp] (numbers 1-based, as MovieLens writes them). */
function ratingRows(raw: RawDataset): [number, number, number, number][] {
  return Array.from({ length: raw.count }, (_, i) => [raw.user[i] + 1, raw.item[i] + 1, raw.rating![i], raw.timestamp![i]]);
}

/** u.data (tab-separated, ASCII) and u.item (|-separated, Latin-1, 19 genre flags). */
export function movieLens100k(raw: RawDataset): { data: File; item: File } {
  const data = ratingRows(raw).map((row) => `${row.join('\t')}\n`).join('');
  const item = raw.catalog.titles
    .map((title, i) => {
      const genres = raw.catalog.genres[i];
      const flags = ML100K_GENRE_FLAGS.map((name, g) => (g === 0 ? genres.length === 0 : genres.includes(name)) ? 1 : 0);
      const url = `http://us.imdb.com/M/title-exact?${encodeURIComponent(title)}`;
      return `${i + 1}|${title}|01-Jan-1995||${url}|${flags.join('|')}\n`;
    })
    .join('');
  return { data: file('u.data', data), item: file('u.item', cp1252(item)) };
}

/** ratings.dat and movies.dat ('::'-separated, Latin-1). */
export function movieLens1m(raw: RawDataset): { ratings: File; movies: File } {
  const ratings = ratingRows(raw).map((row) => `${row.join('::')}\n`).join('');
  const movies = raw.catalog.titles.map((title, i) => `${i + 1}::${title}::${raw.catalog.genres[i].join('|')}\n`).join('');
  return { ratings: file('ratings.dat', ratings), movies: file('movies.dat', cp1252(movies)) };
}

export const isbnOf = (item: number) => `${String(345000000 + item)}X`;

/**
 * BX-Book-Ratings.csv and BX-Books.csv: ';'-separated, every field quoted, CRLF, cp1252, HTML entities in titles,
 * ratings on 0–10 (twice the world's 1–5), no timestamps. Item 0 gets the cp1252 title.
 */
export function bookCrossing(raw: RawDataset): { ratings: File; books: File } {
  const unparse = (rows: string[][]) => Papa.unparse(rows, { delimiter: ';', quotes: true, newline: '\r\n' }) + '\r\n';
  const ratings = unparse([
    ['User-ID', 'ISBN', 'Book-Rating'],
    ...ratingRows(raw).map(([user, item, rating]) => [String(user), isbnOf(item - 1), String(rating * 2)]),
  ]);
  const books = unparse([
    ['ISBN', 'Book-Title', 'Book-Author', 'Year-Of-Publication', 'Publisher', 'Image-URL-S', 'Image-URL-M', 'Image-URL-L'],
    ...raw.catalog.titles.map((title, i) => [
      isbnOf(i),
      (i === 0 ? CP1252_TITLE : title).replace(/&/g, '&amp;'),
      'Some Author',
      '1999',
      'Some Press',
      'http://images.amazon.com/s.jpg',
      'http://images.amazon.com/m.jpg',
      'http://images.amazon.com/l.jpg',
    ]),
  ]);
  return { ratings: file('BX-Book-Ratings.csv', cp1252(ratings)), books: file('BX-Books.csv', cp1252(books)) };
}

/** MovieLens-latest style ratings.csv (userId,movieId,rating,timestamp) and movies.csv (movieId,title,genres), UTF-8. */
export function csvFiles(raw: RawDataset, delimiter = ','): { ratings: File; movies: File } {
  const extension = delimiter === '\t' ? 'tsv' : 'csv';
  const ratings = Papa.unparse([['userId', 'movieId', 'rating', 'timestamp'], ...ratingRows(raw).map((row) => row.map(String))], { delimiter });
  const movies = Papa.unparse(
    [['movieId', 'title', 'genres'], ...raw.catalog.titles.map((title, i) => [String(i + 1), title, raw.catalog.genres[i].join('|')])],
    { delimiter },
  );
  return { ratings: file(`ratings.${extension}`, utf8(ratings)), movies: file(`movies.${extension}`, utf8(movies)) };
}

/** One JSON object per rating, item text inline (genres as an array), UTF-8. */
export function jsonLines(raw: RawDataset): File {
  const lines = ratingRows(raw).map(([user, item, rating, timestamp]) =>
    JSON.stringify({ user_id: `u${user}`, item_id: `i${item}`, rating, timestamp, title: raw.catalog.titles[item - 1], genres: raw.catalog.genres[item - 1] }),
  );
  return file('interactions.jsonl', utf8(`${lines.join('\n')}\n`));
}
