/**
 * Soak run: continuous training in the lab for a long time (30 minutes by default) in headless Chromium, with the
 * live GPU buffers and the JavaScript heaps sampled, to show that nothing grows without bound. Not part of the test
 * command (it takes half an hour); run it with
 *
 *   npm run soak -- [--minutes 30] [--out FILE] [--sample-sec 30] [--run-steps 600] [--evals-per-epoch 1]
 *   bash scripts/with-gpu.sh scripts/soak.ts --minutes 3 --out docs/soak-results.md
 *
 * What it does:
 * - builds the site (`npx vite build`, into a private temporary folder so a `dist/` another session serves is not
 *   touched) and serves it with Vite's preview server on a free port;
 * - launches Debian's chromium (CHROMIUM_PATH) through playwright-core with WebGPU on (SwiftShader without a GPU) in a
 *   fresh profile;
 * - wraps GPUDevice.prototype.createBuffer / GPUBuffer.prototype.destroy / GPUDevice.prototype.destroy in every realm:
 *   the page through page.addInitScript, and every Worker the page starts (training runs in a dedicated module
 *   worker) by wrapping the page's Worker constructor in that same init script: the worker starts from a two-line
 *   blob module that imports the hook, then the real script, so the hook is in the worker's global scope before the
 *   lab's first line runs there. (CDP auto-attach with waitForDebuggerOnStart was tried first: Playwright's own
 *   auto-attach resumes the worker at once, so the hook arrived after the device and the first run's buffers were
 *   created; an evaluation while the worker still waits lands in a throwaway context.) CDP (Target.setAutoAttach,
 *   Target.sendMessageToTarget) is still how each worker is sampled; a late worker.evaluate stays as a fallback, and
 *   the report says which path hooked the training worker and counts destroy() calls on buffers it never saw created.
 *   A buffer counts as live from createBuffer until its destroy(), its device's destroy(), or its garbage collection
 *   (FinalizationRegistry: WebGPU frees an unreferenced buffer then), so live = what the lab still holds;
 * - opens the lab with a tiny model on the small built-in preset (link hash), clicks Start, and whenever a run ends
 *   (every run is saved to IndexedDB, its model too) samples the idle state and starts the next one;
 * - every --sample-sec seconds forces a garbage collection in the page and in each worker (CDP) and samples the live
 *   GPU buffers and bytes (and their peak since the last sample), the page's and the training worker's JS heap
 *   (Runtime.getHeapUsage after the collection), the steps trained so far (counted from the worker's own 'step'
 *   messages), DOM nodes and the IndexedDB usage.
 *
 * Bounds (the verdict; the process exits 1 when one is broken, 2 when the soak could not run):
 * - warm-up is the first third of the duration; the slopes are least-squares fits over the last two thirds;
 * - GPU bytes: the highest live GPU bytes after warm-up (peaks between samples included) stay within +1 MiB of the
 *   highest during warm-up, and the bytes still live in the idle worker between runs stay within +1 MiB of the first
 *   such measurement; live GPU buffers likewise within +8 buffers;
 * - JS heap (after a forced collection): page and training-worker heap slopes each under 1 MB/min (1 MB = 10^6 bytes),
 *   fitted over the run-boundary samples after warm-up (idle worker, like-for-like points) when there are at least
 *   three, else over the timed samples; a fit window under 4 minutes (a soak under 6 minutes) is reported, not judged;
 * - every run ends 'done' (a failed run is a finding too), and no page error is thrown.
 */
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type CDPSession, type Page, chromium } from 'playwright-core';
import { type PreviewServer, preview } from 'vite';

// ---------------------------------------------------------------------------------------------------------------
// Options and bounds

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const minutes = Number(option('minutes', '30'));
const outFile = option('out', '');
const sampleSec = Number(option('sample-sec', '30'));
const runSteps = Number(option('run-steps', '600'));
const evalsPerEpoch = Number(option('evals-per-epoch', '1'));
if (!(minutes > 0) || !(sampleSec > 0) || !(runSteps > 0) || !(evalsPerEpoch >= 1)) {
  console.error('soak: --minutes, --sample-sec and --run-steps must be positive numbers, --evals-per-epoch ≥ 1');
  process.exit(2);
}
const command = `bash scripts/with-gpu.sh scripts/soak.ts ${process.argv.slice(2).join(' ')}`.trim();

