import { type DragEvent, useId, useRef, useState } from 'react';
import {
  type ColumnKey,
  type ColumnMapping,
  type FilePreview,
  type FormatId,
  PRESETS,
  PRESETS_ORDER,
  type Preset,
  TEXT_ENCODINGS,
  describeTextEncoding,
  detectedEncodings,
  isTextEncodingName,
  renderInteraction,
} from '../data';
import { useLab } from '../store';
import { type DataPrep, clickRuleText } from '../store/data-prep';
import type { LoadedDataset } from '../store/types';
import type { UploadChoices } from '../store/upload-choices';
import { ProgressLine, Section } from './controls';
import { fmt, fmtInt, fmtPercent } from './format';

const FORMAT_NAMES: Record<FormatId, string> = {
  builtin: 'built-in generator',
  'movielens-100k': 'MovieLens 100K',
  'movielens-1m': 'MovieLens 1M',
  bookcrossing: 'Book-Crossing',
  csv: 'CSV / TSV with a header',
  jsonl: 'JSON Lines',
};

/** Interactions shown as they appear in prompts. */
const SAMPLE_INTERACTIONS = 4;

export function DatasetPanel() {
  const dataset = useLab((s) => s.dataset);
  const task = useLab((s) => s.datasetTask);
  const error = useLab((s) => s.datasetError);
  const previews = useLab((s) => s.uploadPreviews);
  const uploadedFiles = useLab((s) => s.uploadedFiles);
  const uploadedChoices = useLab((s) => s.uploadedChoices);
  const loadBuiltin = useLab((s) => s.loadBuiltin);
  const uploadFiles = useLab((s) => s.uploadFiles);
  const dismissError = useLab((s) => s.dismissDatasetError);
  const cancelLoad = useLab((s) => s.cancelDatasetLoad);
  const fileInput = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const inputId = useId();
  const current = dataset?.source.kind === 'builtin' ? dataset.source.preset : null;
  // A file whose columns were read but not all recognised, or read with a mapping that then failed (a wrong column for a
  // field): the person can say which is which.
  const mappedAndFailed = error !== null && Object.values(uploadedChoices.mapping).some(Boolean);
  const unmapped =
    previews?.find((p) => p.error && p.columnNames.length > 0) ??
    (mappedAndFailed ? (previews?.find((p) => p.role === 'ratings' && p.columnNames.length > 0) ?? null) : null);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void uploadFiles([...event.dataTransfer.files]);
  };

  return (
    <Section id="dataset" title="Dataset" intro="Users’ time-ordered interactions, each a click or not: a rating turns into a click by the rule the summary below names (for MovieLens and the built-in data, a rating above 3 of 5).">
      <LinkedUploadNote />
      <fieldset className="field radio-group">
        <legend>Built-in dataset</legend>
        <div className="radio-row">
          {PRESETS_ORDER.map((preset: Preset) => (
            <label key={preset} className="radio">
              <input type="radio" name="builtin-preset" checked={current === preset} onChange={() => void loadBuiltin(preset)} />
              {preset}
            </label>
          ))}
        </div>
        <p className="help">
          Generated in your browser, nothing downloaded: {PRESETS_ORDER.map((p) => `${p} ${fmtInt(PRESETS[p].users)} users`).join(', ')}.
        </p>
        <p className="help">
          In leakage, clicks follow a taste that drifts over about 100 interactions, so history older than the window n reveals it best (each user has{' '}
          {PRESETS.leakage.minHistory}–{PRESETS.leakage.maxHistory} interactions). DTI with a leaky isolation level (any but strict) learns that
          shortcut through hidden states that reach past n; sliding-window serving, which shows exactly n interactions, lacks it.
        </p>
      </fieldset>

      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop your own files here, or</p>
        <label htmlFor={inputId} className="button">
          Choose files…
        </label>
        <input
          id={inputId}
          ref={fileInput}
          className="visually-hidden"
          type="file"
          multiple
          aria-label="Upload data files"
          onChange={(event) => {
            void uploadFiles([...(event.target.files ?? [])]);
            if (fileInput.current) fileInput.current.value = '';
          }}
        />
        <p className="help">
          MovieLens 100K (u.data + u.item) or 1M (ratings.dat + movies.dat), Book-Crossing CSVs, or a CSV/TSV/JSONL file with user, item, rating or
          label, and optional timestamp, title, genres columns. Files stay on your computer.
        </p>
      </div>

      {task && (
        <div className="dataset-task">
          <ProgressLine label={`${task.label}: ${task.progress.message}`} fraction={task.progress.fraction} />
          <button type="button" onClick={cancelLoad}>
            Cancel loading
          </button>
          {dataset && <p className="help">Until it finishes, {dataset.data.name} stays loaded; another choice replaces this load.</p>}
        </div>
      )}

      {error && (
        <div className="message error" role="alert" data-testid="dataset-error">
          <strong>{error.file ? `${error.file}${error.line !== null ? `, line ${error.line}` : ''}: ` : ''}this data cannot be used.</strong>
          <p>
            Found: {error.problem}. Expected: {error.expected}.
          </p>
          {dataset && <p>The previous dataset ({dataset.data.name}) is still loaded.</p>}
          <button type="button" onClick={dismissError}>
            Dismiss
          </button>
        </div>
      )}

      {uploadedFiles && (
        <TextEncodingChoice
          choices={uploadedChoices}
          previews={previews}
          onChoose={(encoding) => void uploadFiles(uploadedFiles, { ...uploadedChoices, encoding })}
        />
      )}
      {unmapped && uploadedFiles && (
        <ColumnMappingForm
          key={`${unmapped.name}:${unmapped.columnNames.join()}`}
          preview={unmapped}
          disabled={task !== null}
          onSubmit={(mapping) => void uploadFiles(uploadedFiles, { ...uploadedChoices, mapping })}
        />
      )}
      {previews && <UploadPreviews previews={previews} showRows={uploadedChoices.encoding !== null} shownError={error?.message ?? null} />}
      {dataset && <DataPrepControls dataset={dataset} busy={task !== null} />}
      {dataset && <DatasetSummary dataset={dataset} />}
    </Section>
  );
}

