import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../train/protocol';
import { initParams, paramLayout } from './params';
import { SafetensorsError, modelConfigOf, readSafetensors, writeSafetensors } from './safetensors';

const config: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  model: { dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, positionEncoding: 'learned', forgetting: false },
};
const vocabSize = 40;
const maxSeqLen = 24;
const params = initParams(modelConfigOf(config, vocabSize, maxSeqLen));

function headerOf(file: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const length = Number(new DataView(file.buffer).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
}

describe('safetensors', () => {
  it('round-trips parameters, config and extra metadata', () => {
    const file = writeSafetensors({ config, params, vocabSize, maxSeqLen, extra: { dataset: 'builtin-small' } });
    const model = readSafetensors(file);
    expect(model.config).toEqual(config);
    expect(model.vocabSize).toBe(vocabSize);
    expect(model.maxSeqLen).toBe(maxSeqLen);
    expect(model.extra).toEqual({ dataset: 'builtin-small' });
    expect(Array.from(model.params)).toEqual(Array.from(params));
  });

  it('writes the standard layout: u64 header length, 8-byte aligned data, F32 tensors named by paramLayout', () => {
    const file = writeSafetensors({ config, params, vocabSize, maxSeqLen });
    const length = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const header = headerOf(file) as Record<string, unknown>;
    const metadata = header.__metadata__ as Record<string, unknown>;
    for (const value of Object.values(metadata)) expect(typeof value).toBe('string');
    const layout = paramLayout(modelConfigOf(config, vocabSize, maxSeqLen));
    for (const t of layout.tensors) {
      const entry = headerOf(file)[t.name];
      expect(entry.dtype).toBe('F32');
      expect(entry.shape).toEqual(t.shape);
      expect(entry.data_offsets).toEqual([t.offset * 4, (t.offset + t.size) * 4]);
    }
    expect(file.length).toBe(8 + length + layout.total * 4);
  });

  it('rejects a parameter buffer of the wrong size', () => {
    expect(() => writeSafetensors({ config, params: params.subarray(1), vocabSize, maxSeqLen })).toThrow(/needs/);
  });

  it('explains files it cannot read', () => {
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(SafetensorsError);
    // Another kind of file (a CSV renamed .safetensors): its first 8 bytes read as a huge header length.
    const csv = new TextEncoder().encode('user,item,rating\nu1,i1,5\nu1,i2,3\n');
    expect(() => readSafetensors(csv)).toThrow(/^this is not a safetensors file: its first 8 bytes .* more than the whole file \(33 bytes\)$/);
    const garbage = new Uint8Array(16);
    new DataView(garbage.buffer).setBigUint64(0, 8n, true);
    expect(() => readSafetensors(garbage)).toThrow(/not valid JSON/);

    const foreign = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const file = new Uint8Array(8 + foreign.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(foreign.length), true);
    file.set(foreign, 8);
    expect(() => readSafetensors(file)).toThrow(/not exported by this lab/);
  });

  it('refuses weights that are not finite, naming the tensor', () => {
    const poisoned = params.slice();
    const fc = paramLayout(modelConfigOf(config, vocabSize, maxSeqLen)).tensors.find((t) => t.name === 'h0.fcW')!;
    poisoned[fc.offset + 3] = Infinity;
    expect(() => readSafetensors(writeSafetensors({ config, params: poisoned, vocabSize, maxSeqLen }))).toThrow(/"h0\.fcW" holds Infinity at element 3/);
  });

  it('names a tensor whose shape disagrees with the configuration', () => {
    const file = writeSafetensors({ config, params, vocabSize, maxSeqLen });
    const header = headerOf(file) as Record<string, unknown>;
    const metadata = header.__metadata__ as Record<string, string>;
    const wider = { ...config, model: { ...config.model, dFF: 64 } };
    metadata.train_config = JSON.stringify(wider);
    const text = new TextEncoder().encode(JSON.stringify(header));
    const length = Number(new DataView(file.buffer).getBigUint64(0, true));
    const data = file.subarray(8 + length);
    const tampered = new Uint8Array(8 + text.length + data.length);
    new DataView(tampered.buffer).setBigUint64(0, BigInt(text.length), true);
    tampered.set(text, 8);
    tampered.set(data, 8 + text.length);
    expect(() => readSafetensors(tampered)).toThrow(/h0\.fcW.*shape/);
  });
});
