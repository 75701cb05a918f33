/**
 * Trained models as safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
 * length, a JSON header naming every tensor (dtype, shape, byte range), then the raw little-endian data.
 * Tensors are named and shaped by paramLayout (src/model/params.ts); the training configuration travels in
 * `__metadata__`, whose values must be strings, so that an exported file alone is enough to rebuild the model.
 */
import type { TrainConfig } from '../train/protocol';
import type { ModelConfig } from './config';
import { paramLayout } from './params';

/** A model as the lab keeps it: the flat parameter buffer plus what is needed to interpret it. */
export interface SavedModel {
  config: TrainConfig;
  params: Float32Array;
  vocabSize: number;
  maxSeqLen: number;
  /** Free-form string metadata (dataset name, vocabulary, run id…); stored next to the config. */
  extra?: Record<string, string>;
}

/** Metadata keys written by the lab. */
const FORMAT_KEY = 'format';
const FORMAT_VALUE = 'dti-lab/1';
const CONFIG_KEY = 'train_config';
const VOCAB_SIZE_KEY = 'vocab_size';
const MAX_SEQ_LEN_KEY = 'max_seq_len';
const RESERVED_KEYS = new Set([FORMAT_KEY, CONFIG_KEY, VOCAB_SIZE_KEY, MAX_SEQ_LEN_KEY]);

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export function modelConfigOf(config: TrainConfig, vocabSize: number, maxSeqLen: number): ModelConfig {
  return { ...config.model, vocabSize, maxSeqLen, seed: config.seed };
}

export function writeSafetensors(model: SavedModel): Uint8Array {
  const layout = paramLayout(modelConfigOf(model.config, model.vocabSize, model.maxSeqLen));
  if (model.params.length !== layout.total) {
    throw new SafetensorsError(
      `the parameter buffer holds ${model.params.length} values but the configuration needs ${layout.total}`,
    );
  }
  const metadata: Record<string, string> = {
    ...model.extra,
    [FORMAT_KEY]: FORMAT_VALUE,
    [CONFIG_KEY]: JSON.stringify(model.config),
    [VOCAB_SIZE_KEY]: String(model.vocabSize),
    [MAX_SEQ_LEN_KEY]: String(model.maxSeqLen),
  };
  const header: Record<string, unknown> = { __metadata__: metadata };
  for (const t of layout.tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [t.offset * 4, (t.offset + t.size) * 4] };
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // The format recommends padding the header with spaces so the data starts 8-byte aligned.
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.length + layout.total * 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.length;
  for (let i = 0; i < model.params.length; i++) view.setFloat32(dataStart + i * 4, model.params[i], true);
  return out;
}

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Reads a file written by writeSafetensors (or any safetensors file with the same tensor names and F32 data). */
export function readSafetensors(input: ArrayBuffer | Uint8Array): SavedModel {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 8) throw new SafetensorsError('the file is too short to be a safetensors file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) {
    // A safetensors file starts with its JSON header's length: a length past the file's end means another kind of file.
    throw new SafetensorsError(
      `this is not a safetensors file: its first 8 bytes should give the length of its header, but give ${headerLength} bytes, ` +
        `more than the whole file (${bytes.length} bytes)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new SafetensorsError('the header is not valid JSON; this is not a safetensors file');
  }
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (!metadata[CONFIG_KEY]) {
    throw new SafetensorsError(
      `__metadata__ has no "${CONFIG_KEY}": the file was not exported by this lab, so its model shape is unknown`,
    );
  }
  let config: TrainConfig;
  try {
    config = JSON.parse(metadata[CONFIG_KEY]) as TrainConfig;
  } catch {
    throw new SafetensorsError(`__metadata__.${CONFIG_KEY} is not valid JSON`);
  }
  const vocabSize = Number(metadata[VOCAB_SIZE_KEY]);
  const maxSeqLen = Number(metadata[MAX_SEQ_LEN_KEY]);
  if (!Number.isInteger(vocabSize) || vocabSize <= 0 || !Number.isInteger(maxSeqLen) || maxSeqLen <= 0) {
    throw new SafetensorsError(`__metadata__ needs positive integer ${VOCAB_SIZE_KEY} and ${MAX_SEQ_LEN_KEY}`);
  }
  if (!config.model) throw new SafetensorsError(`__metadata__.${CONFIG_KEY} has no model section`);

  const layout = paramLayout(modelConfigOf(config, vocabSize, maxSeqLen));
  const params = new Float32Array(layout.total);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  for (const t of layout.tensors) {
    const entry = header[t.name] as TensorEntry | undefined;
    if (!entry) throw new SafetensorsError(`tensor "${t.name}" is missing`);
    if (entry.dtype !== 'F32') throw new SafetensorsError(`tensor "${t.name}" is ${entry.dtype}; only F32 is supported`);
    if (entry.shape.length !== t.shape.length || entry.shape.some((s, i) => s !== t.shape[i])) {
      throw new SafetensorsError(
        `tensor "${t.name}" has shape [${entry.shape}] but the configuration expects [${t.shape}]`,
      );
    }
    const [begin, end] = entry.data_offsets;
    if (end - begin !== t.size * 4 || begin < 0 || end > dataLength) {
      throw new SafetensorsError(`tensor "${t.name}" has a byte range [${begin}, ${end}) that does not match its shape`);
    }
    for (let i = 0; i < t.size; i++) {
      const value = view.getFloat32(dataStart + begin + i * 4, true);
      // Weights with NaN or Inf would only surface later as undefined metrics; refuse them here, by name.
      if (!Number.isFinite(value)) throw new SafetensorsError(`tensor "${t.name}" holds ${value} at element ${i}; weights must be finite`);
      params[t.offset + i] = value;
    }
  }
  const extra: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) if (!RESERVED_KEYS.has(key)) extra[key] = value;
  return { config, params, vocabSize, maxSeqLen, extra };
}
