import { ISOLATION_LEVELS, ITEM_TEXTS, type IsolationLevel, type ItemText, POSITION_ENCODINGS, type PositionEncoding } from '../prompt/types';
import { attentionBiasSlope } from '../model/config';
import { useLab } from '../store';
import { MODEL_PRESETS, type ModelPresetName, modelPresetOf } from '../store/config-check';
import { type MemoryEstimate, formatBytes } from '../store/memory';
import type { Paradigm } from '../train/protocol';
import { NumberField, RadioGroup, Section, SelectField } from './controls';
import { fmtInt } from './format';

const ISOLATION_HELP: Record<IsolationLevel, string> = {
  'full-causal': 'Naive packing: every token sees everything before it, including other targets and their labels’ summaries.',
  window: 'Plain DTI: each token sees only its own interaction and the n before it (windowed causal attention).',
  'sum-isolated': 'Window, and no token reads another interaction’s [SUM] (the light fix for leakage).',
  strict: 'Exact: item and label tokens read only their own interaction; only [SUM] reads the window. DTI = SW.',
};

const POSITION_HELP: Record<PositionEncoding, string> = {
  learned: 'Learned absolute positions: target j sits at a position SW never shows (the positional-bias baseline).',
  rope: 'RoPE: attention depends on relative distance only, so a packed target looks like a SW target.',
  alibi: 'ALiBi: a per-head penalty growing with distance; relative, no learned positions.',
  none: 'No position signal except the causal mask itself.',
};

const ITEM_TEXT_HELP: Record<ItemText, string> = {
  words: 'Title words and genres: what items share, but a from-scratch model can hardly tell one film from another.',
  id: 'One item-id token per item (rarer items share [ITEM-UNK]): the model learns each item’s own appeal; short prompts.',
  both: 'The item-id token, then the words: each item’s own appeal and what it shares with others.',
};

const PARADIGMS: { value: Paradigm; label: string }[] = [
  { value: 'sw', label: 'Sliding window (SW)' },
  { value: 'dti', label: 'DTI' },
];

type PresetChoice = ModelPresetName | 'custom';

