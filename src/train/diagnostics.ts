/**
 * The paper's two bottlenecks, measured on a trained model instead of inferred from test AUC (method doc §4).
 *
 * A target at slot s of a DTI prompt (s − 1 earlier targets before it, n context interactions before those) is scored
 * three ways on the run's weights, with the run's isolation rule:
 * - served: its own sliding-window prompt (slot 1), as evaluation and serving score it;
 * - packed: the prompt [h − n − s + 1, h] that ends at the target, which is what training computed for it at slot s
 *   (attention is causal, so the targets after it change nothing);
 * - shifted: the served prompt with every position moved by the tokens of the s − 1 interactions packing puts in front.
 * packed − served is the train–serve skew. It splits exactly into a positional part (shifted − served: what the
 * target's place in the prompt changes, zero for relative encodings, so only learned positions are scored) and a
 * leakage part (packed − shifted: what interactions outside the target's window add through hidden states, zero
 * under `strict`). The slot spread is how much one target's logit moves across slots 1..k.
 */
import type { ParamState } from '../model/gpu-model';
import { receptiveField } from '../prompt/dense-mask';
import { SPLIT_CODE, interactionLength, packPrompt } from '../prompt/pack';
import type { PackedPrompt, TokenizedDataset } from '../prompt/types';
import { Rng } from '../util/rng';
import { type Interval, pairedAucInterval } from './bootstrap';
import { effectiveK } from './config';
import { createEvaluator, scorePrompts } from './evaluate';
import { rocAuc } from './metrics';
import type { TrainConfig } from './protocol';

/** Test targets a run's diagnostics score (each at every measured slot): enough for a paired AUC difference. */
export const DIAGNOSTIC_TARGETS = 256;

/** Slots measured at most: every slot up to this k, else this many spread evenly from 1 to k. */
export const DIAGNOSTIC_SLOTS = 8;

/** The diagnostics' target sample is the same for every run and seed, so runs compare on the same targets. */
const DIAGNOSTIC_SAMPLE_SEED = 11;

export interface SlotFigures {
  /** 1-based slot of the target in its DTI prompt; slot 1 is the served (sliding-window) prompt. */
  slot: number;
  /** Mean over targets of |logit(packed) − logit(served)|. */
  skew: number;
  /** Mean |logit(shifted) − logit(served)|: position alone (0 for relative encodings). */
  positional: number;
  /** Mean |logit(packed) − logit(shifted)|: hidden-state leakage alone (0 under strict). */
  leakage: number;
  /** Test AUC of the targets scored at this slot. */
  auc: number;
  /** Interactions before the target's own whose information reaches its [SUM] through the model's layers. */
  reach: number;
}

export interface SkewDiagnostics {
  /** Test targets measured (those with n + k − 1 interactions before them whose deepest prompt fits the model). */
  targets: number;
  k: number;
  n: number;
  layers: number;
  /** Per measured slot, from 1 (served) to k. */
  slots: SlotFigures[];
  /** Mean over the slots after the first of each slot's skew (the skew a DTI-trained target sees on average). */
  skew: number;
  positional: number;
  leakage: number;
  /** Mean over targets of the standard deviation of its logit across the measured slots. */
  slotSpread: number;
  /** Test AUC served (slot 1) and at slot k, and their paired bootstrap difference (slot k − served). */
  servedAuc: number;
  deepestAuc: number;
  aucDifference: Interval;
}

/** Slots to measure for k targets per prompt: 1..k, or DIAGNOSTIC_SLOTS of them spread evenly with 1 and k. */
export function diagnosticSlots(k: number): number[] {
  if (k <= DIAGNOSTIC_SLOTS) return Array.from({ length: k }, (_, i) => i + 1);
  const slots = new Set<number>();
  for (let j = 0; j < DIAGNOSTIC_SLOTS; j++) slots.add(Math.round(1 + ((k - 1) * j) / (DIAGNOSTIC_SLOTS - 1)));
  return [...slots].sort((a, b) => a - b);
}

interface SampledTarget {
  userIndex: number;
  historyIndex: number;
}

/**
 * Test targets with at least n + k − 1 interactions before them whose slot-k prompt is at most maxTokens long: users
 * in a seeded order, each user's targets in history order, until `limit`.
 */
export function diagnosticTargets(dataset: TokenizedDataset, n: number, k: number, maxTokens: number, limit = DIAGNOSTIC_TARGETS): SampledTarget[] {
  const code = SPLIT_CODE.test;
  const chosen: SampledTarget[] = [];
  for (const userIndex of new Rng(DIAGNOSTIC_SAMPLE_SEED).shuffle([...dataset.users.keys()])) {
    const user = dataset.users[userIndex];
    for (let h = n + k - 1; h < user.items.length && chosen.length < limit; h++) {
      if (user.split[h] !== code) continue;
      let tokens = 0;
      for (let i = h - n - k + 1; i <= h; i++) tokens += interactionLength(dataset, user.items[i]);
      if (tokens <= maxTokens) chosen.push({ userIndex, historyIndex: h });
    }
    if (chosen.length >= limit) break;
  }
  return chosen;
}

/** The target's prompt at `slot`: n + slot − 1 interactions before it, the target last. */
function slotPrompt(dataset: TokenizedDataset, target: SampledTarget, n: number, slot: number): PackedPrompt {
  const context = n + slot - 1;
  return packPrompt(dataset, target.userIndex, target.historyIndex - context, context, 1);
}

