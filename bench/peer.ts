/**
 * Peer benchmark page (bench/peer.html, served by Vite from scripts/bench-peer.ts; not part of the app build).
 * For each configuration: one real batch of the built-in 'small' dataset (DTI, n = 20, k = 20, strict isolation,
 * RoPE), the same initial parameters, then
 *   (a) the lab's GpuModel.trainStep (forward, backward, clipping and AdamW in one submission), and
 *   (b) the same model in TensorFlow.js on its WebGPU backend (bench/tfjs-model.ts: dense additive mask, variableGrads,
 *       manual clipping and AdamW inside tf.tidy).
 * Each side runs `warmup` steps (awaited one by one), then `steps` pipelined steps timed until the last loss is read
 * back. Both sides upload the batch every step; building it on the CPU (and the dense mask) is outside the timing.
 * One extra step per side, after the timing, counts its compute dispatches and queue submissions.
 * The result goes to window.__peerResult (bench/peer-types.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { loadBuiltin } from '../src/data/index';
import { GpuContext } from '../src/gpu/context';
import { acquireDevice } from '../src/gpu/device';
import type { ModelConfig } from '../src/model/config';
import { DEFAULT_OPTIMIZER, GpuModel, ParamState, type StepStats } from '../src/model/gpu-model';
import { initParams, paramLayout } from '../src/model/params';
import { makeBatch } from '../src/prompt/batch';
import { packPrompts } from '../src/prompt/pack';
import type { IsolationLevel, PositionEncoding } from '../src/prompt/types';
import type { PeerConfigResult, PeerResult } from './peer-types';
import { TfModel, denseBatch } from './tfjs-model';

interface BenchConfig {
  name: string;
  model: Pick<ModelConfig, 'dModel' | 'nHeads' | 'nLayers' | 'dFF'>;
  batchSize: number;
}

const CONFIGS: Record<string, BenchConfig> = {
  default: { name: 'default', model: { dModel: 64, nHeads: 4, nLayers: 2, dFF: 256 }, batchSize: 8 },
  larger: { name: 'larger', model: { dModel: 128, nHeads: 4, nLayers: 4, dFF: 512 }, batchSize: 8 },
};

const N_CONTEXT = 20;
const K_TARGETS = 20;
const ISOLATION: IsolationLevel = 'strict';
const POSITION_ENCODING: PositionEncoding = 'rope';
const LOSS_TOLERANCE = 1e-3;

const params = new URLSearchParams(location.search);
const warmup = Math.max(1, Number(params.get('warmup') ?? 2));
const steps = Math.max(1, Number(params.get('steps') ?? 3));
const learningRate = Number(params.get('lr') ?? 1e-3);
const configNames = (params.get('configs') ?? 'default,larger').split(',').filter(Boolean);

/**
 * Counts compute dispatches and queue submissions made while `fn` runs, by wrapping the WebGPU prototypes (the same
 * count for both implementations; TF.js's free kernels such as Reshape dispatch nothing and are not counted).
 */
async function countGpuWork(fn: () => Promise<unknown>): Promise<{ dispatches: number; submissions: number }> {
  const pass = GPUComputePassEncoder.prototype;
  const queue = GPUQueue.prototype;
  const dispatch = pass.dispatchWorkgroups;
  const dispatchIndirect = pass.dispatchWorkgroupsIndirect;
  const submit = queue.submit;
  const counts = { dispatches: 0, submissions: 0 };
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<typeof dispatch>) {
    counts.dispatches++;
    return dispatch.apply(this, args);
  };
  pass.dispatchWorkgroupsIndirect = function (this: GPUComputePassEncoder, ...args: Parameters<typeof dispatchIndirect>) {
    counts.dispatches++;
    return dispatchIndirect.apply(this, args);
  };
  queue.submit = function (this: GPUQueue, ...args: Parameters<typeof submit>) {
    counts.submissions++;
    return submit.apply(this, args);
  };
  try {
    await fn();
  } finally {
    pass.dispatchWorkgroups = dispatch;
    pass.dispatchWorkgroupsIndirect = dispatchIndirect;
    queue.submit = submit;
  }
  return counts;
}

const progress: string[] = [];
const logElement = document.getElementById('log');
function log(message: string): void {
  const line = `[peer ${(performance.now() / 1000).toFixed(1)} s] ${message}`;
  progress.push(line);
  console.log(line);
  if (logElement) logElement.textContent += line + '\n';
}

