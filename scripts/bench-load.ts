/**
 * The upload benchmark (`npm run bench -- --load`): files the size of MovieLens-25M uploaded into the real page (the
 * production build in Debian's chromium, through the file input), measured as a person would meet them: time until
 * the dataset is loaded, the progress the page showed meanwhile, the most CPU one task of the page's thread took (a
 * freeze), and the browser's memory (PSS of all its processes). Then the same upload cancelled part-way and one
 * replaced by a built-in choice part-way: how fast the page is free again, that the data held before stays, and that
 * the memory of the ended load comes back.
 *
 * Cases: `ml-25m` (ratings.csv + movies.csv shaped like MovieLens-25M: 162,541 users, 62,423 movies, 25,000,095
 * ratings, 0.5–5 stars, ~680 MB) and `tiny-users` (a u.data of 2.5 million users with 2 ratings each, 121 MB: one
 * small buffer per user was the old cost). The files are generated (seeded) into the system's temporary folder and
 * kept there for the next run. `--cases ml-25m,tiny-users`, `--scale 0.2` (a fifth of the rows, for a quick look),
 * `--no-report` (print only). Writes the section of docs/BENCHMARKS.md between the markers below.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CDPSession, type Page, chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { Rng } from '../src/util/rng';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { savedSection as sectionOf, writeSection } from './resumable-bench';

const PORT = 4175;
const START = '<!-- load:start -->';
const END = '<!-- load:end -->';
/** The section as docs/BENCHMARKS.md holds it (with its markers), for bench.ts when it rewrites the whole document. */
export const savedSection = (doc: string) => sectionOf(doc, START, END);
/** A page-thread task with more CPU than this is a freeze a person notices (RAIL's response budget). */
const FREEZE_MS = 50;
/** How often the browser's memory and the page's progress line are read. */
const SAMPLE_MS = 250;
/** The cancelled and replaced loads are ended once their progress bar reaches this fraction. */
const END_AT_FRACTION = 0.3;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// --- The files ---------------------------------------------------------------------------------------------------

interface Case {
  id: string;
  what: string;
  /** Writes the case's files into dir; returns their paths. */
  write: (dir: string, scale: number) => string[];
}

const GENRES = ['Action', 'Adventure', 'Animation', 'Children', 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'IMAX', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];
const HALF_STARS = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5];
/** MovieLens-25M's share of each half-star rating, roughly. */
const HALF_STAR_SHARES = [0.016, 0.031, 0.016, 0.066, 0.05, 0.196, 0.126, 0.266, 0.085, 0.148];

/** Lines appended to a file in blocks (one write per block keeps generation at disk speed). */
class LineWriter {
  private readonly fd: number;
  private lines: string[] = [];
  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }
  line(text: string): void {
    this.lines.push(text);
    if (this.lines.length === 100_000) this.flush();
  }
  private flush(): void {
    writeSync(this.fd, `${this.lines.join('\n')}\n`);
    this.lines = [];
  }
  close(): void {
    if (this.lines.length) this.flush();
    closeSync(this.fd);
  }
}

/** Index drawn from cumulative weights (binary search). */
function drawFrom(cumulative: Float64Array, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  const x = u * cumulative[hi];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const cumulativeOf = (weights: ArrayLike<number>) => {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) out[i] = sum += weights[i];
  return out;
};

/** ratings.csv + movies.csv shaped like MovieLens-25M: ≥ 20 ratings per user, lognormal tail, Zipf-like items. */
function writeMl25m(dir: string, scale: number): string[] {
  const rng = new Rng(25);
  const users = Math.round(162_541 * scale);
  const movies = 62_423;
  const rows = Math.round(25_000_095 * scale);
  const counts = Float64Array.from({ length: users }, () => Math.exp(4.18 + 1.2 * rng.normal()));
  const extra = counts.reduce((a, b) => a + b, 0);
  const perUser = Int32Array.from(counts, (c) => 20 + Math.floor((c * (rows - 20 * users)) / extra));
  perUser[users - 1] += rows - perUser.reduce((a, b) => a + b, 0);
  const itemWeights = cumulativeOf(Float64Array.from({ length: movies }, (_, i) => 1 / (i + 10)));
  const stars = cumulativeOf(HALF_STAR_SHARES);
  const ratings = new LineWriter(path.join(dir, 'ratings.csv'));
  ratings.line('userId,movieId,rating,timestamp');
  for (let u = 0; u < users; u++) {
    let time = 789_652_009 + rng.int(700_000_000);
    for (let r = 0; r < perUser[u]; r++) {
      time += 1 + rng.int(5000);
      ratings.line(`${u + 1},${drawFrom(itemWeights, rng.next()) + 1},${HALF_STARS[drawFrom(stars, rng.next())]},${time}`);
    }
  }
  ratings.close();
  const catalog = new LineWriter(path.join(dir, 'movies.csv'));
  catalog.line('movieId,title,genres');
  for (let m = 1; m <= movies; m++) {
    const genres = Array.from({ length: 1 + rng.int(3) }, () => GENRES[rng.int(GENRES.length)]);
    const title = m % 7 === 0 ? `"Film ${m}, The (${1920 + (m % 100)})"` : `Film ${m} (${1920 + (m % 100)})`;
    catalog.line(`${m},${title},${[...new Set(genres)].join('|')}`);
  }
  catalog.close();
  return [path.join(dir, 'ratings.csv'), path.join(dir, 'movies.csv')];
}

