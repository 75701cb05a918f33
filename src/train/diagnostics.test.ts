/**
 * The skew diagnostics measure what the method doc §4 says: under `strict` with a relative encoding a target's logit
 * does not depend on its slot (no skew, to float tolerance); learned positions move it (positional part only, no
 * leakage under strict); windowed attention leaks (leakage part only with RoPE) through more interactions than n.
 * The weights are the seeded initial ones scaled up so that logits spread out (the properties hold for any weights).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context';
import { nodeDevice } from '../gpu/node-device';
import { ParamState } from '../model/gpu-model';
import { initParams } from '../model/params';
import type { IsolationLevel, PositionEncoding } from '../prompt/types';
import { diagnosticSlots, diagnosticTargets, skewDiagnostics } from './diagnostics';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './protocol';
import { syntheticDataset } from './synthetic';

const dataset = syntheticDataset({ task: 'genre-matching', users: 24, historyLength: 16, seed: 4 });
const WEIGHT_SCALE = 4;
// Float32 on the GPU, logits of unit spread: two prompts of the same computation agree to about 1e-5.
const TOLERANCE = 1e-4;

let shared: GpuContext | null = null;
afterAll(() => shared?.destroy());

async function diagnose(isolation: IsolationLevel, positionEncoding: PositionEncoding, nLayers = 2, forgetting = false) {
  const config: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    n: 4,
    k: 6,
    isolation,
    model: { dModel: 16, nHeads: 2, nLayers, dFF: 24, positionEncoding, forgetting },
  };
  shared ??= new GpuContext((await nodeDevice()).device);
  const modelConfig = { ...config.model, vocabSize: dataset.vocab.tokens.length, maxSeqLen: 64, seed: 5 };
  const state = new ParamState(shared, modelConfig, initParams(modelConfig).map((x) => x * WEIGHT_SCALE));
  const result = await skewDiagnostics(state, dataset, config);
  expect(result).not.toBeNull();
  return result!;
}

describe('train–serve skew diagnostics', () => {
  it('chooses every slot up to 8 and 8 spread ones beyond, always with 1 and k', () => {
    expect(diagnosticSlots(1)).toEqual([1]);
    expect(diagnosticSlots(5)).toEqual([1, 2, 3, 4, 5]);
    const slots = diagnosticSlots(50);
    expect(slots).toHaveLength(8);
    expect(slots[0]).toBe(1);
    expect(slots.at(-1)).toBe(50);
  });

  it('samples only test targets with n + k − 1 interactions before them, the same ones every time', () => {
    const targets = diagnosticTargets(dataset, 4, 6, 1000);
    expect(targets.length).toBe(dataset.users.length * 2);
    for (const t of targets) {
      expect(t.historyIndex).toBeGreaterThanOrEqual(9);
      expect(dataset.users[t.userIndex].split[t.historyIndex]).toBe(2);
    }
    expect(diagnosticTargets(dataset, 4, 6, 1000)).toEqual(targets);
    // Each slot-6 prompt is 10 interactions of 4 tokens: a model of 39 positions can score none of them.
    expect(diagnosticTargets(dataset, 4, 6, 39)).toHaveLength(0);
  });

  it('finds no skew under strict with RoPE, and only n interactions reaching a target', async () => {
    const d = await diagnose('strict', 'rope');
    expect(d.targets).toBe(48);
    expect(d.skew).toBeLessThan(TOLERANCE);
    expect(d.slotSpread).toBeLessThan(TOLERANCE);
    expect(Math.abs(d.deepestAuc - d.servedAuc)).toBeLessThan(1e-9);
    expect(d.slots.map((s) => s.reach)).toEqual(d.slots.map(() => 4));
  });

  it('finds no skew under strict with RoPE and distance-based forgetting (relative, like the encoding)', async () => {
    const d = await diagnose('strict', 'rope', 2, true);
    expect(d.skew).toBeLessThan(TOLERANCE);
    expect(d.slotSpread).toBeLessThan(TOLERANCE);
  });

  it('splits learned positions’ skew into a positional part and no leakage under strict', async () => {
    const d = await diagnose('strict', 'learned');
    expect(d.positional).toBeGreaterThan(0.01);
    expect(d.leakage).toBeLessThan(TOLERANCE);
    expect(Math.abs(d.skew - d.positional)).toBeLessThan(TOLERANCE);
  });

  it('measures leakage under window with RoPE, growing with the slot and reaching past the window', async () => {
    const d = await diagnose('window', 'rope');
    expect(d.positional).toBe(0);
    expect(d.leakage).toBeGreaterThan(0.01);
    expect(d.slots[0].skew).toBe(0);
    expect(d.slots.at(-1)!.skew).toBeGreaterThan(d.slots[1].skew);
    // Two layers of a 4-interaction window: the target's window, and each of those interactions' own windows.
    expect(d.slots.map((s) => s.reach)).toEqual([4, 5, 6, 7, 8, 8]);
  });

  it('reaches every earlier interaction under full-causal and only the window with one layer of window', async () => {
    expect((await diagnose('full-causal', 'none')).slots.map((s) => s.reach)).toEqual([4, 5, 6, 7, 8, 9]);
    const oneLayer = await diagnose('window', 'rope', 1);
    expect(oneLayer.slots.map((s) => s.reach)).toEqual([4, 4, 4, 4, 4, 4]);
    // One layer: a [SUM] reads its window's tokens, which have not read anything yet.
    expect(oneLayer.skew).toBeLessThan(TOLERANCE);
  });
});
