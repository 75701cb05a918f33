/**
 * The hand-over to PyTorch (src/train/shards.ts, python/): the shards hold exactly the prompts the lab packs, and,
 * with a real PyTorch (Debian's python3-torch, which .ci/run installs):
 * (a) a lab checkpoint loaded by python/dti_lab gives the lab's logits on the exported test prompts within 1e-4, for
 *     every isolation level and position encoding, and with distance-based forgetting;
 * (b) `torchrun --nproc_per_node=2` trains 20 steps on the shards to the loss one process reaches with the same
 *     global batch (within 1e-5 at every step; measured about 2e-7);
 * (c) the checkpoint PyTorch writes imports back into the lab and evaluates, on the lab's GPU engine, to PyTorch's test
 *     metrics (AUC, LogLoss, accuracy, calibration slope, mean prediction) within 1e-4.
 * Where no Python with torch is found the PyTorch checks are skipped with a line saying so; under CI they fail instead.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBuiltin } from '../data/index';
import { sampleUsers } from '../data/sample';
import { nodeDevice } from '../gpu/node-device';
import { initParams } from '../model/params';
import { referenceForward } from '../model/reference/model';
import { readSafetensors, readSafetensorsHeader, readTensor, writeSafetensors } from '../model/safetensors';
import { makeBatch } from '../prompt/batch';
import { ISOLATION_LEVELS, POSITION_ENCODINGS, type PackedPrompt, ROLE_PAD, type TokenizedDataset } from '../prompt/types';
import { Rng } from '../util/rng';
import { evaluateParams } from './evaluate';
import { DEFAULT_TRAIN_CONFIG, type Metrics, type TrainConfig } from './protocol';
import { runPrompts } from './run-prompts';
import { datasetChecksum } from '../data/checksum';
import { MANIFEST_FILE, type ShardManifest, exportShards, shardTensors } from './shards';

const PROVENANCE = { source: 'built-in small', split: 'per-user', clickRule: 'rating > 3' };
const LOGIT_TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-5;

const config = (overrides: Partial<Omit<TrainConfig, 'model'>> & { model?: Partial<TrainConfig['model']> } = {}): TrainConfig => ({
  ...DEFAULT_TRAIN_CONFIG,
  n: 3,
  k: 4,
  itemText: 'id',
  batchTargets: 32,
  ...overrides,
  model: { dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, positionEncoding: 'rope', forgetting: false, ...overrides.model },
});

let small: TokenizedDataset | null = null;
async function data(): Promise<TokenizedDataset> {
  small ??= sampleUsers((await loadBuiltin('small')).dataset, 30);
  return small;
}

/** The first Python that imports torch: Debian's (apt's python3-torch) before whatever `python3` is on the PATH. */
function findPython(): string | null {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return null;
}
const python = findPython();
if (!python) {
  const line = 'PyTorch cross-checks: no Python with torch found (/usr/bin/python3, python3); install Debian\'s python3-torch (apt) to run them';
  if (process.env.CI) throw new Error(`${line}. CI installs it in .ci/run, so this is a broken install.`);
  console.warn(`SKIPPED ${line}`);
}

