/// <reference lib="webworker" />
/**
 * The training worker: owns the GPU device and runs src/train/trainer.ts, so the page's thread never waits on the GPU.
 * Speaks the protocol of src/train/protocol.ts.
 */
import { type AcquiredDevice, WebGpuUnavailableError, acquireDevice } from '../gpu/device';
import type { InspectRequest, TrainConfig, TrainerCommand, TrainerEvent } from './protocol';
import { datasetFromMessage } from '../data/dataset-message';
import { evaluateParams } from './evaluate';
import { TrainingControl, type TrainingResult, train } from './trainer';
import { TrainingError } from './training-error';

declare const self: DedicatedWorkerGlobalScope;

const post = (event: TrainerEvent) => {
  if (event.type === 'model') self.postMessage(event, [event.params.buffer]);
  else if (event.type === 'inspection') self.postMessage(event, [event.probs.buffer, event.attention.buffer]);
  else self.postMessage(event);
};

let gpu: Promise<AcquiredDevice> | null = null;
let control: TrainingControl | null = null;
let lastResult: { config: TrainConfig; result: TrainingResult } | null = null;
/** The prompt the page shows, scored by the run in progress (the page sends it whenever it changes). */
let inspectRequest: InspectRequest | null = null;
/** Set when the device reports an error mid-run; the run ends with it instead of a generic failure. */
let deviceFailure: TrainingError | null = null;

function device(): Promise<AcquiredDevice> {
  if (!gpu) {
    gpu = acquireDevice().then((acquired) => {
      acquired.device.lost.then((info) => {
        gpu = null; // the next run asks for a new device
        if (info.reason === 'destroyed' && !control) return;
        deviceFailure = new TrainingError('device-lost', `The GPU device was lost (${info.reason}): ${info.message.replace(/\.+$/, '') || 'no details'}. Start the run again to use a new device.`);
        control?.stop();
      });
      acquired.device.addEventListener('uncapturederror', (event) => {
        const error = (event as GPUUncapturedErrorEvent).error;
        const kind = error instanceof GPUOutOfMemoryError ? 'out of memory' : 'validation error';
        deviceFailure ??= new TrainingError('gpu-error', `GPU ${kind}: ${error.message}`);
        control?.stop();
      });
      return acquired;
    });
    gpu.catch(() => {
      gpu = null;
    });
  }
  return gpu;
}

async function start(command: Extract<TrainerCommand, { type: 'start' }>) {
  if (control) {
    post({ type: 'error', kind: 'internal', message: 'a run is already in progress in this worker' });
    return;
  }
  control = new TrainingControl();
  deviceFailure = null;
  lastResult = null; // a failed run must not export the previous run's weights
  try {
    post({ type: 'status', phase: 'device', message: 'Requesting a WebGPU device' });
    const acquired = await device();
    // Every run records the adapter it trained on, whether the device is new or reused from an earlier run.
    post({ type: 'device', adapter: acquired.adapterInfo, features: [...acquired.device.features] });
    // A run ended by a lost device must not report 'done' with metrics read from the dead device.
    const emit = (event: TrainerEvent) => {
      if (event.type === 'done' && deviceFailure) return;
      post(event);
    };
    const result = await train(acquired, datasetFromMessage(command.dataset), command.config, { emit, control, inspect: () => inspectRequest });
    if (deviceFailure) throw deviceFailure;
    lastResult = { config: command.config, result };
  } catch (error) {
    // A lost device fails pending GPU reads before its `lost` promise settles: give that a moment to name the cause.
    if (!deviceFailure) await new Promise((resolve) => setTimeout(resolve, 200));
    const failure = deviceFailure ?? error;
    if (failure instanceof TrainingError) post({ type: 'error', kind: failure.kind, message: failure.message });
    else if (failure instanceof WebGpuUnavailableError) post({ type: 'error', kind: 'no-webgpu', message: failure.message });
    else post({ type: 'error', kind: 'internal', message: (failure as Error)?.message ?? String(failure) });
  } finally {
    control = null;
  }
}

async function evaluate(command: Extract<TrainerCommand, { type: 'evaluate' }>) {
  if (control) {
    post({ type: 'error', kind: 'internal', message: 'a run is in progress in this worker; evaluate after it ends' });
    return;
  }
  try {
    post({ type: 'status', phase: 'evaluate', message: 'Evaluating the imported model' });
    const acquired = await device();
    const { valid, test } = await evaluateParams(acquired, datasetFromMessage(command.dataset), command.config, command.params);
    post({ type: 'evaluated', valid, test });
  } catch (error) {
    if (error instanceof TrainingError) post({ type: 'error', kind: error.kind, message: error.message });
    else if (error instanceof WebGpuUnavailableError) post({ type: 'error', kind: 'no-webgpu', message: error.message });
    else post({ type: 'error', kind: 'internal', message: (error as Error)?.message ?? String(error) });
  }
}

self.onmessage = (message: MessageEvent<TrainerCommand>) => {
  const command = message.data;
  switch (command.type) {
    case 'start':
      void start(command);
      break;
    case 'pause':
      control?.pause();
      break;
    case 'resume':
      control?.resume();
      break;
    case 'stop':
      control?.stop();
      break;
    case 'simulate-device-loss':
      void gpu?.then((acquired) => acquired.device.destroy());
      break;
    case 'evaluate':
      void evaluate(command);
      break;
    case 'inspect':
      inspectRequest = command.request;
      break;
    case 'export-model':
      if (!lastResult) post({ type: 'error', kind: 'internal', message: 'no finished run in this session to export' });
      else {
        const { config, result } = lastResult;
        post({ type: 'model', config, params: result.params.slice(), vocabSize: result.modelConfig.vocabSize, maxSeqLen: result.modelConfig.maxSeqLen });
      }
      break;
  }
};