export function ConfigPanel() {
  const config = useLab((s) => s.config);
  const check = useLab((s) => s.check);
  const setConfig = useLab((s) => s.setConfig);
  const setModel = useLab((s) => s.setModel);
  const applyModelPreset = useLab((s) => s.applyModelPreset);
  const preset: PresetChoice = modelPresetOf(config.model) ?? 'custom';
  const m = config.model;

  return (
    <Section id="config" title="Configuration" intro="Everything here is in the page’s link: copy the address to share this exact experiment.">
      <RadioGroup
        label="Paradigm"
        help={config.paradigm === 'sw' ? 'One prompt per target: n context interactions, then the target.' : 'k targets share one prompt after n context interactions.'}
        value={config.paradigm}
        options={PARADIGMS}
        onChange={(paradigm) => setConfig({ paradigm })}
      />
      <div className="field-row">
        <NumberField label="n (context)" help="Interactions each target may read before it." value={config.n} min={1} onChange={(n) => setConfig({ n })} />
        <NumberField label="k (targets per prompt)" help="Targets packed into one DTI prompt; SW uses 1." value={config.k} min={1} onChange={(k) => setConfig({ k })} />
      </div>
      <SelectField
        label="Isolation level"
        help={ISOLATION_HELP[config.isolation]}
        value={config.isolation}
        options={ISOLATION_LEVELS.map((level) => ({ value: level, label: level }))}
        onChange={(isolation) => setConfig({ isolation })}
      />
      <SelectField
        label="Position encoding"
        help={POSITION_HELP[m.positionEncoding]}
        value={m.positionEncoding}
        options={POSITION_ENCODINGS.map((pe) => ({ value: pe, label: pe }))}
        onChange={(positionEncoding) => setModel({ positionEncoding })}
      />
      <RadioGroup
        label="Distance-based forgetting"
        help={
          m.forgetting
            ? `On: a head's attention weight on a key d interactions back is multiplied by e^(−slope·d) before the softmax normalises, slopes like ALiBi's (head 1 of ${m.nHeads}: ${attentionBiasSlope(0, m.nHeads).toFixed(3)} per interaction). It fades history that leaks through layers; a reconstruction of the paper's third fix.`
            : 'Off: attention inside the window does not depend on how far back an interaction is (turn on to fade distant interactions, a soft fix for leakage).'
        }
        value={m.forgetting ? 'on' : 'off'}
        options={[
          { value: 'off', label: 'off' },
          { value: 'on', label: 'on' },
        ]}
        onChange={(choice) => setModel({ forgetting: choice === 'on' })}
      />
      <SelectField
        label="Item text"
        help={ITEM_TEXT_HELP[config.itemText]}
        value={config.itemText}
        options={ITEM_TEXTS.map((text) => ({ value: text, label: text }))}
        onChange={(itemText) => setConfig({ itemText })}
      />
      <SelectField<PresetChoice>
        label="Model size"
        help={preset === 'custom' ? 'Sizes set by hand below.' : `${MODEL_PRESETS[preset].description}.`}
        value={preset}
        options={[
          ...(Object.keys(MODEL_PRESETS) as ModelPresetName[]).map((name) => ({
            value: name,
            label: `${name} (d=${MODEL_PRESETS[name].dModel}, ${MODEL_PRESETS[name].nLayers} layer${MODEL_PRESETS[name].nLayers > 1 ? 's' : ''})`,
          })),
          { value: 'custom', label: 'custom' },
        ]}
        onChange={(name) => name !== 'custom' && applyModelPreset(name)}
      />
      <div className="field-row">
        <NumberField label="Layers" help="Transformer blocks (L)." value={m.nLayers} min={1} onChange={(nLayers) => setModel({ nLayers })} />
        <NumberField label="d_model" help="Width of every token’s hidden state." value={m.dModel} min={4} onChange={(dModel) => setModel({ dModel })} />
      </div>
      <div className="field-row">
        <NumberField label="Heads" help="Attention heads; must divide d_model." value={m.nHeads} min={1} onChange={(nHeads) => setModel({ nHeads })} />
        <NumberField label="d_ff" help="Hidden width of each MLP." value={m.dFF} min={4} onChange={(dFF) => setModel({ dFF })} />
      </div>
      <div className="field-row">
        <NumberField label="Learning rate" help="Peak AdamW step size (warm-up, then cosine)." value={config.learningRate} step="any" onChange={(learningRate) => setConfig({ learningRate })} />
        <NumberField
          label="Targets per step"
          help="Targets per optimizer step, SW and DTI alike (a DTI step takes as many prompts as hold them, at least 4)."
          value={config.batchTargets}
          min={1}
          onChange={(batchTargets) => setConfig({ batchTargets })}
        />
      </div>
      <div className="field-row">
        <NumberField label="Epochs" help="At most this many passes over the training prompts." value={config.epochs} min={1} onChange={(epochs) => setConfig({ epochs })} />
        <NumberField label="Max steps" help="Stop after this many steps (0 = all epochs)." value={config.maxSteps} min={0} onChange={(maxSteps) => setConfig({ maxSteps })} />
      </div>
      <div className="field-row">
        <NumberField label="Seed" help="Same seed, same data order and initial weights." value={config.seed} min={0} onChange={(seed) => setConfig({ seed })} />
        <NumberField
          label="Validations per epoch"
          help="Validation points per epoch, on a fixed sample of validation targets."
          value={config.evalsPerEpoch}
          min={1}
          onChange={(evalsPerEpoch) => setConfig({ evalsPerEpoch })}
        />
      </div>
      <div className="field-row">
        <NumberField
          label="Patience"
          help="Stop after this many validation points without a better AUC (0 = never stop early). The best point’s weights are kept."
          value={config.patience}
          min={0}
          onChange={(patience) => setConfig({ patience })}
        />
      </div>
      <details>
        <summary>Optimizer details</summary>
        <div className="field-row">
          <NumberField label="Weight decay" help="AdamW decay on matrices only." value={config.weightDecay} step="any" onChange={(weightDecay) => setConfig({ weightDecay })} />
          <NumberField label="Gradient clip" help="Max global gradient norm (0 = off)." value={config.maxGradNorm} step="any" onChange={(maxGradNorm) => setConfig({ maxGradNorm })} />
        </div>
      </details>
      <div aria-live="polite" className="config-check">
        {check.errors.length > 0 && (
          <div className="message error" role="alert">
            <strong>This configuration cannot train:</strong>
            <ul>
              {check.errors.map((e) => (
                <li key={e}>{e}</li>
              ))}
            </ul>
          </div>
        )}
        {check.notes.length > 0 && (
          <div className="message note">
            <strong>Worth knowing:</strong>
            <ul>
              {check.notes.map((note) => (
                <li key={note}>{note}</li>
              ))}
            </ul>
          </div>
        )}
        {check.targets !== null && check.errors.length === 0 && (
          <p className="help" data-testid="target-counts">
            {fmtInt(check.targets.train)} training targets, {fmtInt(check.targets.valid)} validation and {fmtInt(check.targets.test)} test targets
            (interactions with n = {config.n} before them: the first n of each history are context only); the longest prompt has{' '}
            {fmtInt(check.longestPrompt)} tokens.
          </p>
        )}
      </div>
      {check.memory && <MemoryTable memory={check.memory} />}
    </Section>
  );
}

function MemoryTable({ memory }: { memory: MemoryEstimate }) {
  const fits = memory.limit === null || memory.largestBuffer <= memory.limit;
  return (
    <div className="memory-estimate" data-testid="memory-estimate">
      <p className="help">
        <strong>GPU memory (estimate): {formatBytes(memory.total)}</strong> for micro-batches of {fmtInt(memory.B)} prompts of up to {fmtInt(memory.L)} tokens
        ({fmtInt(memory.maxTargets)} targets); a step accumulates as many as it needs.
      </p>
      <dl className="stats">
        <dt>Parameters</dt>
        <dd>{formatBytes(memory.parameters)}</dd>
        <dt>Gradients, AdamW state, best-validation copy</dt>
        <dd>{formatBytes(memory.optimizer)}</dd>
        <dt>Activations</dt>
        <dd>{formatBytes(memory.activations)}</dd>
        <dt>Activation gradients</dt>
        <dd>{formatBytes(memory.activationGradients)}</dd>
        <dt>Batch inputs</dt>
        <dd>{formatBytes(memory.batch)}</dd>
        <dt>Largest buffer</dt>
        <dd className={fits ? undefined : 'invalid'}>
          {formatBytes(memory.largestBuffer)}
          {memory.limit === null ? ' (this GPU’s limit is not known yet)' : ` of ${formatBytes(memory.limit)} allowed per buffer`}
        </dd>
      </dl>
    </div>
  );
}