function runPython(args: string[]): string {
  const result = spawnSync(python!, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (result.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const folders: string[] = [];
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dti-shards-'));
  folders.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

async function writeExport(dataset: TokenizedDataset, run: TrainConfig, dir: string): Promise<ShardManifest> {
  const { manifest, files } = await exportShards(dataset, run, PROVENANCE);
  for (const file of files) writeFileSync(join(dir, file.name), file.bytes);
  return manifest;
}

/** Initial weights spread out (scaled, biases and gains perturbed), so that every part of the model moves the logits. */
function spreadParams(run: TrainConfig, dataset: TokenizedDataset): { params: Float32Array; vocabSize: number; maxSeqLen: number } {
  const { modelConfig } = runPrompts(dataset, run);
  const rng = new Rng(11);
  const params = initParams(modelConfig).map((x) => x * 4 + rng.normal() * 0.05);
  return { params, vocabSize: modelConfig.vocabSize, maxSeqLen: modelConfig.maxSeqLen };
}

describe('shards: the prompts the lab packs, as tensors', () => {
  it('hold every prompt token by token, padded with the pad role, and every target with its [SUM] position and label', async () => {
    const dataset = await data();
    const prompts = runPrompts(dataset, config()).train.slice(0, 50);
    const tensors = Object.fromEntries(shardTensors(prompts).map((t) => [t.name, t]));
    const L = tensors.tokens.shape[1];
    expect(tensors.tokens.shape).toEqual([prompts.length, Math.max(...prompts.map((p) => p.tokens.length))]);
    let t = 0;
    prompts.forEach((prompt: PackedPrompt, b) => {
      for (let i = 0; i < L; i++) {
        const real = i < prompt.tokens.length;
        expect(tensors.pad_mask.data[b * L + i]).toBe(real ? 1 : 0);
        expect(tensors.role.data[b * L + i]).toBe(real ? prompt.role[i] : ROLE_PAD);
        if (real) {
          expect(tensors.tokens.data[b * L + i]).toBe(prompt.tokens[i]);
          expect(tensors.positions.data[b * L + i]).toBe(prompt.position[i]);
          expect(tensors.interaction.data[b * L + i]).toBe(prompt.interaction[i]);
        }
      }
      for (const target of prompt.targets) {
        expect([tensors.target_prompt.data[t], tensors.target_pos.data[t], tensors.target_label.data[t]]).toEqual([b, target.sumPos, target.label]);
        expect(prompt.tokens[target.sumPos]).toBe(2); // [SUM]
        t++;
      }
    });
    expect(t).toBe(tensors.target_prompt.data.length);
  });

  it('export every split the trainer uses, with a manifest whose counts and checksums are the files\'', async () => {
    const dataset = await data();
    const run = config({ paradigm: 'dti', k: 4 });
    const { manifest, files } = await exportShards(dataset, run, PROVENANCE);
    const packed = runPrompts(dataset, run);
    const byName = new Map(files.map((f) => [f.name, f.bytes]));
    expect(JSON.parse(new TextDecoder().decode(byName.get(MANIFEST_FILE)!))).toEqual(JSON.parse(JSON.stringify(manifest)));
    const expected = { train: packed.train, validSample: packed.validSample, valid: packed.valid, test: packed.test };
    for (const [split, prompts] of Object.entries(expected)) {
      const entries = manifest.splits[split as keyof typeof expected];
      expect(entries.reduce((s, e) => s + e.prompts, 0)).toBe(prompts.length);
      expect(entries.reduce((s, e) => s + e.targets, 0)).toBe(prompts.reduce((s, p) => s + p.targets.length, 0));
      for (const entry of entries) {
        const bytes = byName.get(entry.file)!;
        const digest = Buffer.from(await crypto.subtle.digest('SHA-256', bytes)).toString('hex');
        expect(digest).toBe(entry.sha256);
        const header = readSafetensorsHeader(bytes);
        expect(readTensor(bytes, header, 'tokens').shape).toEqual([entry.prompts, entry.length]);
      }
    }
    expect(manifest.step).toEqual(packed.step);
    expect(manifest.model).toEqual(packed.modelConfig);
    expect(manifest.trainTargetsPerPrompt).toBe(4);
    expect(manifest.vocabulary).toEqual(dataset.vocab.tokens);
    expect(manifest.dataset.sha256).toBe(await datasetChecksum(dataset)); // the loaded data's, as the page's link carries it
  });
});

describe.skipIf(!python)('PyTorch (python/dti_lab) against the lab', () => {
  it('(a) gives the lab\'s logits on the exported test prompts within 1e-4, for every isolation level and encoding', async () => {
    const dataset = await data();
    const cases: TrainConfig[] = [];
    for (const isolation of ISOLATION_LEVELS) {
      for (const positionEncoding of POSITION_ENCODINGS) cases.push(config({ isolation, model: { positionEncoding } }));
    }
    cases.push(config({ isolation: 'strict', model: { positionEncoding: 'rope', forgetting: true } }));
    cases.push(config({ isolation: 'window', model: { positionEncoding: 'alibi', forgetting: true } }));
    const dirs: { dir: string; expected: Float32Array; label: string }[] = [];
    for (const run of cases) {
      const dir = folder();
      await writeExport(dataset, run, dir);
      const model = spreadParams(run, dataset);
      writeFileSync(join(dir, 'model.safetensors'), writeSafetensors({ config: run, ...model }));
      const { test, modelConfig } = runPrompts(dataset, run);
      const batch = makeBatch(test, { L: modelConfig.maxSeqLen, n: run.n, isolation: run.isolation });
      dirs.push({ dir, expected: referenceForward(modelConfig, model.params, batch).logits, label: `${run.isolation} ${run.model.positionEncoding}${run.model.forgetting ? ' forgetting' : ''}` });
    }
    runPython(['python/evaluate.py', ...dirs.flatMap((d) => ['--shards', d.dir])]);
    let worstOverall = 0;
    for (const { dir, expected, label } of dirs) {
      const scored = JSON.parse(readFileSync(join(dir, 'test-scores.json'), 'utf8')) as { logits: number[] };
      expect(scored.logits.length, label).toBe(expected.length);
      let worst = 0;
      let spread = 0;
      scored.logits.forEach((z, i) => {
        worst = Math.max(worst, Math.abs(z - expected[i]));
        spread = Math.max(spread, Math.abs(expected[i]));
      });
      expect(spread, `${label}: logits spread enough to test anything`).toBeGreaterThan(0.5);
      expect(worst, label).toBeLessThan(LOGIT_TOLERANCE);
      worstOverall = Math.max(worstOverall, worst);
    }
    console.log(`PyTorch against the lab's reference: largest logit difference ${worstOverall.toExponential(2)} over ${dirs.length} configurations`);
  });

  it('(b) torchrun with 2 processes trains 20 steps to the loss of one process with the same global batch; (c) its checkpoint evaluates in the lab to PyTorch\'s test AUC', async () => {
    const dataset = await data();
    const run = config({ paradigm: 'dti', k: 4, patience: 0 });
    const dir = folder();
    await writeExport(dataset, run, dir);
    const common = ['--shards', dir, '--steps', '20', '--quiet'];
    runPython(['python/train.py', ...common, '--out', join(dir, 'one')]);
    // --redirects/--tee: Debian's torch 1.13 on Python 3.11 needs a non-zero stream setting to start its workers.
    runPython(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '--redirects', '1', '--tee', '1', 'python/train.py', ...common, '--out', join(dir, 'two')]);
    type Result = { worldSize: number; losses: number[]; steps: number; test: Metrics };
    const one = JSON.parse(readFileSync(join(dir, 'one', 'result.json'), 'utf8')) as Result;
    const two = JSON.parse(readFileSync(join(dir, 'two', 'result.json'), 'utf8')) as Result;
    expect([one.worldSize, two.worldSize, one.steps, two.steps]).toEqual([1, 2, 20, 20]);
    expect(one.losses[19]).toBeLessThan(one.losses[0]);
    const worst = Math.max(...one.losses.map((loss, i) => Math.abs(loss - two.losses[i])));
    expect(worst).toBeLessThan(LOSS_TOLERANCE);
    console.log(`torchrun: 2 processes against 1 over 20 steps: largest loss difference ${worst.toExponential(2)}`);

    const saved = readSafetensors(readFileSync(join(dir, 'two', 'model.safetensors')));
    expect(JSON.parse(saved.extra!.vocab)).toEqual(dataset.vocab.tokens);
    const { test } = await evaluateParams(await nodeDevice(), dataset, saved.config, saved.params);
    expect(test.count).toBe(two.test.count);
    // The same metrics: PyTorch's (python/dti_lab/metrics.py) of its own logits, the lab's of its GPU predictions.
    for (const key of ['auc', 'logLoss', 'accuracy', 'meanPrediction', 'clickRate', 'calibrationSlope'] as const) {
      expect(Math.abs(test[key] - two.test[key]), key).toBeLessThan(1e-4);
    }
  });
});