const MIB = 2 ** 20;
const MB = 1e6;
const BOUNDS = {
  gpuBytesGrowth: 1 * MIB,
  gpuBuffersGrowth: 8,
  heapSlopeBytesPerMin: 1 * MB,
} as const;
/** A heap slope fitted over less than this many minutes is reported, not judged (a run's saw-tooth dominates it). */
const MIN_SLOPE_WINDOW_MIN = 4;
/** A tiny model on the small preset; many epochs, so each run trains `runSteps` steps (the step limit ends it). */
const HASH =
  `#ds=small&p=dti&n=10&k=10&iso=strict&pe=rope&d=32&h=2&l=1&ff=64&lr=0.003&bt=80` +
  `&ep=1000&steps=${runSteps}&vpe=${evalsPerEpoch}&pat=0&seed=1&wd=0.01&clip=1`;
const SOAK_CHROMIUM_ARGS = [...CHROMIUM_ARGS, '--enable-precise-memory-info'];

// ---------------------------------------------------------------------------------------------------------------
// The hook, injected as source text in every realm (a string, not a serialized function: the TypeScript loader may
// add helpers to function bodies that would not exist in the browser). Idempotent; `globalThis.__soakVia` says how
// it got there.

const HOOK = String.raw`(() => {
  const g = globalThis;
  if (g.__soak) return 'already';
  const state = {
    via: g.__soakVia || 'unknown',
    realm: typeof WorkerGlobalScope !== 'undefined' && g instanceof WorkerGlobalScope ? 'worker' : 'window',
    // In a worker: had its script already installed its message handler when the hook arrived?
    scriptAlreadyRan: typeof g.onmessage === 'function',
    created: 0, createdBytes: 0, destroyed: 0, destroyedBytes: 0, collected: 0, collectedBytes: 0,
    deviceReleased: 0, untrackedDestroys: 0, live: 0, liveBytes: 0, peakLive: 0, peakLiveBytes: 0,
    devices: 0, devicesDestroyed: 0, pipelines: 0, shaderModules: 0, bindGroups: 0,
    steps: 0, runsDone: 0, errors: 0, lastError: '', firstLabels: [], workerWrapper: false,
  };
  const records = new WeakMap();
  const liveRecords = new Set();
  const perDevice = new WeakMap();
  const release = (rec, how) => {
    if (rec.gone) return;
    rec.gone = how;
    liveRecords.delete(rec);
    if (rec.deviceSet) rec.deviceSet.delete(rec);
    state.live -= 1;
    state.liveBytes -= rec.size;
    if (how === 'destroy') { state.destroyed += 1; state.destroyedBytes += rec.size; }
    else if (how === 'collected') { state.collected += 1; state.collectedBytes += rec.size; }
    else state.deviceReleased += 1;
  };
  const registry = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((rec) => release(rec, 'collected')) : null;
  if (typeof GPUDevice !== 'undefined' && typeof GPUBuffer !== 'undefined') {
    const D = GPUDevice.prototype;
    const createBuffer = D.createBuffer;
    D.createBuffer = function (descriptor) {
      const buffer = createBuffer.apply(this, arguments);
      const size = Number(buffer && buffer.size !== undefined ? buffer.size : descriptor && descriptor.size) || 0;
      let deviceSet = perDevice.get(this);
      if (!deviceSet) { deviceSet = new Set(); perDevice.set(this, deviceSet); }
      const rec = { size, label: (descriptor && descriptor.label) || '(no label)', gone: '', deviceSet };
      records.set(buffer, rec);
      liveRecords.add(rec);
      deviceSet.add(rec);
      if (registry) registry.register(buffer, rec);
      state.created += 1;
      state.createdBytes += size;
      state.live += 1;
      state.liveBytes += size;
      if (state.live > state.peakLive) state.peakLive = state.live;
      if (state.liveBytes > state.peakLiveBytes) state.peakLiveBytes = state.liveBytes;
      if (state.firstLabels.length < 12) state.firstLabels.push(rec.label + ' ' + size + ' B');
      return buffer;
    };
    const destroyBuffer = GPUBuffer.prototype.destroy;
    GPUBuffer.prototype.destroy = function () {
      const rec = records.get(this);
      if (rec) release(rec, 'destroy'); else state.untrackedDestroys += 1;
      return destroyBuffer.apply(this, arguments);
    };
    const destroyDevice = D.destroy;
    D.destroy = function () {
      state.devicesDestroyed += 1;
      const set = perDevice.get(this);
      if (set) for (const rec of [...set]) release(rec, 'device');
      return destroyDevice.apply(this, arguments);
    };
    for (const [name, key] of [['createComputePipeline', 'pipelines'], ['createShaderModule', 'shaderModules'], ['createBindGroup', 'bindGroups']]) {
      const original = D[name];
      if (typeof original === 'function') D[name] = function () { state[key] += 1; return original.apply(this, arguments); };
    }
    if (typeof GPUAdapter !== 'undefined') {
      const requestDevice = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = function () { state.devices += 1; return requestDevice.apply(this, arguments); };
    }
  }
  if (state.realm === 'worker' && typeof g.postMessage === 'function') {
    const postMessage = g.postMessage;
    g.postMessage = function (message) {
      const type = message && typeof message === 'object' ? message.type : undefined;
      if (type === 'step') state.steps += 1;
      else if (type === 'done') state.runsDone += 1;
      else if (type === 'error') { state.errors += 1; state.lastError = String(message.kind) + ': ' + String(message.message); }
      return postMessage.apply(this, arguments);
    };
  }
  // In the page: every Worker gets the hook first. The worker starts from a tiny module (a blob) that imports the
  // hook, then the real script by its absolute URL (static imports run in order), so the hook is in the worker's
  // global scope before the lab's first line there. The lab's workers are self-contained ES modules that do not read
  // self.location, so the blob address changes nothing for them.
  if (state.realm === 'window' && typeof g.Worker === 'function' && typeof g.__soakHookSource === 'string') {
    const NativeWorker = g.Worker;
    const blobUrl = (text) => URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
    const hookUrl = blobUrl("globalThis.__soakVia = 'worker-wrapper';\n" + g.__soakHookSource);
    g.Worker = class Worker extends NativeWorker {
      constructor(url, options) {
        const target = new URL(String(url), g.location.href).href;
        const module = !!options && options.type === 'module';
        const entry = blobUrl(module
          ? 'import ' + JSON.stringify(hookUrl) + ';\nimport ' + JSON.stringify(target) + ';\n'
          : 'importScripts(' + JSON.stringify(hookUrl) + ', ' + JSON.stringify(target) + ');\n');
        super(entry, options);
        setTimeout(() => URL.revokeObjectURL(entry), 60000);
      }
    };
    state.workerWrapper = true;
  }
  state.snapshot = (resetPeak) => {
    const labels = new Map();
    for (const rec of liveRecords) {
      const entry = labels.get(rec.label) || { label: rec.label, count: 0, bytes: 0 };
      entry.count += 1;
      entry.bytes += rec.size;
      labels.set(rec.label, entry);
    }
    const copy = {};
    for (const key of Object.keys(state)) if (typeof state[key] !== 'function') copy[key] = Array.isArray(state[key]) ? state[key].slice() : state[key];
    copy.liveLabels = [...labels.values()].sort((a, b) => b.bytes - a.bytes).slice(0, 12);
    if (resetPeak) { state.peakLive = state.live; state.peakLiveBytes = state.liveBytes; }
    return copy;
  };
  g.__soak = state;
  return 'installed';
})()`;

