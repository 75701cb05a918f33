/**
 * Peer comparison: the lab's training step against the same model in TensorFlow.js (WebGPU backend), in the same
 * headless Chromium on the same adapter. Starts a Vite dev server on bench/peer.html, opens it in Debian's chromium
 * (playwright-core, a fresh temporary profile), waits for window.__peerResult and prints a Markdown report.
 *
 *   bash scripts/with-gpu.sh scripts/bench-peer.ts [--out FILE] [--warmup 2] [--steps 3] [--configs default,larger]
 *                                                  [--lr 0.001] [--timeout-min 30]
 *
 * Software WebGPU (SwiftShader) runs at about 1 GFLOP/s: keep the step counts small there.
 */
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { type ViteDevServer, createServer } from 'vite';
import type { PeerResult } from '../bench/peer-types';

const PORT = 4174;
const GOAL = 2;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const outFile = option('out', '');
const warmup = Number(option('warmup', '2'));
const steps = Number(option('steps', '3'));
const configs = option('configs', 'default,larger');
const lr = Number(option('lr', '0.001'));
const timeoutMs = Number(option('timeout-min', '30')) * 60_000;
const command = `bash scripts/with-gpu.sh scripts/bench-peer.ts ${process.argv.slice(2).join(' ')}`.trim();

const loadAtStart = os.loadavg();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let server: ViteDevServer | null = null;
let browser: Browser | null = null;

async function cleanup(): Promise<void> {
  const closing: Promise<unknown>[] = [];
  if (browser) closing.push(browser.close().catch(() => {}));
  if (server) closing.push(server.close().catch(() => {}));
  browser = null;
  server = null;
  await Promise.race([Promise.all(closing), new Promise((resolve) => setTimeout(resolve, 15_000))]);
}

// Everything, server start and browser included, runs under one deadline.
const deadline = setTimeout(() => {
  console.error(`bench-peer: no result after ${timeoutMs / 60_000} min; stopping`);
  void cleanup().finally(() => process.exit(1));
}, timeoutMs);

async function main(): Promise<number> {
  server = await createServer({
    configFile: false,
    root,
    logLevel: 'warn',
    clearScreen: false,
    // No file watching and no HMR: an edit anywhere in the repository (another session at work) must not reload the
    // page mid-run.
    server: { port: PORT, strictPort: true, host: '127.0.0.1', hmr: false, watch: null },
    // Its own dependency cache (the app's dev server uses node_modules/.vite with another configuration), and the
    // page's dependencies pre-bundled up front, so discovering one later does not reload the page either.
    cacheDir: 'node_modules/.vite-bench-peer',
    optimizeDeps: {
      entries: ['bench/peer.html'],
      include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu'],
    },
  });
  await server.listen();

  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
    timeout: 60_000,
  });
  const page = await browser.newPage();
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith('[peer') || message.type() === 'error') console.error(text);
  });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  const query = new URLSearchParams({ warmup: String(warmup), steps: String(steps), configs, lr: String(lr) });
  await page.goto(`http://127.0.0.1:${PORT}/bench/peer.html?${query}`, { timeout: 120_000 });
  await page.waitForFunction(() => window.__peerResult !== undefined, null, { timeout: timeoutMs, polling: 1000 });
  const result = (await page.evaluate(() => window.__peerResult)) as PeerResult;
  const browserVersion = browser.version();
  if (!result.ok) {
    console.error(`bench-peer: the page failed:\n${result.error}`);
    return 1;
  }

  const lines: string[] = [];
  const print = (line = '') => {
    lines.push(line);
    console.log(line);
  };
  const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  print('# Peer comparison: lab kernels vs TensorFlow.js (WebGPU)');
  print();
  print(`- date: ${new Date().toISOString().slice(0, 10)}`);
  print(`- machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`);
  const load = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
  print(`- load average (1/5/15 min) at start: ${load(loadAtStart)}, at end: ${load(os.loadavg())} (other work on the machine makes step times noisy)`);
  print(`- browser: Chromium ${browserVersion} headless (${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'})`);
  print(`- adapter: ${result.adapter}`);
  print(`- peer: TensorFlow.js ${result.tfVersion}, backend \`${result.tfBackend}\` (default flags), same page, same adapter`);
  print(`- command: \`${command}\``);
  print(
    `- data: one batch of the built-in 'small' preset, DTI prompts n = ${result.n}, k = ${result.k}, isolation ${result.isolation}, ` +
      `${result.positionEncoding} positions; lr ${result.learningRate}, ${result.optimizer}`,
  );
  print(
    `- timing: ${warmup} warm-up steps, then the mean of ${steps} pipelined steps ending when the last step's loss is on the CPU; ` +
      `both sides upload the batch every step (TF.js: tokens, positions, the dense [B,1,L,L] mask, targets)`,
  );
  print(`- same model: both start from the lab's initParams; losses before each update must agree within ${result.lossTolerance}`);
  print();
  print(`| config | batch B × L (targets) | parameters | lab ms/step | TF.js ms/step | speedup (TF.js / lab) | goal ≥ ${GOAL}× | step-1 loss lab / TF.js (|Δ|) | max |Δloss| over ${warmup + steps} steps | step-1 grad norm lab / TF.js |`);
  print('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of result.configs) {
    const agree = c.maxLossDiff <= result.lossTolerance ? 'agree' : 'DIFFER';
    print(
      `| ${c.name} (d=${c.dModel}, ${c.nHeads} heads, ${c.nLayers} layers, d_ff=${c.dFF}, V=${c.vocabSize}) | ${c.B} × ${c.L} (${c.targets}) | ${c.parameters.toLocaleString('en-US')} | ` +
        `${ms(c.labMs)} | ${ms(c.tfMs)} | ${c.speedup.toFixed(2)}× | ${c.speedup >= GOAL ? 'met' : 'not met'} | ` +
        `${c.labLosses[0].toFixed(6)} / ${c.tfLosses[0].toFixed(6)} (${c.firstLossDiff.toExponential(1)}) | ${c.maxLossDiff.toExponential(1)} (${agree}) | ` +
        `${c.labGradNorms[0].toFixed(4)} / ${c.tfGradNorms[0].toFixed(4)} |`,
    );
  }
  print();
  print('| config | first step ms, compile included: lab / TF.js | GPU dispatches per step: lab / TF.js | queue submissions per step: lab / TF.js | TF.js tensors leaked | losses lab | losses TF.js |');
  print('|---|---|---|---|---|---|---|');
  for (const c of result.configs) {
    const list = (xs: number[]) => xs.map((x) => x.toFixed(4)).join(', ');
    print(
      `| ${c.name} | ${ms(c.labFirstStepMs)} / ${ms(c.tfFirstStepMs)} | ${c.labDispatches} / ${c.tfDispatches} | ${c.labSubmissions} / ${c.tfSubmissions} | ` +
        `${c.tfLeakedTensors} | ${list(c.labLosses)} | ${list(c.tfLosses)} |`,
    );
  }
  print();
  if (outFile) writeFileSync(outFile, lines.join('\n') + '\n');
  const sameModel = result.configs.every((c) => c.firstLossDiff <= result.lossTolerance);
  if (!sameModel) console.error('bench-peer: the two implementations disagree on the first-step loss');
  return sameModel ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error('bench-peer failed:', error);
} finally {
  clearTimeout(deadline);
  await cleanup();
}
process.exit(code);
