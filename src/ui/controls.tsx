/** Labelled form controls: every control has a visible label and a one-line description tied to it for screen readers. */
import { type ReactNode, useEffect, useId, useState } from 'react';
import { useLab } from '../store';
import { EXPLAIN_STEPS } from '../store/explain';

interface FieldProps {
  label: string;
  /** One line saying what the control does. */
  help: string;
  disabled?: boolean;
}

export function NumberField({
  label,
  help,
  value,
  onChange,
  step = 1,
  min,
  disabled,
}: FieldProps & { value: number; onChange: (value: number) => void; step?: number | 'any'; min?: number }) {
  const id = useId();
  // The text is kept while it is not a number yet ("", "1e-"), so typing is never fought; only numbers reach the store.
  const [text, setText] = useState(String(value));
  useEffect(() => {
    setText((current) => (Number(current) === value && current.trim() !== '' ? current : String(value)));
  }, [value]);
  const parsed = Number(text);
  const notANumber = text.trim() === '' || !Number.isFinite(parsed);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        step={step}
        min={min}
        value={text}
        disabled={disabled}
        aria-describedby={`${id}-help`}
        aria-invalid={notANumber || undefined}
        onChange={(event) => {
          setText(event.target.value);
          const next = Number(event.target.value);
          if (event.target.value.trim() !== '' && Number.isFinite(next)) onChange(next);
        }}
      />
      <p id={`${id}-help`} className="help">
        {notANumber ? <span className="invalid">Not a number; the last valid value ({value}) is used.</span> : help}
      </p>
    </div>
  );
}

export function SelectField<T extends string>({
  label,
  help,
  value,
  options,
  onChange,
  disabled,
}: FieldProps & { value: T; options: readonly { value: T; label: string }[]; onChange: (value: T) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} disabled={disabled} aria-describedby={`${id}-help`} onChange={(e) => onChange(e.target.value as T)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <p id={`${id}-help`} className="help">
        {help}
      </p>
    </div>
  );
}

/** A labelled group of choices: radio buttons (one value) or checkboxes (several). */
function ChoiceGroup<T extends string | number | boolean>({
  label,
  help,
  kind,
  options,
  isChecked,
  onToggle,
}: FieldProps & { kind: 'radio' | 'checkbox'; options: readonly { value: T; label: string }[]; isChecked: (value: T) => boolean; onToggle: (value: T, on: boolean) => void }) {
  const id = useId();
  return (
    <fieldset className="field radio-group" aria-describedby={`${id}-help`}>
      <legend>{label}</legend>
      <div className="radio-row">
        {options.map((o) => (
          <label key={String(o.value)} className="radio">
            <input type={kind} name={kind === 'radio' ? id : undefined} value={String(o.value)} checked={isChecked(o.value)} onChange={(e) => onToggle(o.value, e.target.checked)} />
            {o.label}
          </label>
        ))}
      </div>
      <p id={`${id}-help`} className="help">
        {help}
      </p>
    </fieldset>
  );
}

export function RadioGroup<T extends string>({
  value,
  onChange,
  ...rest
}: FieldProps & { value: T; options: readonly { value: T; label: string }[]; onChange: (value: T) => void }) {
  return <ChoiceGroup {...rest} kind="radio" isChecked={(v) => v === value} onToggle={(v) => onChange(v)} />;
}

/** Several choices at once (a sweep's k values, levels, encodings): one labelled checkbox each. */
export function CheckboxGroup<T extends string | number | boolean>({
  values,
  onChange,
  ...rest
}: FieldProps & { values: readonly T[]; options: readonly { value: T; label: string }[]; onChange: (values: T[]) => void }) {
  const toggle = (value: T, on: boolean) => onChange(rest.options.map((o) => o.value).filter((v) => (v === value ? on : values.includes(v))));
  return <ChoiceGroup {...rest} kind="checkbox" isChecked={(v) => values.includes(v)} onToggle={toggle} />;
}

export function Section({ id, title, intro, children, actions }: { id: string; title: string; intro?: ReactNode; children: ReactNode; actions?: ReactNode }) {
  // The explain walk points at the section its current step is about.
  const focused = useLab((s) => s.explain.open && EXPLAIN_STEPS[s.explain.step].focus === id);
  return (
    <section id={id} className={`panel${focused ? ' explain-focus' : ''}`} aria-labelledby={`${id}-title`}>
      <header className="panel-header">
        <h2 id={`${id}-title`}>{title}</h2>
        {actions}
      </header>
      {intro && <p className="intro">{intro}</p>}
      {children}
    </section>
  );
}

export function ProgressLine({ label, fraction }: { label: string; fraction: number | null }) {
  return (
    <div className="progress-line" role="status">
      <span>{label}</span>
      {fraction === null ? (
        <progress aria-label={label} />
      ) : (
        <progress aria-label={label} max={1} value={Math.max(0, Math.min(1, fraction))} />
      )}
    </div>
  );
}
