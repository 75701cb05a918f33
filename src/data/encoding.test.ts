/** Text encodings a person chooses: the list, and files in Cyrillic and Japanese encodings read with and without it. */
import { describe, expect, it } from 'vitest';
import { TEXT_ENCODINGS, type TextEncodingName, decodeChunks, decodeText, describeTextEncoding } from './encoding';
import { detectedEncodings, parseFiles, previewFiles } from './index';
import { file } from './test-fixtures';

const hex = (text: string) => Uint8Array.from(text.split(' '), (pair) => parseInt(pair, 16));

/** A text in each encoding, with its bytes as Python's codecs write it (an encoder independent of TextDecoder). */
const SAMPLES: Record<TextEncodingName, { text: string; bytes: string }> = {
  'utf-8': { text: 'Amélie', bytes: '41 6d c3 a9 6c 69 65' },
  'windows-1252': { text: 'Café “Noël” €', bytes: '43 61 66 e9 20 93 4e 6f eb 6c 94 20 80' },
  'iso-8859-15': { text: 'Œuvre à 5 €', bytes: 'bc 75 76 72 65 20 e0 20 35 20 a4' },
  'windows-1250': { text: 'Łódź, Příliš žluťoučký kůň', bytes: 'a3 f3 64 9f 2c 20 50 f8 ed 6c 69 9a 20 9e 6c 75 9d 6f 75 e8 6b fd 20 6b f9 f2' },
  'iso-8859-2': { text: 'Łódź, Příliš žluťoučký kůň', bytes: 'a3 f3 64 bc 2c 20 50 f8 ed 6c 69 b9 20 be 6c 75 bb 6f 75 e8 6b fd 20 6b f9 f2' },
  'windows-1251': { text: 'Москва слезам не верит', bytes: 'cc ee f1 ea e2 e0 20 f1 eb e5 e7 e0 ec 20 ed e5 20 e2 e5 f0 e8 f2' },
  'koi8-r': { text: 'Москва слезам не верит', bytes: 'ed cf d3 cb d7 c1 20 d3 cc c5 da c1 cd 20 ce c5 20 d7 c5 d2 c9 d4' },
  // "ポ" is 0x83 0x7C ("|" as its second byte), "ソ" 0x83 0x5C ("\").
  shift_jis: { text: 'ポネット ソナチネ 千と千尋の神隠し', bytes: '83 7c 83 6c 83 62 83 67 20 83 5c 83 69 83 60 83 6c 20 90 e7 82 c6 90 e7 90 71 82 cc 90 5f 89 42 82 b5' },
  'euc-jp': { text: '千と千尋の神隠し', bytes: 'c0 e9 a4 c8 c0 e9 bf d2 a4 ce bf c0 b1 a3 a4 b7' },
  gbk: { text: '卧虎藏龙', bytes: 'ce d4 bb a2 b2 d8 c1 fa' },
  // "龍" is 0xC0 0x73 ("s").
  big5: { text: '臥虎藏龍', bytes: 'aa d7 aa ea c2 c3 c0 73' },
  'euc-kr': { text: '올드보이', bytes: 'bf c3 b5 e5 ba b8 c0 cc' },
};

async function decodedText(blob: File, name: TextEncodingName, chunkBytes: number): Promise<string> {
  let text = '';
  for await (const chunk of decodeChunks(blob, { name, basis: 'chosen' }, chunkBytes)) text += chunk;
  return text;
}

describe('the text encodings a person can choose', () => {
  it('are names TextDecoder knows, read ASCII text as ASCII, and never hold a NUL, LF or CR byte inside a character (those are found on bytes)', () => {
    // Printable ASCII, tab, LF and CR: Node's ICU Shift_JIS maps the controls 0x1A, 0x1C and 0x7F to one another.
    const ascii = Uint8Array.from([0x09, 0x0a, 0x0d, ...Array.from({ length: 0x5f }, (_, i) => 0x20 + i)]);
    for (const { name } of TEXT_ENCODINGS) {
      const decoder = new TextDecoder(name);
      expect(decoder.encoding).toBe(name);
      expect(decoder.decode(ascii), name).toBe(String.fromCharCode(...ascii));
      // After any one or two bytes above ASCII, such a byte still reads as it does alone.
      for (const control of [0x00, 0x0a, 0x0d]) {
        const alone = decoder.decode(Uint8Array.of(control));
        for (let lead = 0x80; lead <= 0xff; lead++) {
          for (const before of [[lead], ...Array.from({ length: 0x80 }, (_, i) => [lead, 0x80 + i])]) {
            if (!decoder.decode(Uint8Array.of(...before, control)).endsWith(alone)) expect.fail(`${name}: bytes ${before} take in control byte ${control}`);
          }
        }
      }
    }
  });

  it('each reads a text written in it, whole and one byte at a time', async () => {
    for (const { name } of TEXT_ENCODINGS) {
      const { text, bytes } = SAMPLES[name];
      expect(decodeText(new TextDecoder(name), hex(bytes)), name).toBe(text);
      for (const chunkBytes of [1, 1 << 20]) expect(await decodedText(file('sample.txt', hex(bytes)), name, chunkBytes), name).toBe(text);
    }
  });
});

