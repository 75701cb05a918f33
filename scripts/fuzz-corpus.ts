/**
 * Writes the hostile-data corpus (src/data/hostile-corpus.ts) to a folder, one subfolder per entry, with an index
 * (README.md for people, index.json for tools) saying what the lab must do with each: drop a subfolder's files into
 * the page together, set what its row says, and compare. src/data/hostile-corpus.test.ts checks the same entries.
 *
 *   npm run fuzz:corpus -- [--out fuzz-corpus] [--big]
 *
 * --big writes the full-size files (the many-users u.data: 2.5 million users, 119 MB) instead of the small ones.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BIG_CORPUS, type CorpusEntry, type PageChoices, SMALL_CORPUS, hostileCorpus } from '../src/data/hostile-corpus';

const USAGE = 'usage: npm run fuzz:corpus -- [--out DIR] [--big]   (DIR: fuzz-corpus by default)';
const INDEX_JSON = 'index.json';
/** Longer facts (whole histories) would swamp the table: index.json has them. */
const FACTS_SHOWN_MAX = 200;

function options(): { out: string; big: boolean } {
  try {
    const { values } = parseArgs({ options: { out: { type: 'string', default: 'fuzz-corpus' }, big: { type: 'boolean', default: false }, help: { type: 'boolean' } } });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    return { out: values.out, big: values.big };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

/** What the person sets in the page, in the page's words. */
function choicesInWords(choices: PageChoices): string {
  const words: string[] = [];
  if (choices.split) words.push(choices.split.kind === 'global-time' ? 'Split: one global time cut' : 'Split: per user');
  if (choices.labelRule) words.push(`Click: rating ${choices.labelRule.inclusive ? '≥' : '>'} ${choices.labelRule.threshold}`);
  if (choices.encoding) words.push(`Text encoding: ${choices.encoding}`);
  for (const [key, column] of Object.entries(choices.columns ?? {})) words.push(`column ${key}: ${column}`);
  return words.length ? words.join('; ') : 'nothing (the defaults)';
}

const shown = (message: string | RegExp) => (typeof message === 'string' ? message : `matching /${message.source}/`);

function outcomeInWords(entry: CorpusEntry): string {
  const { expected } = entry;
  if (expected.outcome === 'loads') {
    const facts = JSON.stringify(expected.facts);
    return `**loads**: ${expected.check} (${facts.length <= FACTS_SHOWN_MAX ? `facts: \`${facts}\`` : `facts: ${INDEX_JSON}`})`;
  }
  const where = [expected.file, expected.line === null ? null : `line ${expected.line}`].filter((part) => part !== null).join(', ');
  return `**refused**${where ? ` (${where})` : ''}: ${shown(expected.message)}`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const kib = (bytes: number) => (bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`);

async function main(): Promise<void> {
  const { out, big } = options();
  // Only a folder this script wrote (or none) is replaced: --out may name any folder.
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, INDEX_JSON))) {
    console.error(`${out} exists and holds files this script did not write (no ${INDEX_JSON}); choose another --out`);
    process.exit(1);
  }
  rmSync(out, { recursive: true, force: true });
  const corpus = await hostileCorpus(big ? BIG_CORPUS : SMALL_CORPUS);
  for (const entry of corpus) {
    mkdirSync(join(out, entry.id), { recursive: true });
    for (const file of entry.files) writeFileSync(join(out, entry.id, file.name), new Uint8Array(await file.arrayBuffer()));
  }

  const index = corpus.map((entry) => ({
    id: entry.id,
    issueClass: entry.issueClass,
    files: entry.files.map((file) => ({ name: file.name, bytes: file.size })),
    pageChoices: entry.options,
    expected:
      entry.expected.outcome === 'loads'
        ? { outcome: 'loads', check: entry.expected.check, facts: entry.expected.facts }
        : { ...entry.expected, message: shown(entry.expected.message) },
  }));
  writeFileSync(join(out, INDEX_JSON), `${JSON.stringify(index, null, 2)}\n`);

  const rows = corpus.map(
    (entry) =>
      `| \`${entry.id}/\` | ${cell(entry.issueClass)} | ${entry.files.map((file) => `${file.name} (${kib(file.size)})`).join(', ')} | ` +
      `${cell(choicesInWords(entry.options))} | ${cell(outcomeInWords(entry))} |`,
  );
  const readme = [
    `# Hostile-data corpus (${big ? 'full size' : 'small'})`,
    '',
    'Written by `npm run fuzz:corpus` from `src/data/hostile-corpus.ts`; `src/data/hostile-corpus.test.ts` checks every entry',
    'in `npm test`. Drop the files of one folder into the page together, set what the row says, load, and compare with the',
    'last column. A refusal names the file and line given; a load is checked by the facts in `index.json`.',
    '',
    '| folder | class | files | set in the page | the lab must |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(join(out, 'README.md'), readme);
  const bytes = corpus.reduce((sum, entry) => sum + entry.files.reduce((s, file) => s + file.size, 0), 0);
  console.log(`${corpus.length} entries (${kib(bytes)}) written to ${out}/; what each must do: ${join(out, 'README.md')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