/** A MovieLens-100K u.data (tab-separated, no header) of 2.5 million users with 2 ratings each. */
function writeTinyUsers(dir: string, scale: number): string[] {
  const rng = new Rng(2);
  const file = path.join(dir, 'u.data');
  const out = new LineWriter(file);
  const users = Math.round(2_500_000 * scale);
  for (let u = 1; u <= users; u++) {
    for (let r = 0; r < 2; r++) out.line(`${u}\t${1 + rng.int(1682)}\t${1 + rng.int(5)}\t${874_724_710 + u * 2 + r}`);
  }
  out.close();
  return [file];
}

const CASES: Case[] = [
  { id: 'ml-25m', what: 'MovieLens-25M-shaped', write: writeMl25m },
  { id: 'tiny-users', what: 'users of 2 ratings each', write: writeTinyUsers },
];

/** The case's files, generated once per scale and kept in the temporary folder. */
function filesOf(item: Case, scale: number): string[] {
  const dir = path.join(os.tmpdir(), `dti-lab-load-bench`, `${item.id}-x${scale}`);
  const done = path.join(dir, 'complete');
  if (existsSync(done)) return readFileSync(done, 'utf8').trim().split('\n');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const files = item.write(dir, scale);
  writeFileSync(done, files.join('\n'));
  console.log(`generated ${files.map((f) => `${path.basename(f)} (${mb(statSync(f).size)})`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return files;
}

// --- Measuring the browser ---------------------------------------------------------------------------------------

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/** PSS of the process whose command line holds `marker` and of all its descendants, in bytes. */
function browserPss(marker: string): number {
  const parent = new Map<number, number>();
  let root = -1;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (root < 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) root = pid;
    } catch {
      // The process ended while we looked.
    }
  }
  const inTree = (pid: number): boolean => pid === root || (parent.has(pid) && pid > 1 && inTree(parent.get(pid)!));
  let total = 0;
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // Ended meanwhile.
    }
  }
  return total;
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/**
 * Traces the page's thread: tasks with their thread CPU time. Only the 'toplevel' category: the e2e's script-level
 * categories (e2e/page-thread.ts) record every call into the data worker's parser too, which slows a large load many
 * times over. The page's thread is the renderer main thread that ran the most task time.
 */
async function tracePageTasks(page: Page): Promise<() => Promise<{ cpuMs: number; wallMs: number }[]>> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', ({ value }) => events.push(...(value as unknown as TraceEvent[])));
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: ['toplevel', '__metadata'] }, transferMode: 'ReportEvents' });
  return async () => {
    const complete = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
    await cdp.send('Tracing.end');
    await complete;
    await cdp.detach();
    const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
    const byThread = new Map<string, { cpuMs: number; wallMs: number }[]>();
    for (const e of events) {
      const key = `${e.pid}:${e.tid}`;
      if (e.ph !== 'X' || e.name !== 'ThreadControllerImpl::RunTask' || !mains.has(key) || e.dur === undefined) continue;
      const list = byThread.get(key) ?? [];
      list.push({ cpuMs: (e.tdur ?? e.dur) / 1000, wallMs: e.dur / 1000 });
      byThread.set(key, list);
    }
    const total = (tasks: { wallMs: number }[]) => tasks.reduce((sum, t) => sum + t.wallMs, 0);
    return [...byThread.values()].sort((a, b) => total(b) - total(a))[0] ?? [];
  };
}

interface Sample {
  ms: number;
  pss: number;
  progress: string | null;
  fraction: number | null;
}

/** What the page's dataset panel shows: the load's progress line, the summary's first line, an error. */
async function panelState(page: Page): Promise<{ progress: string | null; fraction: number | null; summary: string | null; error: string | null }> {
  return page.evaluate(() => {
    const bar = document.querySelector<HTMLProgressElement>('.dataset-task progress');
    return {
      progress: document.querySelector('.dataset-task [role=status] span')?.textContent ?? null,
      fraction: bar && bar.hasAttribute('value') ? bar.value : null,
      summary: document.querySelector('[data-testid=dataset-summary] p')?.textContent ?? null,
      error: document.querySelector('[data-testid=dataset-error]')?.textContent ?? null,
    };
  });
}

/** Samples memory and progress until `until` says the page is done; returns the samples and the last panel state. */
async function watch(page: Page, marker: string, until: (state: Awaited<ReturnType<typeof panelState>>, ms: number) => boolean | Promise<boolean>) {
  const started = Date.now();
  const samples: Sample[] = [];
  for (;;) {
    const state = await panelState(page);
    const ms = Date.now() - started;
    samples.push({ ms, pss: browserPss(marker), progress: state.progress, fraction: state.fraction });
    if (await until(state, ms)) return { samples, state, ms };
    if (samples.length % 40 === 0) console.log(`  ${(ms / 1000).toFixed(0)} s: ${state.progress ?? state.error ?? state.summary ?? '…'} (browser ${mb(samples.at(-1)!.pss)})`);
    if (ms > 60 * 60_000) throw new Error('no end after an hour');
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  }
}

interface CaseResult {
  item: Case;
  files: { name: string; bytes: number }[];
  loadMs: number;
  loaded: string;
  progressLines: number;
  progressMessages: string[];
  longestGapMs: number;
  pssBefore: number;
  pssPeak: number;
  pssLoaded: number;
  tasksOver: number;
  worstTaskCpuMs: number;
  worstTaskWallMs: number;
  cancelMs: number;
  cancelKept: boolean;
  pssCancelPeak: number;
  pssAfterCancel: number;
  replaceMs: number;
  pssAfterReplace: number;
}

async function settledPss(marker: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 5000));
  return browserPss(marker);
}

/** Starts an upload and ends it with `end` once its progress reaches END_AT_FRACTION; ms from `end` until the page is free. */
async function endPartWay(page: Page, marker: string, files: string[], end: () => Promise<void>, done: (s: Awaited<ReturnType<typeof panelState>>) => boolean) {
  await page.getByLabel('Upload data files').setInputFiles(files);
  const reached = await watch(page, marker, (s) => (s.fraction ?? 0) >= END_AT_FRACTION || s.error !== null);
  if (reached.state.error) throw new Error(`the upload failed before it could be ended: ${reached.state.error}`);
  const peak = Math.max(...reached.samples.map((s) => s.pss));
  const before = Date.now();
  await end();
  const free = await watch(page, marker, (s) => s.progress === null && done(s));
  return { ms: Date.now() - before, peak, state: free.state };
}

async function measure(page: Page, marker: string, item: Case, files: string[]): Promise<CaseResult> {
  const ratingsName = path.basename(files[0]);
  const pssBefore = browserPss(marker);
  const stopTrace = await tracePageTasks(page);
  const started = Date.now();
  await page.getByLabel('Upload data files').setInputFiles(files);
  const load = await watch(page, marker, (s) => s.error !== null || (s.progress === null && (s.summary ?? '').includes(ratingsName)));
  const loadMs = Date.now() - started;
  const tasks = await stopTrace();
  if (load.state.error) throw new Error(`${item.id}: the page refused the upload: ${load.state.error}`);
  const worst = tasks.reduce((a, b) => (b.cpuMs > a.cpuMs ? b : a), { cpuMs: 0, wallMs: 0 });
  const changes = load.samples.filter((s, i) => s.progress !== null && s.progress !== load.samples[i - 1]?.progress);
  const gaps = changes.map((s, i) => s.ms - (i ? changes[i - 1].ms : 0));
  const pssLoaded = await settledPss(marker);
  // Pairs, not a lookup function: tsx names functions with a helper the page does not have.
  const terms = new Map(
    await page.evaluate(() => [...document.querySelectorAll('[data-testid=dataset-summary] dt')].map((dt) => [dt.textContent ?? '', dt.nextElementSibling?.textContent ?? ''] as [string, string])),
  );
  const loaded = `${terms.get('Users') ?? '?'} users, ${terms.get('Interactions') ?? '?'} interactions`;

  const cancel = await endPartWay(page, marker, files, () => page.getByRole('button', { name: 'Cancel loading' }).click(), () => true);
  const pssAfterCancel = await settledPss(marker);
  const replace = await endPartWay(page, marker, files, () => page.getByRole('radio', { name: 'small' }).click(), (s) => (s.summary ?? '').startsWith('Built-in (small'));
  const pssAfterReplace = await settledPss(marker);
  return {
    item,
    files: files.map((f) => ({ name: path.basename(f), bytes: statSync(f).size })),
    loadMs,
    loaded,
    progressLines: changes.length,
    progressMessages: [...new Set(changes.map((s) => (s.progress ?? '').replace(/\d[\d.,]*/g, '#')))],
    longestGapMs: Math.max(0, ...gaps, loadMs - (changes.at(-1)?.ms ?? 0)),
    pssBefore,
    pssPeak: Math.max(...load.samples.map((s) => s.pss)),
    pssLoaded,
    tasksOver: tasks.filter((t) => t.cpuMs > FREEZE_MS).length,
    worstTaskCpuMs: worst.cpuMs,
    worstTaskWallMs: worst.wallMs,
    cancelMs: cancel.ms,
    cancelKept: (cancel.state.summary ?? '').includes(ratingsName),
    pssCancelPeak: cancel.peak,
    pssAfterCancel,
    replaceMs: replace.ms,
    pssAfterReplace,
  };
}

// --- The report ----------------------------------------------------------------------------------------------------

function report(results: CaseResult[], scale: number, adapterLine: string, when: string): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    '## 7. Uploads the size of MovieLens-25M, in the page',
    '',
    `Command: \`npm run bench -- --load${scale === 1 ? '' : ` --scale ${scale}`}\` (scripts/bench-load.ts). The production build in Debian's chromium, ` +
      `files chosen through the page's file input; memory is the PSS of all the browser's processes, read every ${SAMPLE_MS} ms; a page-thread task ` +
      `is its thread CPU time from a Chrome trace (the harness reads the panel every ${SAMPLE_MS} ms: a few ms each). Machine: ${os.cpus()[0]?.model ?? 'unknown'} × ` +
      `${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ${adapterLine}. Measured ${when}.`,
    '',
    '| files | load | progress updates (longest without one) | page-thread tasks over 50 ms CPU (worst) | browser memory: before → peak → loaded | cancel at 30 %: page free after, data kept, memory after | replaced by a built-in choice at 30 %: free after, memory after |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.item.what}: ${r.files.map((f) => `${f.name} ${mb(f.bytes)}`).join(', ')} | ${s(r.loadMs)}: ${r.loaded} | ${r.progressLines} (${s(r.longestGapMs)}) | ` +
        `${r.tasksOver} (${r.worstTaskCpuMs.toFixed(0)} ms CPU in ${r.worstTaskWallMs.toFixed(0)} ms) | ${mb(r.pssBefore)} → ${mb(r.pssPeak)} → ${mb(r.pssLoaded)} | ` +
        `${s(r.cancelMs)}, ${r.cancelKept ? 'yes' : 'NO'}, ${mb(r.pssAfterCancel)} (peak ${mb(r.pssCancelPeak)}) | ${s(r.replaceMs)}, ${mb(r.pssAfterReplace)} |`,
    );
  }
  lines.push('', ...results.map((r) => `Progress messages of ${r.item.id} (numbers as #): ${r.progressMessages.join(' · ')}`), '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const scale = Number(option('scale', '1'));
  if (!(scale > 0 && scale <= 1)) throw new Error(`--scale ${option('scale', '')}: expected a fraction in (0, 1]`);
  const wanted = option('cases', CASES.map((c) => c.id).join(',')).split(',');
  const unknown = wanted.filter((id) => !CASES.some((c) => c.id === id));
  if (unknown.length) throw new Error(`--cases: unknown ${unknown.join(', ')}; expected some of ${CASES.map((c) => c.id).join(', ')}`);
  const cases = CASES.filter((c) => wanted.includes(c.id));
  const inputs = cases.map((c) => filesOf(c, scale));

  const outDir = mkdtempSync(path.join(os.tmpdir(), 'dti-lab-load-dist-'));
  await build({ logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ logLevel: 'warn', build: { outDir }, preview: { port: PORT, strictPort: true } });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'dti-lab-load-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], viewport: { width: 1440, height: 900 } });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
    await page.goto(`http://localhost:${PORT}/`);
    await page.getByTestId('dataset-summary').waitFor({ timeout: 120_000 });
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
      const info = gpu ? (await gpu.requestAdapter())?.info : undefined;
      return info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() : 'no WebGPU adapter';
    });
    const results: CaseResult[] = [];
    for (let i = 0; i < cases.length; i++) {
      console.log(`${cases[i].id}: uploading ${inputs[i].map((f) => path.basename(f)).join(', ')}`);
      const result = await measure(page, profile, cases[i], inputs[i]);
      console.log(JSON.stringify({ ...result, item: result.item.id }, null, 1));
      results.push(result);
    }
    const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const markdown = report(results, scale, `adapter: ${adapter}`, when);
    console.log(`\n${markdown}`);
    if (!process.argv.includes('--no-report')) {
      writeSection(START, END, `${markdown}\n`);
      console.log('wrote the section "Uploads the size of MovieLens-25M" of docs/BENCHMARKS.md');
    }
  } finally {
    await context.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    rmSync(profile, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  }
}

// Run as a script, not when bench.ts imports savedSection.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(`bench-load: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
