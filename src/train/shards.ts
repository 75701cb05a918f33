/**
 * A run handed over to PyTorch (python/ in the repository): the prompts the lab packs for it, as safetensors shards
 * with per-token mask metadata, and a JSON manifest saying how they were made. python/dti_lab rebuilds the attention
 * mask from the metadata with the lab's rule (src/prompt/mask.ts), so nothing is packed twice in two languages.
 *
 * Every shard holds up to PROMPTS_PER_SHARD prompts padded to the shard's longest, as row-major [prompts, length]:
 * tokens, positions, interaction (prompt-local interaction index), role (ROLE_*), pad_mask (1 = a real token); and
 * per target: target_prompt (its row in the shard), target_pos (its [SUM] token), target_label, target_history (its
 * index in the user's history); per prompt: prompt_user, prompt_first_history.
 */
import { datasetChecksum, sha256Hex } from '../data/checksum';
import { type NamedTensor, encodeSafetensors } from '../model/safetensors';
import { tarArchive } from '../util/tar';
import type { ModelConfig } from '../model/config';
import { ROLE_ITEM, ROLE_LABEL, ROLE_PAD, ROLE_SUM, type PackedPrompt, TOKEN_NO, TOKEN_PAD, TOKEN_YES, type TokenizedDataset } from '../prompt/types';
import { effectiveK } from './config';
import { evalTargetsPerPrompt, exactPacking } from './evaluate';
import type { TrainConfig } from './protocol';
import { runPrompts } from './run-prompts';

export const SHARD_FORMAT = 'dti-lab-shards/1';
export const MANIFEST_FILE = 'manifest.json';
export const PROMPTS_PER_SHARD = 8192;

/** The splits a handed-over run carries: what it trains on, what it validates on at each point, what it scores. */
export const SHARD_SPLITS = ['train', 'validSample', 'valid', 'test'] as const;
export type ShardSplit = (typeof SHARD_SPLITS)[number];

export interface ShardFile {
  file: string;
  prompts: number;
  targets: number;
  /** Real (unpadded) tokens. */
  tokens: number;
  /** The padded length of every row. */
  length: number;
  /** SHA-256 of the file, hex. */
  sha256: string;
}

/** Where the data came from and how it was prepared, as the caller words it (file names, rules). */
export interface ShardProvenance {
  source: string;
  split: string;
  clickRule: string;
}

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  created: string;
  dataset: { name: string; users: number; interactions: number; sha256: string } & ShardProvenance;
  /** tokens[id] is the token's text, ids as in the shards. */
  vocabulary: string[];
  /** The lab's configuration of the run (its n, k, paradigm, isolation, model, protocol). */
  trainConfig: TrainConfig;
  /** The model the shards are sized for: vocabulary size, longest prompt, layers. */
  model: ModelConfig;
  /** Targets per training prompt (SW: 1) and per evaluation prompt (more than 1 only where packing is exact). */
  trainTargetsPerPrompt: number;
  evalTargetsPerPrompt: number;
  exactEvaluation: boolean;
  /** Prompts per optimizer step, and the step's loss denominator (Σ target losses / lossDenominator). */
  step: { prompts: number; lossDenominator: number };
  roles: { item: number; sum: number; label: number; pad: number };
  specialTokens: { pad: number; yes: number; no: number };
  splits: Record<ShardSplit, ShardFile[]>;
}

export interface ShardExport {
  manifest: ShardManifest;
  /** Every file of the export, the manifest last: name and bytes. */
  files: { name: string; bytes: Uint8Array<ArrayBuffer> }[];
}

/** One shard's tensors: the prompts padded to their longest, and their targets in the prompts' order. */
export function shardTensors(prompts: readonly PackedPrompt[]): NamedTensor[] {
  const P = prompts.length;
  const L = prompts.reduce((m, p) => Math.max(m, p.tokens.length), 1);
  const tokens = new Int32Array(P * L).fill(TOKEN_PAD);
  const positions = new Int32Array(P * L);
  const interaction = new Int32Array(P * L);
  const role = new Uint8Array(P * L).fill(ROLE_PAD);
  const padMask = new Uint8Array(P * L);
  const promptUser = new Int32Array(P);
  const promptFirst = new Int32Array(P);
  const T = prompts.reduce((s, p) => s + p.targets.length, 0);
  const targetPrompt = new Int32Array(T);
  const targetPos = new Int32Array(T);
  const targetLabel = new Uint8Array(T);
  const targetHistory = new Int32Array(T);
  let t = 0;
  prompts.forEach((prompt, b) => {
    const row = b * L;
    tokens.set(prompt.tokens, row);
    positions.set(prompt.position, row);
    interaction.set(prompt.interaction, row);
    role.set(prompt.role, row);
    padMask.fill(1, row, row + prompt.tokens.length);
    promptUser[b] = prompt.userIndex;
    promptFirst[b] = prompt.firstHistoryIndex;
    for (const target of prompt.targets) {
      targetPrompt[t] = b;
      targetPos[t] = target.sumPos;
      targetLabel[t] = target.label;
      targetHistory[t] = target.historyIndex;
      t++;
    }
  });
  const grid = [P, L];
  return [
    { name: 'tokens', dtype: 'I32', shape: grid, data: tokens },
    { name: 'positions', dtype: 'I32', shape: grid, data: positions },
    { name: 'interaction', dtype: 'I32', shape: grid, data: interaction },
    { name: 'role', dtype: 'U8', shape: grid, data: role },
    { name: 'pad_mask', dtype: 'U8', shape: grid, data: padMask },
    { name: 'prompt_user', dtype: 'I32', shape: [P], data: promptUser },
    { name: 'prompt_first_history', dtype: 'I32', shape: [P], data: promptFirst },
    { name: 'target_prompt', dtype: 'I32', shape: [T], data: targetPrompt },
    { name: 'target_pos', dtype: 'I32', shape: [T], data: targetPos },
    { name: 'target_label', dtype: 'U8', shape: [T], data: targetLabel },
    { name: 'target_history', dtype: 'I32', shape: [T], data: targetHistory },
  ];
}