interface LabelStat {
  label: string;
  count: number;
  bytes: number;
}
interface HookSnapshot {
  via: string;
  realm: string;
  scriptAlreadyRan: boolean;
  created: number;
  createdBytes: number;
  destroyed: number;
  collected: number;
  deviceReleased: number;
  untrackedDestroys: number;
  live: number;
  liveBytes: number;
  peakLive: number;
  peakLiveBytes: number;
  devices: number;
  devicesDestroyed: number;
  pipelines: number;
  shaderModules: number;
  bindGroups: number;
  steps: number;
  runsDone: number;
  errors: number;
  lastError: string;
  firstLabels: string[];
  workerWrapper: boolean;
  liveLabels: LabelStat[];
}
const SNAPSHOT = (resetPeak: boolean) => `globalThis.__soak ? JSON.stringify(globalThis.__soak.snapshot(${resetPeak})) : 'null'`;

// ---------------------------------------------------------------------------------------------------------------
// Workers through CDP (non-flattened auto-attach: messages to a worker go through Target.sendMessageToTarget on the
// page's own CDP session, which playwright-core's public CDPSession can send)

interface WorkerTarget {
  sessionId: string;
  url: string;
  attachedAt: number;
  detached: boolean;
  last: HookSnapshot | null;
}

class WorkerHub {
  readonly workers = new Map<string, WorkerTarget>();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor(private readonly cdp: CDPSession) {
    cdp.on('Target.receivedMessageFromTarget', (event) => {
      const message = JSON.parse(event.message) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id !== undefined) {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(message.error.message));
        else waiter?.resolve(message.result);
      }
    });
    cdp.on('Target.attachedToTarget', (event) => void this.attached(event.sessionId, event.targetInfo.type, event.targetInfo.url, event.waitingForDebugger));
    cdp.on('Target.detachedFromTarget', (event) => {
      const worker = event.sessionId ? this.workers.get(event.sessionId) : undefined;
      if (worker) worker.detached = true;
    });
  }

  async start(): Promise<void> {
    await this.cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  }

  send<T>(sessionId: string, method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from the worker in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch((error: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const answer = await this.send<{ result: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(sessionId, 'Runtime.evaluate', {
      expression,
      returnByValue: true,
    });
    if (answer.exceptionDetails) throw new Error(answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text);
    return answer.result.value as T;
  }

  /** Keeps track of a new worker (the hook is already in it: the page's Worker wrapper put it first). */
  private async attached(sessionId: string, type: string, url: string, waiting: boolean): Promise<void> {
    if (type === 'worker') this.workers.set(sessionId, { sessionId, url, attachedAt: Date.now(), detached: false, last: null });
    if (waiting) await this.send(sessionId, 'Runtime.runIfWaitingForDebugger').catch(() => {});
  }

  /** Fallback for a worker the wrapper missed: install the hook late (its counts then start from that moment). */
  async lateHook(url: string, evaluate: (source: string) => Promise<unknown>): Promise<void> {
    const result = await evaluate(`globalThis.__soakVia = 'late-evaluate'; ${HOOK}`).catch(() => 'gone');
    if (result === 'installed') console.error(`soak: worker ${url} was hooked late (worker.evaluate); buffers it created before are not counted`);
  }

  live(): WorkerTarget[] {
    return [...this.workers.values()].filter((w) => !w.detached);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Samples

interface Sample {
  /** Minutes since the first Start. */
  minute: number;
  kind: 'timed' | 'between runs' | 'final';
  runsStarted: number;
  runsEnded: number;
  gpuBuffers: number;
  gpuBytes: number;
  gpuPeakBuffers: number;
  gpuPeakBytes: number;
  pageHeap: number;
  workerHeap: number | null;
  steps: number;
  domNodes: number;
  listeners: number;
  idbBytes: number | null;
}

function slope(points: { x: number; y: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Main

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = mkdtempSync(path.join(os.tmpdir(), 'dti-soak-dist-'));
let server: PreviewServer | null = null;
let browser: Browser | null = null;
let building: ReturnType<typeof spawn> | null = null;

async function cleanup(): Promise<void> {
  const closing: Promise<unknown>[] = [];
  if (building && building.exitCode === null) building.kill('SIGTERM');
  if (browser) closing.push(browser.close().catch(() => {}));
  if (server) closing.push(server.close().catch(() => {}));
  browser = null;
  server = null;
  await Promise.race([Promise.all(closing), new Promise((resolve) => setTimeout(resolve, 15_000))]);
  rmSync(outDir, { recursive: true, force: true });
}

// Build, page load and shader compilation on software WebGPU take minutes; the whole thing runs under one deadline.
const hardLimitMs = (minutes + 15) * 60_000;
const deadline = setTimeout(() => {
  console.error(`soak: still running ${hardLimitMs / 60_000} min after the start; stopping`);
  void cleanup().finally(() => process.exit(2));
}, hardLimitMs);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`soak: ${signal}; cleaning up`);
    void cleanup().finally(() => process.exit(2));
  });
}

function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    building = spawn('npx', ['vite', 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    building.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    building.on('error', reject);
    building.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}:\n${stderr.slice(-4000)}`))));
  });
}

const log = (line: string) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
const mib = (bytes: number) => (bytes / MIB).toFixed(3);
const mb = (bytes: number | null) => (bytes === null ? '—' : (bytes / MB).toFixed(2));

async function main(): Promise<number> {
  const loadAtStart = os.loadavg();
  log(`building the site into ${outDir}`);
  await build();
  const port = await freePort();
  server = await preview({
    configFile: false,
    root,
    base: './',
    logLevel: 'warn',
    build: { outDir },
    preview: { port, strictPort: true, host: '127.0.0.1', open: false },
  });
  const url = `http://127.0.0.1:${port}/`;
  log(`serving at ${url}`);

  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: SOAK_CHROMIUM_ARGS, timeout: 60_000 });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page: Page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => {
    pageErrors.push(error.message);
    log(`page error: ${error.message}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') log(`console error: ${message.text()}`);
  });
  await page.addInitScript({ content: `globalThis.__soakHookSource = ${JSON.stringify(HOOK)}; globalThis.__soakVia = 'init-script'; ${HOOK};` });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const hub = new WorkerHub(cdp);
  await hub.start();
  page.on('worker', (worker) => void hub.lateHook(worker.url(), (source) => worker.evaluate(source)));

  await page.goto(url + HASH, { timeout: 120_000 });
  await page.getByTestId('dataset-summary').filter({ hasText: 'Built-in (small' }).waitFor({ timeout: 5 * 60_000 });
  await page.getByTestId('prompt-tokens').waitFor({ timeout: 5 * 60_000 });
  const pageHook = JSON.parse(await page.evaluate(SNAPSHOT(false))) as HookSnapshot | null;
  if (!pageHook) throw new Error('the hook is missing in the page (init script)');
  log(`page loaded; hook in the page: ${pageHook.via}`);

  const startButton = page.getByRole('button', { name: 'Start training' });
  const samples: Sample[] = [];
  const runs: { index: number; startedMin: number; endedMin: number | null; status: string; stepsAtEnd: number | null }[] = [];
  const t0 = { ms: 0 };
  const minuteNow = () => (t0.ms ? (Date.now() - t0.ms) / 60_000 : 0);

  const totalSteps = () => [...hub.workers.values()].reduce((s, w) => s + (w.last?.steps ?? 0), 0);

  /** Snapshots every live worker (GC first), then the page; one sample. */
  const sample = async (kind: Sample['kind']): Promise<Sample> => {
    let workerHeap: number | null = null;
    let gpuBuffers = 0;
    let gpuBytes = 0;
    let gpuPeakBuffers = 0;
    let gpuPeakBytes = 0;
    for (const worker of hub.live()) {
      try {
        await hub.send(worker.sessionId, 'HeapProfiler.collectGarbage', {}, 60_000);
        const snapshotText = await hub.evaluate<string>(worker.sessionId, SNAPSHOT(true));
        const snapshot = JSON.parse(snapshotText) as HookSnapshot | null;
        if (!snapshot) continue;
        worker.last = snapshot;
        gpuBuffers += snapshot.live;
        gpuBytes += snapshot.liveBytes;
        gpuPeakBuffers += snapshot.peakLive;
        gpuPeakBytes += snapshot.peakLiveBytes;
        if (snapshot.devices > 0 || snapshot.created > 0) {
          const heap = await hub.send<{ usedSize: number }>(worker.sessionId, 'Runtime.getHeapUsage');
          workerHeap = (workerHeap ?? 0) + heap.usedSize;
        }
      } catch {
        // the worker ended between listing and asking
      }
    }
    await cdp.send('HeapProfiler.collectGarbage');
    const pageHeap = (await cdp.send('Runtime.getHeapUsage')).usedSize;
    const pageSnapshot = JSON.parse(await page.evaluate(SNAPSHOT(true))) as HookSnapshot;
    gpuBuffers += pageSnapshot.live;
    gpuBytes += pageSnapshot.liveBytes;
    gpuPeakBuffers += pageSnapshot.peakLive;
    gpuPeakBytes += pageSnapshot.peakLiveBytes;
    const metrics = new Map((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const idbBytes = await page
      .evaluate(() => navigator.storage?.estimate?.().then((e) => e.usage ?? null) ?? null)
      .catch(() => null);
    const s: Sample = {
      minute: minuteNow(),
      kind,
      runsStarted: runs.length,
      runsEnded: runs.filter((r) => r.endedMin !== null).length,
      gpuBuffers,
      gpuBytes,
      gpuPeakBuffers: Math.max(gpuPeakBuffers, gpuBuffers),
      gpuPeakBytes: Math.max(gpuPeakBytes, gpuBytes),
      pageHeap,
      workerHeap,
      steps: totalSteps(),
      domNodes: metrics.get('Nodes') ?? 0,
      listeners: metrics.get('JSEventListeners') ?? 0,
      idbBytes,
    };
    samples.push(s);
    log(
      `${kind} @${s.minute.toFixed(1)} min: runs ${s.runsEnded}/${s.runsStarted}, GPU ${s.gpuBuffers} buffers ${mib(s.gpuBytes)} MiB ` +
        `(peak ${s.gpuPeakBuffers} / ${mib(s.gpuPeakBytes)} MiB), heap page ${mb(s.pageHeap)} MB worker ${mb(s.workerHeap)} MB, steps ${s.steps}`,
    );
    return s;
  };

  const startRun = async () => {
    await startButton.click();
    await page.waitForFunction(
      () => {
        const button = [...document.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Start training');
        return !button || button.disabled;
      },
      null,
      { timeout: 60_000, polling: 200 },
    );
    if (!t0.ms) t0.ms = Date.now();
    runs.push({ index: runs.length + 1, startedMin: minuteNow(), endedMin: null, status: 'running', stepsAtEnd: null });
    log(`run ${runs.length} started`);
  };

  await startRun();
  let nextSample = Date.now() + sampleSec * 1000;
  await sample('timed');
  const endAt = t0.ms + minutes * 60_000;
  while (Date.now() < endAt) {
    await page.waitForTimeout(1000);
    if (Date.now() >= nextSample) {
      nextSample += sampleSec * 1000;
      await sample('timed');
    }
    const current = runs[runs.length - 1];
    if (current.endedMin === null && (await startButton.isEnabled())) {
      // The run ended: give the model export and the saves a moment, then measure the idle worker and start again.
      await page.waitForTimeout(1500);
      current.endedMin = minuteNow();
      const heading = (await page.getByTestId('run-heading').textContent().catch(() => '')) ?? '';
      current.status = /— (\w[\w ]*?)( on |$)/.exec(heading)?.[1] ?? heading;
      const s = await sample('between runs');
      current.stepsAtEnd = s.steps;
      log(`run ${current.index} ended: ${current.status}`);
      if (Date.now() < endAt - 20_000) await startRun();
      else break;
    }
  }
  await sample('final');
  const browserVersion = browser.version();

  // ----- analysis -----
  const duration = Math.max(minuteNow(), 1e-9);
  const warmupEnd = duration / 3;
  const warm = samples.filter((s) => s.minute < warmupEnd);
  const after = samples.filter((s) => s.minute >= warmupEnd);
  const points = (kind: Sample['kind'], pick: (s: Sample) => number | null) =>
    after
      .filter((s) => s.kind === kind)
      .map((s) => ({ x: s.minute, y: pick(s) }))
      .filter((p): p is { x: number; y: number } => p.y !== null);
  const fit = (pick: (s: Sample) => number | null) => slope(points('timed', pick));
  /**
   * The heap verdict's slope: over the run boundaries when there are at least three after warm-up (like-for-like
   * points: idle worker, same phase of the run cycle), else over the timed samples (these land anywhere in a run, so
   * the saw-tooth of a run's working set adds noise).
   */
  const heapFit = (pick: (s: Sample) => number | null): { value: number | null; over: string } => {
    const boundaries = points('between runs', pick);
    if (boundaries.length >= 3) return { value: slope(boundaries), over: `${boundaries.length} run boundaries` };
    const timed = points('timed', pick);
    return { value: slope(timed), over: `${timed.length} timed samples` };
  };
  const fitWindow = duration - warmupEnd;
  const maxOf = (xs: Sample[], pick: (s: Sample) => number) => (xs.length ? Math.max(...xs.map(pick)) : NaN);
  const idle = samples.filter((s) => s.kind === 'between runs');

  const checks: { name: string; bound: string; measured: string; ok: boolean | null }[] = [];
  const warmBytes = maxOf(warm, (s) => s.gpuPeakBytes);
  const afterBytes = maxOf(after, (s) => s.gpuPeakBytes);
  checks.push({
    name: 'GPU bytes after warm-up',
    bound: `highest live (peaks included) ≤ warm-up highest + ${mib(BOUNDS.gpuBytesGrowth)} MiB`,
    measured: `${mib(afterBytes)} MiB vs ${mib(warmBytes)} MiB (${afterBytes - warmBytes >= 0 ? '+' : ''}${afterBytes - warmBytes} B)`,
    ok: after.length && warm.length ? afterBytes <= warmBytes + BOUNDS.gpuBytesGrowth : null,
  });
  const warmBuffers = maxOf(warm, (s) => s.gpuPeakBuffers);
  const afterBuffers = maxOf(after, (s) => s.gpuPeakBuffers);
  checks.push({
    name: 'GPU buffers after warm-up',
    bound: `highest live ≤ warm-up highest + ${BOUNDS.gpuBuffersGrowth}`,
    measured: `${afterBuffers} vs ${warmBuffers}`,
    ok: after.length && warm.length ? afterBuffers <= warmBuffers + BOUNDS.gpuBuffersGrowth : null,
  });
  if (idle.length >= 2) {
    const first = idle[0];
    const worst = idle.reduce((m, s) => (s.gpuBytes > m.gpuBytes ? s : m), idle[0]);
    checks.push({
      name: 'GPU bytes left between runs',
      bound: `every run boundary ≤ the first boundary + ${mib(BOUNDS.gpuBytesGrowth)} MiB`,
      measured: `first ${first.gpuBuffers} buffers / ${first.gpuBytes} B; highest ${worst.gpuBuffers} buffers / ${worst.gpuBytes} B over ${idle.length} boundaries`,
      ok: worst.gpuBytes <= first.gpuBytes + BOUNDS.gpuBytesGrowth,
    });
  } else {
    checks.push({ name: 'GPU bytes left between runs', bound: 'needs two run boundaries', measured: `${idle.length} boundary`, ok: null });
  }
  const slopeCheck = (name: string, pick: (s: Sample) => number | null) => {
    const { value, over } = heapFit(pick);
    const measured = value === null ? `too few samples (${over})` : `${(value / MB).toFixed(3)} MB/min over ${over}`;
    const tooShort = fitWindow < MIN_SLOPE_WINDOW_MIN;
    checks.push({
      name,
      bound: `< ${mb(BOUNDS.heapSlopeBytesPerMin)} MB/min (fit window ≥ ${MIN_SLOPE_WINDOW_MIN} min)`,
      measured: tooShort ? `${measured}; window ${fitWindow.toFixed(1)} min: too short to judge` : measured,
      ok: value === null || tooShort ? null : value < BOUNDS.heapSlopeBytesPerMin,
    });
  };
  slopeCheck('page JS heap slope (last 2/3)', (s) => s.pageHeap);
  slopeCheck('training-worker JS heap slope (last 2/3)', (s) => s.workerHeap);
  const badRuns = runs.filter((r) => r.endedMin !== null && r.status !== 'done');
  checks.push({
    name: 'runs end done',
    bound: 'every finished run is done',
    measured: `${runs.filter((r) => r.status === 'done').length} done of ${runs.filter((r) => r.endedMin !== null).length} ended${badRuns.length ? `; ${badRuns.map((r) => `#${r.index} ${r.status}`).join(', ')}` : ''}`,
    ok: badRuns.length === 0,
  });
  checks.push({ name: 'page errors', bound: 'none', measured: pageErrors.length ? pageErrors.slice(0, 3).join(' | ') : 'none', ok: pageErrors.length === 0 });
  const failed = checks.some((c) => c.ok === false);

  // ----- report -----
  const lines: string[] = [];
  const print = (line = '') => {
    lines.push(line);
    console.log(line);
  };
  const allWorkers = [...hub.workers.values()];
  const trainers = allWorkers.filter((w) => w.last && (w.last.devices > 0 || w.last.created > 0));
  const trainer = trainers.at(-1)?.last ?? null;
  print('# Soak run: continuous training in headless Chromium');
  print();
  print(`- date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; command: \`${command}\``);
  print(`- duration: ${duration.toFixed(1)} min of training (asked: ${minutes} min), samples every ${sampleSec} s (GC forced before each)`);
  print(`- machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average (1/5/15 min) at start ${loadAtStart.map((x) => x.toFixed(1)).join(' / ')}, at end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}`);
  print(`- browser: Chromium ${browserVersion} headless (${CHROMIUM_PATH}), production build served by \`vite preview\``);
  print(`- lab link: \`${HASH}\` (d=32, 2 heads, 1 layer, d_ff=64, 80 targets per step, ${runSteps} steps per run, ${evalsPerEpoch} validation point(s) per epoch); runs started back to back: ${runs.length}, steps trained: ${totalSteps().toLocaleString('en-US')}`);
  const n = (x: number) => x.toLocaleString('en-US');
  const hookedVia = trainers.map((w) => w.last?.via ?? '?').join(', ') || 'none';
  print(`- instrumentation: page hook via ${pageHook.via} (Worker constructor wrapped: ${pageHook.workerWrapper ? 'yes' : 'no'}); training worker(s) hooked via ${hookedVia}`);
  if (trainer) {
    print(
      `- the (last) training worker: hook in place before its script ran: ${trainer.scriptAlreadyRan ? 'NO' : 'yes'}; buffers created ${n(trainer.created)}, ` +
        `destroyed ${n(trainer.destroyed)}, collected without destroy ${n(trainer.collected)}, released by a device destroy ${n(trainer.deviceReleased)}, ` +
        `destroy() of buffers the hook never saw created ${n(trainer.untrackedDestroys)}; devices requested ${trainer.devices}; ` +
        `compute pipelines created ${n(trainer.pipelines)}, shader modules ${n(trainer.shaderModules)}, bind groups ${n(trainer.bindGroups)}`,
    );
  }
  if (trainer) print(`- first buffers the worker created: ${trainer.firstLabels.join(', ')}`);
  print();
  print('## Bounds and verdict');
  print();
  print(`Warm-up: the first third (${warmupEnd.toFixed(1)} min). Slopes: least squares over the samples after it; the heap checks fit the run-boundary samples when there are at least three (like-for-like points), the slope table below the timed samples.`);
  print();
  print('| check | bound | measured | verdict |');
  print('|---|---|---|---|');
  for (const c of checks) print(`| ${c.name} | ${c.bound} | ${c.measured} | ${c.ok === null ? 'n/a' : c.ok ? 'pass' : '**FAIL**'} |`);
  print();
  const unjudged = checks.filter((c) => c.ok === null).map((c) => c.name);
  print(`**Verdict: ${failed ? 'FAIL' : 'pass'}**${unjudged.length ? ` (not judged: ${unjudged.join('; ')})` : ''}`);
  print();
  print('## Samples');
  print();
  print('GPU = buffers created with GPUDevice.createBuffer, not yet destroyed nor collected, page and workers together; "peak" = the most live at any moment since the previous sample. Heaps after a forced collection (Runtime.getHeapUsage). MB = 10^6 bytes.');
  print();
  print('| minute | sample | runs ended / started | live GPU buffers | GPU MiB | peak buffers | peak GPU MiB | page heap MB | worker heap MB | steps so far | DOM nodes | JS listeners | IndexedDB MB |');
  print('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of samples) {
    print(
      `| ${s.minute.toFixed(1)} | ${s.kind} | ${s.runsEnded} / ${s.runsStarted} | ${s.gpuBuffers} | ${mib(s.gpuBytes)} | ${s.gpuPeakBuffers} | ${mib(s.gpuPeakBytes)} | ` +
        `${mb(s.pageHeap)} | ${mb(s.workerHeap)} | ${s.steps.toLocaleString('en-US')} | ${s.domNodes} | ${s.listeners} | ${mb(s.idbBytes)} |`,
    );
  }
  print();
  print('## Slopes over the last two thirds (per minute)');
  print();
  const series: [string, (s: Sample) => number | null, (x: number) => string][] = [
    ['live GPU buffers', (s) => s.gpuBuffers, (x) => x.toFixed(2)],
    ['live GPU bytes', (s) => s.gpuBytes, (x) => `${(x / MIB).toFixed(4)} MiB`],
    ['peak GPU bytes', (s) => s.gpuPeakBytes, (x) => `${(x / MIB).toFixed(4)} MiB`],
    ['page heap', (s) => s.pageHeap, (x) => `${(x / MB).toFixed(3)} MB`],
    ['worker heap', (s) => s.workerHeap, (x) => `${(x / MB).toFixed(3)} MB`],
    ['steps', (s) => s.steps, (x) => x.toFixed(0)],
    ['DOM nodes', (s) => s.domNodes, (x) => x.toFixed(1)],
    ['IndexedDB', (s) => s.idbBytes, (x) => `${(x / MB).toFixed(3)} MB`],
  ];
  print('| series | slope per minute |');
  print('|---|---|');
  for (const [name, pick, format] of series) {
    const value = fit(pick);
    print(`| ${name} | ${value === null ? 'too few samples' : format(value)} |`);
  }
  print();
  print('## At the run boundaries');
  print();
  print(
    'Samples taken when a run has ended and before the next starts (training worker idle, garbage collected): the most comparable points. ' +
      'Page heap against steps trained says what the page keeps per step; worker heap against runs, what each run leaves behind.',
  );
  print();
  const perStep = slope(idle.map((s) => ({ x: s.steps, y: s.pageHeap })));
  const workerPerRun = slope(idle.filter((s) => s.workerHeap !== null).map((s) => ({ x: s.runsEnded, y: s.workerHeap ?? 0 })));
  const gpuPerRun = slope(idle.map((s) => ({ x: s.runsEnded, y: s.gpuBytes })));
  const idbPerStep = slope(idle.filter((s) => s.idbBytes !== null).map((s) => ({ x: s.steps, y: s.idbBytes ?? 0 })));
  const fmtFit = (value: number | null, unit: string) => (value === null ? 'fewer than 3 boundaries' : `${value.toFixed(1)} ${unit}`);
  print('| fit over the run boundaries | value |');
  print('|---|---|');
  print(`| page heap per step trained | ${fmtFit(perStep, 'B/step')} |`);
  print(`| training-worker heap per run | ${fmtFit(workerPerRun, 'B/run')} |`);
  print(`| live GPU bytes per run (idle) | ${fmtFit(gpuPerRun, 'B/run')} |`);
  print(`| IndexedDB usage per step trained | ${fmtFit(idbPerStep, 'B/step')} |`);
  print();
  print('## Runs');
  print();
  print('| run | started (min) | ended (min) | status | steps so far at its end |');
  print('|---|---|---|---|---|');
  for (const r of runs) {
    print(`| ${r.index} | ${r.startedMin.toFixed(1)} | ${r.endedMin === null ? 'still training' : r.endedMin.toFixed(1)} | ${r.status} | ${r.stepsAtEnd?.toLocaleString('en-US') ?? '—'} |`);
  }
  if (trainer) {
    print();
    print('Live GPU buffers in the training worker at the end, by label (largest first):');
    print();
    print('| label | buffers | bytes |');
    print('|---|---|---|');
    for (const l of trainer.liveLabels) print(`| ${l.label} | ${l.count} | ${l.bytes.toLocaleString('en-US')} |`);
    if (trainer.liveLabels.length === 0) print('| (none: every buffer was destroyed) | 0 | 0 |');
    if (trainer.errors) print(`\nThe worker reported ${trainer.errors} error(s); last: ${trainer.lastError}`);
  }
  print();
  if (outFile) {
    writeFileSync(path.resolve(root, outFile), lines.join('\n') + '\n');
    log(`report written to ${outFile}`);
  }
  return failed ? 1 : 0;
}

let code = 2;
try {
  code = await main();
} catch (error) {
  console.error('soak failed:', error);
  code = 2;
} finally {
  clearTimeout(deadline);
  await cleanup();
}
process.exit(code);