describe('a chosen text encoding', () => {
  // "Moscow Does Not Believe in Tears" in Windows-1251, and as Windows-1252 reads those bytes.
  const moscow = SAMPLES['windows-1251'];
  const GARBLED_MOSCOW = 'Ìîñêâà ñëåçàì íå âåðèò';
  const ratings = file('ratings.dat', Array.from({ length: 8 }, (_, i) => `${1 + (i % 2)}::${1 + (i % 4)}::${1 + (i % 5)}::${978300760 + i}\n`).join(''));
  const movies = () =>
    file(
      'movies.dat',
      `1::`, hex(moscow.bytes), ` (1979)::Drama|Romance\n`,
      '2::Solaris (1972)::Drama|Sci-Fi\n3::Stalker (1979)::Drama|Sci-Fi\n4::Brat (1997)::Crime|Drama\n',
    );

  it('reads a Windows-1251 movies.dat right; detected, it loads garbled as Windows-1252, and the preview says that is a guess', async () => {
    const [, detected] = await previewFiles([ratings, movies()]);
    expect(detected.sample[0][1]).toBe(`${GARBLED_MOSCOW} (1979)`);
    expect(detected.detectedEncoding).toEqual({ name: 'windows-1252', basis: 'sample' });
    expect(detectedEncodings([detected])).toBe('movies.dat — Windows-1252, a guess: its text is not valid UTF-8');
    expect((await parseFiles([ratings, movies()], { n: 1 })).dataset.itemTitles).toContain(`${GARBLED_MOSCOW} (1979)`);

    const [, chosen] = await previewFiles([ratings, movies()], { encoding: 'windows-1251' });
    expect(chosen.sample[0][1]).toBe(`${moscow.text} (1979)`);
    expect([chosen.encoding, chosen.encodingBasis]).toEqual(['windows-1251', 'chosen']);
    expect(describeTextEncoding({ name: 'windows-1251', basis: 'chosen' })).toBe('Windows-1251, as chosen');
    // What detection would read stays known, for the page's Detect choice.
    expect(chosen.detectedEncoding).toEqual({ name: 'windows-1252', basis: 'sample' });
    const loaded = await parseFiles([ratings, movies()], { n: 1, encoding: 'windows-1251' });
    expect(loaded.dataset.itemTitles).toContain(`${moscow.text} (1979)`);
    expect(loaded.notes).toEqual([]);
  });

  it('splits a Shift_JIS u.item, whose "ポ" holds a "|" byte, only once decoded, in slices of any size', async () => {
    const flags = Array(19).fill('0').join('|');
    const item = file('u.item', '1|', hex('83 7c 83 6c 83 62 83 67'), ` (1996)|01-Jan-1996||http://us.imdb.com/M/title-exact?Ponette|${flags}\n`, `2|Sonatine (1993)|01-Jan-1993||http://us.imdb.com/M/title-exact?Sonatine|${flags}\n`);
    const data = file('u.data', '1\t1\t4\t881250949\n1\t2\t3\t881250950\n2\t1\t5\t881250951\n2\t2\t2\t881250952\n');
    // Read as Windows-1252, its first line holds one field too many ("ƒ|ƒlƒbƒg"): no longer a u.item.
    const [, detected] = await previewFiles([data, item]);
    expect(detected.format).not.toBe('movielens-100k');
    const [, chosen] = await previewFiles([data, item], { encoding: 'shift_jis' });
    expect([chosen.format, chosen.role, chosen.sample[0][1]]).toEqual(['movielens-100k', 'items', 'ポネット (1996)']);
    for (const chunkBytes of [1, 3, 1 << 20]) {
      const loaded = await parseFiles([data, item], { n: 1, encoding: 'shift_jis', chunkBytes });
      expect(loaded.dataset.itemTitles).toEqual(['ポネット (1996)', 'Sonatine (1993)']);
    }
  });

  it('reads a Shift_JIS CSV with its line numbers; detected, it loads as a guess whose note points at the choice', async () => {
    const spirited = hex(SAMPLES.shift_jis.bytes);
    // Row 6, line 8 (the header is line 1), has no rating.
    const rows = Array.from({ length: 12 }, (_, i) => [i === 6 ? '0,3,,' : `${i % 3},${i % 4},${1 + (i % 5)},`, spirited, '\n']).flat();
    const csv = file('ratings.csv', 'user,item,rating,title\n', ...rows);
    const chosen = await parseFiles([csv], { n: 1, encoding: 'shift_jis' });
    expect(chosen.dataset.itemTitles).toContain(SAMPLES.shift_jis.text);
    expect(chosen.skipped.examples.map((row) => [row.line, row.reason])).toEqual([[8, expect.stringMatching(/^the rating is empty/)]]);
    expect(chosen.notes).toEqual([]);
    const detected = await parseFiles([csv], { n: 1 });
    expect(detected.skipped.examples.map((row) => row.line)).toEqual([8]);
    expect(detected.dataset.itemTitles).not.toContain(SAMPLES.shift_jis.text);
    expect(detected.notes.map((note) => note.message)).toEqual([
      'ratings.csv: read as Windows-1252 (cp1252): its text is not valid UTF-8, and the file does not name its encoding; if letters look wrong, ' +
        'choose its text encoding (Text encoding in the page, --text-encoding in the runner) or re-save it as UTF-8',
    ]);
  });
});