/** The served prompt with its positions moved to where slot `slot` puts them. */
function shiftedPrompt(served: PackedPrompt, packed: PackedPrompt): PackedPrompt {
  const offset = packed.tokens.length - served.tokens.length;
  return { ...served, position: served.position.map((p) => p + offset) };
}

/** Interactions before the target's own that reach its [SUM] (the last target of the prompt) through `layers` layers. */
function reachInInteractions(prompt: PackedPrompt, config: Pick<TrainConfig, 'n' | 'isolation'>, layers: number): number {
  const target = prompt.targets[0];
  const field = receptiveField(prompt, config.n, config.isolation, layers, target.sumPos);
  const reached = new Set<number>();
  field.forEach((inField, t) => {
    if (inField && prompt.interaction[t] < target.interaction) reached.add(prompt.interaction[t]);
  });
  return reached.size;
}

const logit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  return Math.log(q / (1 - q));
};

/**
 * Scores the diagnostic sample on the weights in `state` (the run's kept checkpoint); null when the run is SW
 * (k = 1: packed and served are one prompt) or no test target has enough history.
 */
export async function skewDiagnostics(
  state: ParamState,
  dataset: TokenizedDataset,
  config: Pick<TrainConfig, 'n' | 'k' | 'paradigm' | 'isolation' | 'model' | 'seed'>,
  limit = DIAGNOSTIC_TARGETS,
): Promise<SkewDiagnostics | null> {
  const k = effectiveK(config);
  if (k === 1) return null;
  const { n } = config;
  const layers = state.config.nLayers;
  const sample = diagnosticTargets(dataset, n, k, state.config.maxSeqLen, limit);
  if (!sample.length) return null;
  const slots = diagnosticSlots(k);
  const learned = config.model.positionEncoding === 'learned';
  const served = sample.map((target) => slotPrompt(dataset, target, n, 1));
  const prompts: PackedPrompt[] = [...served];
  const shiftedStart: number[] = [];
  for (const slot of slots.slice(1)) {
    const packed = sample.map((target) => slotPrompt(dataset, target, n, slot));
    prompts.push(...packed);
    shiftedStart.push(prompts.length);
    if (learned) prompts.push(...packed.map((p, i) => shiftedPrompt(served[i], p)));
  }
  const evaluator = createEvaluator(state, config, prompts);
  const { predictions, labels: allLabels } = await scorePrompts(evaluator, prompts, 'test');
  const T = sample.length;
  const labels = allLabels.subarray(0, T);
  const logits = Array.from(predictions, logit);
  const servedLogits = logits.slice(0, T);
  const meanAbs = (from: number, to: number) => {
    let sum = 0;
    for (let i = 0; i < T; i++) sum += Math.abs(logits[from + i] - logits[to + i]);
    return sum / T;
  };

  const figures: SlotFigures[] = [
    { slot: 1, skew: 0, positional: 0, leakage: 0, auc: rocAuc(predictions.subarray(0, T), labels), reach: reachInInteractions(served[0], config, layers) },
  ];
  slots.slice(1).forEach((slot, j) => {
    const packedAt = shiftedStart[j] - T;
    const skew = meanAbs(packedAt, 0);
    const positional = learned ? meanAbs(shiftedStart[j], 0) : 0;
    figures.push({
      slot,
      skew,
      positional,
      leakage: learned ? meanAbs(packedAt, shiftedStart[j]) : skew,
      auc: rocAuc(predictions.subarray(packedAt, packedAt + T), labels),
      reach: reachInInteractions(prompts[packedAt], config, layers),
    });
  });

  let spread = 0;
  for (let i = 0; i < T; i++) {
    const values = [servedLogits[i], ...shiftedStart.map((start) => logits[start - T + i])];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    spread += Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  }
  const deeper = figures.slice(1);
  const average = (key: 'skew' | 'positional' | 'leakage') => deeper.reduce((a, f) => a + f[key], 0) / deeper.length;
  const deepestAt = shiftedStart.at(-1)! - T;
  const paired = pairedAucInterval(predictions.subarray(0, T), predictions.subarray(deepestAt, deepestAt + T), labels, { seed: config.seed });
  return {
    targets: T,
    k,
    n,
    layers,
    slots: figures,
    skew: average('skew'),
    positional: average('positional'),
    leakage: average('leakage'),
    slotSpread: spread / T,
    servedAuc: figures[0].auc,
    deepestAuc: figures.at(-1)!.auc,
    aucDifference: paired.difference,
  };
}

/** The diagnostics in one sentence, for the runner and the page. */
export function diagnosticsLine(d: SkewDiagnostics): string {
  const deepest = d.slots.at(-1)!;
  const f = (x: number) => x.toFixed(4);
  const ci = Number.isFinite(d.aucDifference.low) ? ` [${f(d.aucDifference.low)}, ${f(d.aucDifference.high)}]` : '';
  return (
    `train–serve skew on ${d.targets} test targets at slots ${d.slots.map((s) => s.slot).join(', ')}: mean |Δlogit| ${f(d.skew)} ` +
    `(positional ${f(d.positional)}, leakage ${f(d.leakage)}), slot spread ${f(d.slotSpread)}; ` +
    `AUC served ${f(d.servedAuc)}, at slot ${deepest.slot} ${f(d.deepestAuc)} (Δ ${f(d.deepestAuc - d.servedAuc)}${ci}); ` +
    `interactions reaching a target's [SUM] through ${d.layers} layer${d.layers === 1 ? '' : 's'}: ${d.slots[0].reach} served, ${deepest.reach} at slot ${deepest.slot}`
  );
}
