/**
 * Quick check of the TF.js peer model on TF.js's CPU backend against the lab's CPU reference (src/model/reference):
 * same initial parameters, same batch, a few AdamW steps; prints both loss trajectories. No GPU or browser needed:
 *   npx esbuild bench/check-cpu.ts --bundle --platform=node --format=esm --main-fields=module,main \
 *     --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
 *     --outfile=/tmp/peer-check/check-cpu.mjs && node /tmp/peer-check/check-cpu.mjs [rope|learned|none]
 * (bundled because tfjs-core's gradients are only registered by its extensionless ESM files, which Node cannot load).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadBuiltin } from '../src/data/index';
import type { ModelConfig } from '../src/model/config';
import type { OptimizerSettings } from '../src/model/gpu-model';
import { initParams } from '../src/model/params';
import { ReferenceTrainer } from '../src/model/reference/model';
import { makeBatch } from '../src/prompt/batch';
import { packPrompts } from '../src/prompt/pack';
import type { PositionEncoding } from '../src/prompt/types';
import { TfModel, denseBatch } from './tfjs-model';

// The lab's DEFAULT_OPTIMIZER (importing it would pull in the GPU kernels).
const DEFAULT_OPTIMIZER: OptimizerSettings = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
await tf.setBackend('cpu');
const encoding = (process.argv[2] ?? 'rope') as PositionEncoding;
const n = 20;
const k = 20;
const B = 2;
const steps = 3;
const lr = 1e-2;
const dataset = loadBuiltin('small').dataset;
const prompts = packPrompts(dataset, { n, k, split: 'train' }).filter((p) => p.targets.length === k).slice(0, B);
const L = Math.max(...prompts.map((p) => p.tokens.length));
const batch = makeBatch(prompts, { L, B, n, isolation: 'strict' });
const config: ModelConfig = { vocabSize: dataset.vocab.tokens.length, dModel: 32, nHeads: 4, nLayers: 2, dFF: 64, maxSeqLen: L, positionEncoding: encoding, forgetting: false, seed: 3 };
const initial = initParams(config);
const reference = new ReferenceTrainer(config, initial, { ...DEFAULT_OPTIMIZER, lr });
const peer = new TfModel(config, initial, DEFAULT_OPTIMIZER);
const dense = denseBatch(batch);
let worst = 0;
for (let s = 0; s < steps; s++) {
  const r = reference.step(batch);
  const { loss, gradNorm } = peer.trainStep(dense, lr);
  const p = (await loss.data())[0];
  const g = (await gradNorm.data())[0];
  loss.dispose();
  gradNorm.dispose();
  worst = Math.max(worst, Math.abs(r - p));
  console.log(`step ${s + 1}: reference loss ${r.toFixed(6)}, TF.js loss ${p.toFixed(6)}, TF.js grad norm ${g.toFixed(6)}`);
}
console.log(`max |Δloss| = ${worst.toExponential(2)}`);
if (!(worst < 1e-3)) process.exitCode = 1;
