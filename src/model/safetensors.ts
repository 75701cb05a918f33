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

/** The safetensors dtypes the lab writes, by the typed array that holds them. */
export type TensorDtype = 'F32' | 'I32' | 'U8';

export interface NamedTensor {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

const BYTES_PER_ELEMENT: Record<TensorDtype, number> = { F32: 4, I32: 4, U8: 1 };

/**
 * Any tensors as one safetensors file, in the order given; `metadata` values must be strings (the format's rule).
 * The data is copied as the typed arrays hold it: little-endian, as on every host WebGPU runs on.
 */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new SafetensorsError(`tensor "${t.name}" has ${t.data.length} values but its shape [${t.shape}] holds ${elements}`);
    const bytes = elements * BYTES_PER_ELEMENT[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // The format recommends padding the header with spaces so the data starts 8-byte aligned.
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function writeSafetensors(model: SavedModel): Uint8Array<ArrayBuffer> {
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
  const tensors = layout.tensors.map((t): NamedTensor => ({ name: t.name, dtype: 'F32', shape: t.shape, data: model.params.subarray(t.offset, t.offset + t.size) }));
  return encodeSafetensors(tensors, metadata);
}

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file's header and the byte offset where its data starts. */
export interface SafetensorsHeader {
  metadata: Record<string, string>;
  entries: Record<string, TensorEntry>;
  dataStart: number;
}

export function readSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
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
  const { __metadata__: metadata, ...entries } = header;
  return { metadata: (metadata ?? {}) as Record<string, string>, entries: entries as Record<string, TensorEntry>, dataStart: 8 + headerLength };
}

/** One tensor of a safetensors file as a typed array (a copy), checked against its declared dtype and byte range. */
export function readTensor(bytes: Uint8Array, header: SafetensorsHeader, name: string): NamedTensor {
  const entry = header.entries[name];
  if (!entry) throw new SafetensorsError(`tensor "${name}" is missing`);
  const dtype = entry.dtype as TensorDtype;
  if (!(dtype in BYTES_PER_ELEMENT)) throw new SafetensorsError(`tensor "${name}" is ${entry.dtype}; the lab reads ${Object.keys(BYTES_PER_ELEMENT).join(', ')}`);
  const elements = entry.shape.reduce((a, b) => a * b, 1);
  const [begin, end] = entry.data_offsets;
  if (end - begin !== elements * BYTES_PER_ELEMENT[dtype] || begin < 0 || header.dataStart + end > bytes.length) {
    throw new SafetensorsError(`tensor "${name}" has a byte range [${begin}, ${end}) that does not match its shape`);
  }
  // A copy (a Node Buffer's slice would share its pool), aligned for the typed array.
  const raw = new Uint8Array(bytes.subarray(header.dataStart + begin, header.dataStart + end)).buffer;
  const data = dtype === 'F32' ? new Float32Array(raw) : dtype === 'I32' ? new Int32Array(raw) : new Uint8Array(raw);
  return { name, dtype, shape: entry.shape, data };
}

/** Reads a file written by writeSafetensors (or any safetensors file with the same tensor names and F32 data). */
export function readSafetensors(input: ArrayBuffer | Uint8Array): SavedModel {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const header = readSafetensorsHeader(bytes);
  const { metadata } = header;
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
  for (const t of layout.tensors) {
    const entry = header.entries[t.name];
    if (entry && entry.dtype !== 'F32') throw new SafetensorsError(`tensor "${t.name}" is ${entry.dtype}; only F32 is supported`);
    if (entry && (entry.shape.length !== t.shape.length || entry.shape.some((s, i) => s !== t.shape[i]))) {
      throw new SafetensorsError(
        `tensor "${t.name}" has shape [${entry.shape}] but the configuration expects [${t.shape}]`,
      );
    }
    const values = readTensor(bytes, header, t.name).data;
    for (let i = 0; i < t.size; i++) {
      // Weights with NaN or Inf would only surface later as undefined metrics; refuse them here, by name.
      if (!Number.isFinite(values[i])) throw new SafetensorsError(`tensor "${t.name}" holds ${values[i]} at element ${i}; weights must be finite`);
    }
    params.set(values, t.offset);
  }
  const extra: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) if (!RESERVED_KEYS.has(key)) extra[key] = value;
  return { config, params, vocabSize, maxSeqLen, extra };
}