const CLICK_THRESHOLDS = [2, 3, 4, 5, 6, 7, 8, 9, 10];

/** The split and click rules (method doc §5): changing one prepares the loaded data again, in the data worker. */
function DataPrepControls({ dataset, busy }: { dataset: LoadedDataset; busy: boolean }) {
  const prep = useLab((s) => s.prep);
  const setPrep = useLab((s) => s.setPrep);
  const { hasTimestamps, labelSource } = dataset.stats;
  return (
    <div className="data-prep" data-testid="data-prep">
      <label className="field">
        <span>Validation and test split</span>
        <select
          aria-label="Split rule"
          value={prep.split}
          disabled={busy}
          onChange={(event) => void setPrep({ ...prep, split: event.target.value as DataPrep['split'] })}
        >
          <option value="per-user">the last 10 % + 10 % of each user’s history</option>
          <option value="global-time" disabled={!hasTimestamps}>
            one time cut for everybody (the latest 10 % + 10 %){hasTimestamps ? '' : ': needs timestamps'}
          </option>
        </select>
      </label>
      <label className="field">
        <span>What counts as a click</span>
        <select
          aria-label="Click rule"
          value={prep.clickAtLeast ?? 'auto'}
          disabled={busy || labelSource === 'labels'}
          onChange={(event) => void setPrep({ ...prep, clickAtLeast: event.target.value === 'auto' ? null : Number(event.target.value) })}
        >
          <option value="auto">{labelSource === 'labels' ? 'the file’s 0/1 labels' : 'the format’s rule'}</option>
          {/* A link may name a threshold the list does not offer: it is shown, not silently displayed as another. */}
          {[...new Set([...CLICK_THRESHOLDS, ...(prep.clickAtLeast === null ? [] : [prep.clickAtLeast])])].sort((a, b) => a - b).map((threshold) => (
            <option key={threshold} value={threshold}>
              a rating of {threshold} or more
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

const MAPPED_COLUMNS: readonly { key: ColumnKey; label: string }[] = [
  { key: 'user', label: 'User' },
  { key: 'item', label: 'Item' },
  { key: 'rating', label: 'Rating' },
  { key: 'label', label: 'Click label (0/1), instead of a rating' },
  { key: 'timestamp', label: 'Timestamp (optional; without it, file order)' },
  { key: 'title', label: 'Item title (optional)' },
  { key: 'genres', label: 'Genres or categories (optional)' },
];

/** Which column holds what, for a CSV/TSV/JSON Lines file whose column names the lab did not recognise. */
function ColumnMappingForm({ preview, disabled, onSubmit }: { preview: FilePreview; disabled: boolean; onSubmit: (mapping: ColumnMapping) => void }) {
  const [mapping, setMapping] = useState<ColumnMapping>(preview.mapping);
  const chosen = Object.values(mapping).filter((name): name is string => Boolean(name));
  const twice = chosen.find((name, i) => chosen.indexOf(name) !== i) ?? null;
  const ready = Boolean(mapping.user && mapping.item && (mapping.rating || mapping.label)) && twice === null;
  return (
    <form
      className="message info column-mapping"
      data-testid="column-mapping"
      onSubmit={(event) => {
        event.preventDefault();
        if (ready) onSubmit(mapping);
      }}
    >
      <p>
        <strong>Which column of {preview.name} holds what?</strong> A user, an item and a rating (or a 0/1 click label) are needed.
      </p>
      <div className="mapping-grid">
        {MAPPED_COLUMNS.map(({ key, label }) => (
          <label key={key} className="field">
            <span>{label}</span>
            <select aria-label={label} value={mapping[key] ?? ''} onChange={(event) => setMapping({ ...mapping, [key]: event.target.value || undefined })}>
              <option value="">—</option>
              {preview.columnNames.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
        ))}
      </div>
      {twice && <p className="invalid">“{twice}” is chosen for two fields; a column holds one of them.</p>}
      <button type="submit" disabled={disabled || !ready}>
        Load with these columns
      </button>
    </form>
  );
}

/**
 * The text encoding the uploaded files are read in: detected (UTF-8 or Windows-1252, the option says which and why) or
 * chosen; a choice reads the files again, with the same column mapping.
 */
function TextEncodingChoice({
  choices,
  previews,
  onChoose,
}: {
  choices: UploadChoices;
  previews: FilePreview[] | null;
  onChoose: (encoding: UploadChoices['encoding']) => void;
}) {
  const detected = previews ? detectedEncodings(previews) : '';
  const helpId = useId();
  return (
    <div className="text-encoding">
      <label className="field">
        <span>Text encoding</span>
        <select
          aria-label="Text encoding"
          aria-describedby={helpId}
          value={choices.encoding ?? 'detect'}
          onChange={(event) => onChoose(isTextEncodingName(event.target.value) ? event.target.value : null)}
        >
          <option value="detect">Detect{detected ? ` (${detected})` : ''}</option>
          {TEXT_ENCODINGS.map((encoding) => (
            <option key={encoding.name} value={encoding.name}>
              {encoding.label} — {encoding.languages}
            </option>
          ))}
        </select>
      </label>
      <p className="help" id={helpId}>
        Detection tells UTF-8 from Windows-1252 only: bytes that are not UTF-8 do not say which 8-bit encoding they are, so Windows-1252 is a guess.
        If titles look wrong, choose the files’ encoding: they are read again, with the same columns, and their first rows below show how they read.
      </p>
    </div>
  );
}

/**
 * What was detected in each uploaded file, open when a file has a problem or `showRows` (an encoding was chosen, to see
 * the rows read in it); a file whose problem the message above already shows points there.
 */
function UploadPreviews({ previews, showRows, shownError }: { previews: FilePreview[]; showRows: boolean; shownError: string | null }) {
  return (
    <details className="previews" open={showRows || previews.some((p) => p.error)}>
      <summary>What was detected in the uploaded files</summary>
      {previews.map((p) => (
        <div key={p.name} className="preview">
          <p>
            <strong>{p.name}</strong> ({fmtInt(p.size)} bytes):{' '}
            {p.error ? (
              <span className="invalid">{p.error.message === shownError ? 'not usable: see the message above' : p.error.message}</span>
            ) : (
              `${p.format ? FORMAT_NAMES[p.format] : 'unknown format'}, ${p.description}${encodingText(p)}`
            )}
          </p>
          {!p.error && p.sample.length > 0 && (
            <div className="table-scroll">
              <table>
                {p.columnNames.length > 0 && (
                  <thead>
                    <tr>
                      {p.columnNames.map((c) => (
                        <th key={c} scope="col">
                          {c}
                        </th>
                      ))}
                    </tr>
                  </thead>
                )}
                <tbody>
                  {p.sample.slice(0, 3).map((row, r) => (
                    <tr key={r}>
                      {row.map((cell, c) => (
                        <td key={c}>{cell}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      ))}
    </details>
  );
}

/** ", Windows-1252, a guess: …": the encoding a preview's rows are read in, and on what basis. */
function encodingText({ encoding, encodingBasis }: FilePreview): string {
  return encoding === null || encodingBasis === null ? '' : `, ${describeTextEncoding({ name: encoding, basis: encodingBasis })}`;
}

function DatasetSummary({ dataset }: { dataset: LoadedDataset }) {
  const { stats, data } = dataset;
  const sampleUser = data.users.find((u) => u.items.length >= SAMPLE_INTERACTIONS) ?? data.users[0];
  const rule = clickRuleText(stats);
  return (
    <div className="dataset-summary" data-testid="dataset-summary">
      <p>
        <strong>{data.name}</strong> — {FORMAT_NAMES[dataset.format]}
        {dataset.source.kind === 'upload' ? ` (${dataset.source.files.join(', ')}; not part of the page’s link)` : ''}
      </p>
      <dl className="stats">
        <dt>Users</dt>
        <dd>{fmtInt(stats.users)}</dd>
        <dt>Items</dt>
        <dd>{fmtInt(stats.items)}</dd>
        <dt>Interactions</dt>
        <dd>{fmtInt(stats.interactions)}</dd>
        <dt>Clicks</dt>
        <dd>
          {fmtPercent(stats.positiveRate)} ({rule})
        </dd>
        <dt>History length</dt>
        <dd>
          median {fmtInt(stats.historyLength.median)}, {fmtInt(stats.historyLength.min)}–{fmtInt(stats.historyLength.max)}
        </dd>
        <dt>Tokens per interaction</dt>
        <dd>
          {fmt(stats.tokensPerInteraction.mean, 1)} on average with item text “words” (the item’s words, [SUM] and the label); “both” adds the item-id
          token, “id” makes 3
        </dd>
        <dt>Vocabulary</dt>
        <dd>
          {fmtInt(stats.vocabSize)} tokens{stats.unknownTokenRate > 0 ? `, ${fmtPercent(stats.unknownTokenRate, 1)} of item words [UNK]` : ''}; of them{' '}
          {fmtInt(stats.itemIdTokens)} item-id tokens (items seen often enough in training; they cover {fmtPercent(stats.itemIdCoverage, 0)} of training
          interactions, the rest share [ITEM-UNK])
        </dd>
        <dt>Split</dt>
        <dd>
          {fmtInt(stats.splits.train.interactions)} train / {fmtInt(stats.splits.valid.interactions)} valid / {fmtInt(stats.splits.test.interactions)} test
          ({stats.split.kind === 'per-user' ? 'last of each user' : 'global time cut'})
        </dd>
        {stats.droppedUsers > 0 && (
          <>
            <dt>Dropped</dt>
            <dd>
              {fmtInt(stats.droppedUsers)} users with fewer than {fmtInt(stats.minHistory)} interactions ({fmtInt(stats.droppedInteractions)}{' '}
              interactions); every run uses the same users, whatever its n
            </dd>
          </>
        )}
        {stats.duplicateRows + stats.implicitRatings > 0 && (
          <>
            <dt>Left out</dt>
            <dd data-testid="rows-left-out">
              {[
                stats.duplicateRows > 0 && `${fmtInt(stats.duplicateRows)} exact copies of an earlier row (same user, item, rating and time)`,
                stats.implicitRatings > 0 && `${fmtInt(stats.implicitRatings)} implicit 0 ratings (a book seen, not rated)`,
              ]
                .filter(Boolean)
                .join('; ')}
            </dd>
          </>
        )}
      </dl>
      {dataset.notes.length > 0 && (
        <ul className="message note" data-testid="load-notes">
          {dataset.notes.map((note) => (
            <li key={note.message}>{note.message}</li>
          ))}
        </ul>
      )}
      {dataset.skipped.count > 0 && (
        <details>
          <summary>
            {fmtInt(dataset.skipped.count)} {dataset.skipped.count === 1 ? 'row was' : 'rows were'} skipped
          </summary>
          <ul>
            {dataset.skipped.examples.map((row) => (
              <li key={`${row.file}:${row.line}`}>
                {row.file}, line {row.line}: {row.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
      {sampleUser && (
        <>
          <p className="help">
            User {sampleUser.userId}’s first interactions, as the model reads them (item words, [SUM], then the label):
          </p>
          <ol className="sample-interactions">
            {Array.from(sampleUser.items.subarray(0, SAMPLE_INTERACTIONS), (item, i) => (
              <li key={i}>
                <span className="item-title">{data.itemTitles[item]}</span> <code>{renderInteraction(data, item, sampleUser.labels[i])}</code>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}

/**
 * A link made on uploaded data names its files and the prepared data's checksum: the page asks for those files, and
 * says whether the files dropped are the link's data.
 */
function LinkedUploadNote() {
  const linked = useLab((s) => s.linkedUpload);
  const dataset = useLab((s) => s.dataset);
  const checksum = useLab((s) => s.datasetChecksum);
  if (!linked) return null;
  const files = linked.files.length ? linked.files.join(', ') : 'files it does not name';
  const digest = linked.checksum ? ` (data checksum ${linked.checksum})` : '';
  const upload = dataset?.source.kind === 'upload';
  const matches = upload && checksum !== null && linked.checksum !== '' && checksum.startsWith(linked.checksum);
  if (upload && checksum === null) return <p className="message note" data-testid="linked-upload">Checking the loaded files against the link’s data{digest}…</p>;
  if (matches) return <p className="message info" data-testid="linked-upload">✓ The loaded data is the link’s: {files}{digest}.</p>;
  if (upload && !linked.checksum) return <p className="message note" data-testid="linked-upload">The link names {files} but no data checksum: the loaded files cannot be checked against it.</p>;
  if (upload) {
    return (
      <p className="message error" data-testid="linked-upload">
        The loaded data is not the link’s: the link was made on {files}{digest}, the loaded data’s checksum starts {checksum!.slice(0, linked.checksum.length)}.
        Other files, or the same files under other split or click rules (the link sets those: see the summary).
      </p>
    );
  }
  return (
    <p className="message note" data-testid="linked-upload">
      This link was made on uploaded data: {files}{digest}. Drop the same files below to train on it; {dataset ? `${dataset.data.name} is shown meanwhile` : 'the built-in data loads meanwhile'}.
    </p>
  );
}