/**
 * The run's prompts (runPrompts: what the lab's trainer would pack for this dataset and configuration) as shards and
 * a manifest. `onProgress` gets the share of prompts written.
 */
export async function exportShards(
  dataset: TokenizedDataset,
  config: TrainConfig,
  provenance: ShardProvenance,
  onProgress: (fraction: number) => void = () => {},
): Promise<ShardExport> {
  const run = runPrompts(dataset, config);
  const bySplit: Record<ShardSplit, PackedPrompt[]> = { train: run.train, validSample: run.validSample, valid: run.valid, test: run.test };
  const total = SHARD_SPLITS.reduce((s, split) => s + bySplit[split].length, 0);
  const files: ShardExport['files'] = [];
  const splits = {} as Record<ShardSplit, ShardFile[]>;
  let written = 0;
  for (const split of SHARD_SPLITS) {
    const prompts = bySplit[split];
    splits[split] = [];
    for (let start = 0, index = 0; start < prompts.length; start += PROMPTS_PER_SHARD, index++) {
      const chunk = prompts.slice(start, start + PROMPTS_PER_SHARD);
      const tensors = shardTensors(chunk);
      const bytes = encodeSafetensors(tensors, { format: SHARD_FORMAT, split });
      const file = `${split}-${String(index).padStart(5, '0')}.safetensors`;
      files.push({ name: file, bytes });
      splits[split].push({
        file,
        prompts: chunk.length,
        targets: chunk.reduce((s, p) => s + p.targets.length, 0),
        tokens: chunk.reduce((s, p) => s + p.tokens.length, 0),
        length: tensors[0].shape[1],
        sha256: await sha256Hex(bytes),
      });
      written += chunk.length;
      onProgress(total ? written / total : 1);
    }
  }
  const manifest: ShardManifest = {
    format: SHARD_FORMAT,
    created: new Date().toISOString(),
    dataset: {
      name: dataset.name,
      users: dataset.users.length,
      interactions: dataset.users.reduce((s, u) => s + u.items.length, 0),
      // Of the data as loaded (before the item text is applied): the checksum the page's link carries.
      sha256: await datasetChecksum(dataset),
      ...provenance,
    },
    vocabulary: dataset.vocab.tokens,
    trainConfig: config,
    model: run.modelConfig,
    trainTargetsPerPrompt: effectiveK(config),
    evalTargetsPerPrompt: evalTargetsPerPrompt(config),
    exactEvaluation: exactPacking(config),
    step: run.step,
    roles: { item: ROLE_ITEM, sum: ROLE_SUM, label: ROLE_LABEL, pad: ROLE_PAD },
    specialTokens: { pad: TOKEN_PAD, yes: TOKEN_YES, no: TOKEN_NO },
    splits,
  };
  files.push({ name: MANIFEST_FILE, bytes: new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n') });
  return { manifest, files };
}

/** The export as one .tar (the page's download): a folder `dti-lab-<paradigm>-n<n>[-k<k>]` holding the shards and manifest. */
export async function shardArchive(
  dataset: TokenizedDataset,
  config: TrainConfig,
  provenance: ShardProvenance,
  onProgress?: (fraction: number) => void,
): Promise<{ filename: string; bytes: Uint8Array<ArrayBuffer> }> {
  const { files } = await exportShards(dataset, config, provenance, onProgress);
  const folder = `dti-lab-${config.paradigm}-n${config.n}${config.paradigm === 'dti' ? `-k${config.k}` : ''}`;
  return { filename: `${folder}.tar`, bytes: tarArchive(files.map((file) => ({ name: `${folder}/${file.name}`, bytes: file.bytes }))) };
}