async function run(): Promise<PeerResult> {
  const acquired = await acquireDevice();
  const { device } = acquired;
  device.addEventListener('uncapturederror', (event) => log(`lab WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`));
  log(`lab adapter: ${acquired.adapterInfo}`);
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not initialise its WebGPU backend');
  await tf.ready();
  log(`TF.js ${tf.version_core} on ${tf.getBackend()}`);

  const dataset = loadBuiltin('small').dataset;
  const prompts = packPrompts(dataset, { n: N_CONTEXT, k: K_TARGETS, split: 'train' }).filter((p) => p.targets.length === K_TARGETS);
  const results: PeerConfigResult[] = [];

  for (const name of configNames) {
    const bench = CONFIGS[name];
    if (!bench) throw new Error(`unknown config ${name} (known: ${Object.keys(CONFIGS).join(', ')})`);
    const batchPrompts = prompts.slice(0, bench.batchSize);
    const B = bench.batchSize;
    const L = Math.max(...batchPrompts.map((p) => p.tokens.length));
    const config: ModelConfig = { ...bench.model, vocabSize: dataset.vocab.tokens.length, maxSeqLen: L, positionEncoding: POSITION_ENCODING, forgetting: false, seed: 1 };
    const batch = makeBatch(batchPrompts, { L, B, n: N_CONTEXT, isolation: ISOLATION });
    const dense = denseBatch(batch);
    const initial = initParams(config);
    const T = batch.targetIndex.length;
    log(`${name}: d=${config.dModel} heads=${config.nHeads} layers=${config.nLayers} d_ff=${config.dFF} V=${config.vocabSize}, batch ${B}×${L}, ${T} targets`);

    // (a) the lab's engine
    const ctx = new GpuContext(device);
    const state = new ParamState(ctx, config, initial);
    const lab = new GpuModel(state, { B, L, maxTargets: T, n: N_CONTEXT, isolation: ISOLATION }, true);
    const labStats: StepStats[] = [];
    let start = performance.now();
    labStats.push(await lab.trainStep([batch], learningRate));
    const labFirstStepMs = performance.now() - start;
    log(`${name}: lab first step ${labFirstStepMs.toFixed(0)} ms, loss ${labStats[0].loss.toFixed(6)}`);
    for (let i = 1; i < warmup; i++) labStats.push(await lab.trainStep([batch], learningRate));
    start = performance.now();
    const pending: Promise<StepStats>[] = [];
    for (let i = 0; i < steps; i++) pending.push(lab.trainStep([batch], learningRate));
    labStats.push(...(await Promise.all(pending)));
    const labMs = (performance.now() - start) / steps;
    log(`${name}: lab ${labMs.toFixed(1)} ms/step`);
    // One more step, outside the timing, to count its GPU work.
    const labWork = await countGpuWork(() => lab.trainStep([batch], learningRate));
    await device.queue.onSubmittedWorkDone();
    ctx.destroy(); // also the parameter state's buffers (created through ctx)

    // (b) the same model in TensorFlow.js
    const tensorsBefore = tf.memory().numTensors;
    const peer = new TfModel(config, initial, DEFAULT_OPTIMIZER);
    const tfLosses: number[] = [];
    const tfGradNorms: number[] = [];
    const read = async (r: { loss: tf.Scalar; gradNorm: tf.Scalar }) => {
      tfLosses.push((await r.loss.data())[0]);
      tfGradNorms.push((await r.gradNorm.data())[0]);
      r.loss.dispose();
      r.gradNorm.dispose();
    };
    start = performance.now();
    await read(peer.trainStep(dense, learningRate));
    const tfFirstStepMs = performance.now() - start;
    log(`${name}: TF.js first step ${tfFirstStepMs.toFixed(0)} ms, loss ${tfLosses[0].toFixed(6)}`);
    for (let i = 1; i < warmup; i++) await read(peer.trainStep(dense, learningRate));
    start = performance.now();
    const queued = [];
    for (let i = 0; i < steps; i++) queued.push(peer.trainStep(dense, learningRate));
    for (const r of queued) await read(r);
    const tfMs = (performance.now() - start) / steps;
    log(`${name}: TF.js ${tfMs.toFixed(1)} ms/step`);
    const tfWork = await countGpuWork(async () => {
      const r = peer.trainStep(dense, learningRate);
      await r.loss.data();
      r.loss.dispose();
      r.gradNorm.dispose();
    });
    log(`${name}: GPU work per step: lab ${labWork.dispatches} dispatches in ${labWork.submissions} submissions, TF.js ${tfWork.dispatches} in ${tfWork.submissions}`);
    peer.dispose();
    const tfLeakedTensors = tf.memory().numTensors - tensorsBefore;

    const labLosses = labStats.map((s) => s.loss);
    const diffs = labLosses.map((loss, i) => Math.abs(loss - tfLosses[i]));
    results.push({
      name,
      ...bench.model,
      vocabSize: config.vocabSize,
      B,
      L,
      targets: T,
      parameters: paramLayout(config).total,
      warmup,
      steps,
      labMs,
      tfMs,
      speedup: tfMs / labMs,
      labFirstStepMs,
      tfFirstStepMs,
      labDispatches: labWork.dispatches,
      labSubmissions: labWork.submissions,
      tfDispatches: tfWork.dispatches,
      tfSubmissions: tfWork.submissions,
      labLosses,
      tfLosses,
      labGradNorms: labStats.map((s) => s.gradNorm),
      tfGradNorms,
      firstLossDiff: diffs[0],
      maxLossDiff: Math.max(...diffs),
      tfLeakedTensors,
    });
    log(`${name}: speedup ${(tfMs / labMs).toFixed(2)}×, step-1 |Δloss| ${diffs[0].toExponential(2)}, max |Δloss| ${Math.max(...diffs).toExponential(2)}`);
  }

  const o = DEFAULT_OPTIMIZER;
  return {
    ok: true,
    configs: results,
    adapter: acquired.adapterInfo,
    userAgent: navigator.userAgent,
    tfVersion: tf.version_core,
    tfBackend: tf.getBackend(),
    positionEncoding: POSITION_ENCODING,
    isolation: ISOLATION,
    n: N_CONTEXT,
    k: K_TARGETS,
    learningRate,
    optimizer: `AdamW β1=${o.beta1} β2=${o.beta2} ε=${o.eps} wd=${o.weightDecay}, clip ‖g‖ ≤ ${o.maxGradNorm}`,
    lossTolerance: LOSS_TOLERANCE,
  };
}

run().then(
  (result) => {
    window.__peerResult = result;
    log('done');
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    log(`failed: ${message}`);
    window.__peerResult = { ok: false, error: message, progress };
  },
);
