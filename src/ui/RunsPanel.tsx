import { useId, useRef, useState } from 'react';
import { useLab, useLabShallow } from '../store';
import { compareRuns } from '../store/compare';
import { ACCURACY_TOLERANCE } from '../train/experiments';
import type { RunRecord } from '../store/run-types';
import { evaluationOption, runStatusLabel } from '../store/run-view';
import type { EvaluationOption } from '../store/types';
import { CompareChart } from './charts';
import { Section } from './controls';
import { downloadFile } from './download';
import { CALIBRATION_HELP, fmt, fmtCompact, fmtDuration, fmtInt } from './format';

function configSummary(run: RunRecord): string {
  const c = run.config;
  const m = c.model;
  return `${c.paradigm === 'sw' ? 'SW' : `DTI k=${c.k}`}, n=${c.n}, ${c.isolation}, ${m.positionEncoding}${m.forgetting ? ' + forgetting' : ''}, d=${m.dModel}×${m.nLayers}L, ${c.maxSteps > 0 ? `≤${c.maxSteps} steps` : `${c.epochs} ep`}`;
}

export function RunsPanel() {
  const runs = useLab((s) => s.runs);
  const runsLoaded = useLab((s) => s.runsLoaded);
  const liveRunId = useLab((s) => s.session.runId);
  const { storageProblem, runsMessage, compareIds, baselineId } = useLabShallow((s) => ({
    storageProblem: s.storageProblem,
    runsMessage: s.runsMessage,
    compareIds: s.compareIds,
    baselineId: s.baselineId,
  }));
  const evaluationInputs = useLabShallow((s) => ({ dataset: s.dataset, datasetVocab: s.datasetVocab, session: s.session, evaluation: s.evaluation }));
  const evaluateRun = useLab((s) => s.evaluateRun);
  const exportForPyTorch = useLab((s) => s.exportForPyTorch);
  const shardExport = useLab((s) => s.shardExport);
  const canExportShards = useLab((s) => s.dataset !== null && s.check.errors.length === 0);
  const { exportRuns, exportModel, importModel, importRuns, deleteRun, renameRun, toggleCompare, setBaseline, applyRunConfig } = useLabShallow((s) => ({
    exportRuns: s.exportRuns,
    exportModel: s.exportModel,
    importModel: s.importModel,
    importRuns: s.importRuns,
    deleteRun: s.deleteRun,
    renameRun: s.renameRun,
    toggleCompare: s.toggleCompare,
    setBaseline: s.setBaseline,
    applyRunConfig: s.applyRunConfig,
  }));
  // Deleting is final (the run, its curves and its model leave IndexedDB): a second click confirms it.
  const [confirmingDelete, setConfirmingDelete] = useState<string | null>(null);

  const download = (format: 'summary-csv' | 'curves-csv' | 'json') => {
    const file = exportRuns(format);
    downloadFile(file.filename, file.content, file.mime);
  };
  const downloadModel = async (id: string) => {
    const file = await exportModel(id);
    if (file) downloadFile(file.filename, file.bytes, 'application/octet-stream');
  };
  const downloadShards = async () => {
    const file = await exportForPyTorch();
    if (file) downloadFile(file.filename, file.bytes, 'application/x-tar');
  };
  const compared = runs.filter((r) => compareIds.includes(r.id));

  return (
    <Section
      id="runs"
      title="Runs"
      intro="Every run is kept in this browser (IndexedDB) with its full configuration, curves and test metrics."
      actions={
        <div className="button-row" role="toolbar" aria-label="Export and import">
          <button type="button" onClick={() => download('summary-csv')} disabled={runs.length === 0}>
            Export runs CSV
          </button>
          <button type="button" onClick={() => download('curves-csv')} disabled={runs.length === 0}>
            Export curves CSV
          </button>
          <button type="button" onClick={() => download('json')} disabled={runs.length === 0}>
            Export JSON
          </button>
          <FileButton label="Import runs (JSON)…" accept=".json,application/json" inputLabel="Import runs (a runs file the lab exported as JSON)" onFile={importRuns} />
          <FileButton label="Import model…" accept=".safetensors" inputLabel="Import a model (.safetensors)" onFile={async (file) => importModel(file.name, await file.arrayBuffer())} />
          <button
            type="button"
            onClick={() => void downloadShards()}
            disabled={!canExportShards || shardExport !== null}
            title="The prompts of the current configuration on the loaded data, as safetensors shards with their mask metadata and a manifest, for python/train.py (torchrun)"
          >
            {shardExport ? `Exporting prompts… ${Math.round(shardExport.fraction * 100)} %` : 'Export prompts for PyTorch (.tar)'}
          </button>
        </div>
      }
    >
      {storageProblem && <div className="message error">{storageProblem}</div>}
      {runsMessage && (
        <div className={`message ${runsMessage.kind}`} role={runsMessage.kind === 'error' ? 'alert' : 'status'}>
          {runsMessage.text}
        </div>
      )}
      {!runsLoaded ? (
        <p className="help">Loading saved runs…</p>
      ) : runs.length === 0 ? (
        <p className="help">No runs yet. Start one in the training panel, or train SW and DTI in one go to compare them.</p>
      ) : (
        <div className="table-scroll">
          <table className="runs-table" data-testid="runs-table">
            <thead>
              <tr>
                <th scope="col">Compare</th>
                <th scope="col">Run</th>
                <th scope="col">Configuration</th>
                <th scope="col">Dataset</th>
                <th scope="col">Steps, train time</th>
                <th scope="col">Test AUC</th>
                <th scope="col">Test LogLoss</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id} data-testid={`run-row-${run.status}`}>
                  <td>
                    <input type="checkbox" checked={compareIds.includes(run.id)} onChange={() => toggleCompare(run.id)} aria-label={`Compare ${run.name}`} />
                  </td>
                  <td>
                    <RunName run={run} onRename={(name) => void renameRun(run.id, name)} />
                    <div className="run-status">
                      {runStatusLabel(run, liveRunId)}
                      {run.error && run.status !== 'imported' && <span className="invalid" title={run.error.message}> ({run.error.kind})</span>}
                    </div>
                    {run.status === 'imported' && (
                      <Evaluation run={run} option={evaluationOption(evaluationInputs, run)} onEvaluate={() => void evaluateRun(run.id)} />
                    )}
                  </td>
                  <td>{configSummary(run)}</td>
                  <td>{run.dataset.name}</td>
                  <td>
                    {fmtInt(run.result?.steps ?? run.steps.at(-1)?.step)}, {fmtDuration(run.result?.trainMs ?? run.steps.at(-1)?.elapsedMs)}
                  </td>
                  <td>{fmt(run.result?.test.auc, 4)}</td>
                  <td>{fmt(run.result?.test.logLoss, 4)}</td>
                  <td className="actions">
                    <button type="button" onClick={() => applyRunConfig(run.id)} aria-label={`Use the configuration of ${run.name}`}>
                      Use config
                    </button>
                    <button type="button" onClick={() => void downloadModel(run.id)} disabled={!run.hasModel} aria-label={`Download the model of ${run.name} (safetensors)`}>
                      Download model
                    </button>
                    {confirmingDelete === run.id ? (
                      <>
                        <button type="button" className="danger" onClick={() => void deleteRun(run.id)} aria-label={`Delete ${run.name} for good`}>
                          Delete for good
                        </button>
                        <button type="button" onClick={() => setConfirmingDelete(null)} aria-label={`Keep ${run.name}`}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <button
                        type="button"
                        onClick={() => setConfirmingDelete(run.id)}
                        disabled={run.id === liveRunId || run.status === 'running'}
                        aria-label={`Delete ${run.name}`}
                      >
                        Delete…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {compared.length > 0 && <Comparison runs={compared} baselineId={baselineId} onBaseline={setBaseline} />}
    </Section>
  );
}

/**
 * A button that opens a file picker. The button takes the focus and shows it, which a visually hidden file input
 * cannot; the input stays labelled for tests and assistive technology that set files on it directly.
 */
function FileButton({ label, accept, inputLabel, onFile }: { label: string; accept: string; inputLabel: string; onFile: (file: File) => Promise<void> }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" onClick={() => input.current?.click()}>
        {label}
      </button>
      <input
        ref={input}
        className="visually-hidden"
        type="file"
        tabIndex={-1}
        accept={accept}
        aria-label={inputLabel}
        onChange={(event) => {
          const file = event.target.files?.[0];
          event.target.value = ''; // the same file chosen again is read again
          if (file) void onFile(file);
        }}
      />
    </>
  );
}

/** An imported model: evaluate it on the loaded dataset (same vocabulary only), and what earlier evaluations measured. */
function Evaluation({ run, option, onEvaluate }: { run: RunRecord; option: EvaluationOption; onEvaluate: () => void }) {
  const last = run.evaluations?.at(-1);
  const reasonId = useId();
  return (
    <div className="evaluation" data-testid="evaluation">
      <button type="button" onClick={onEvaluate} disabled={!option.enabled} aria-describedby={option.reason ? reasonId : undefined}>
        {option.datasetName ? `Evaluate on ${option.datasetName}` : 'Evaluate'}
      </button>
      {option.reason && (
        <p id={reasonId} className="help">
          {option.reason}
        </p>
      )}
      {run.error && (
        <p className="invalid" role="alert">
          {run.error.message}
        </p>
      )}
      {last && (
        <p className="help" data-testid="evaluation-result">
          Evaluated on {last.datasetName} at {new Date(last.at).toLocaleString('en-GB')}: test AUC <strong data-testid="evaluated-test-auc">{fmt(last.test.auc, 4)}</strong>, LogLoss{' '}
          {fmt(last.test.logLoss, 4)} ({fmtInt(last.test.count)} targets); validation AUC {fmt(last.valid.auc, 4)}.
        </p>
      )}
    </div>
  );
}

function RunName({ run, onRename }: { run: RunRecord; onRename: (name: string) => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      className="run-name"
      aria-label={`Name of ${run.name}`}
      value={draft ?? run.name}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => {
        if (draft !== null && draft !== run.name) onRename(draft);
        setDraft(null);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
        if (e.key === 'Escape') setDraft(null);
      }}
    />
  );
}

function Comparison({ runs, baselineId, onBaseline }: { runs: RunRecord[]; baselineId: string | null; onBaseline: (id: string) => void }) {
  const rows = compareRuns(runs, baselineId);
  return (
    <div className="comparison" data-testid="comparison">
      <h3>Side by side</h3>
      <p className="help">
        Speed-up is the baseline’s training wall-clock divided by the run’s; ΔAUC is the run’s test AUC minus the baseline’s, with its paired 95 %
        bootstrap interval (the same resampled test targets for both runs): when it spans 0 there is no measurable difference. Time to the baseline’s
        accuracy is the training time until the run’s validation AUC first reached the baseline’s best minus {ACCURACY_TOLERANCE}.{' '}
        {CALIBRATION_HELP}
      </p>
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Baseline</th>
              <th scope="col">Run</th>
              <th scope="col">Wall-clock</th>
              <th scope="col">Tokens processed</th>
              <th scope="col">Targets</th>
              <th scope="col">Test AUC (95 % CI)</th>
              <th scope="col">Test LogLoss</th>
              <th scope="col">Predicted / observed CTR</th>
              <th scope="col">Calibration slope</th>
              <th scope="col">Speed-up</th>
              <th scope="col">Tokens vs baseline</th>
              <th scope="col">ΔAUC (paired 95 % CI)</th>
              <th scope="col">Time to the baseline’s accuracy</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.run.id} className={row.isBaseline ? 'baseline' : undefined}>
                <td>
                  <input type="radio" name="baseline" checked={row.isBaseline} onChange={() => onBaseline(row.run.id)} aria-label={`Use ${row.run.name} as the baseline`} />
                </td>
                <th scope="row">{row.run.name}</th>
                <td>{fmtDuration(row.trainMs)}</td>
                <td>{fmtCompact(row.tokens)}</td>
                <td>{fmtCompact(row.targets)}</td>
                <td>
                  {fmt(row.testAuc, 4)}
                  {row.testAucInterval && (
                    <span className="interval">
                      {' '}
                      ({fmt(row.testAucInterval.low, 3)}–{fmt(row.testAucInterval.high, 3)})
                    </span>
                  )}
                </td>
                <td>{fmt(row.testLogLoss, 4)}</td>
                <td>{fmt(row.testPredictedOverObserved, 3)}</td>
                <td>{fmt(row.testCalibrationSlope, 2)}</td>
                <td>{row.speedUp === null ? '–' : `${row.speedUp.toFixed(2)}×`}</td>
                <td>{row.tokenRatio === null ? '–' : `${(row.tokenRatio * 100).toFixed(0)} %`}</td>
                <td data-testid="auc-delta">
                  {row.aucDelta === null ? '–' : `${row.aucDelta >= 0 ? '+' : ''}${row.aucDelta.toFixed(4)}`}
                  {row.aucDeltaInterval && Number.isFinite(row.aucDeltaInterval.low) && (
                    <span className="interval">
                      {' '}
                      [{fmt(row.aucDeltaInterval.low, 4)}, {fmt(row.aucDeltaInterval.high, 4)}] {row.verdict}
                    </span>
                  )}
                </td>
                <td>{!row.timeComparable ? '–' : row.msToBaselineAccuracy === null ? 'not reached' : fmtDuration(row.msToBaselineAccuracy)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.some((row) => row.differences.length > 0) && (
        <div className="message note" data-testid="comparison-differences">
          <p>Not like with like: these runs differ from the baseline in more than what the comparison varies.</p>
          <ul>
            {rows
              .filter((row) => row.differences.length > 0)
              .map((row) => (
                <li key={row.run.id}>
                  {row.run.name}: {row.differences.join('; ')}.
                </li>
              ))}
          </ul>
        </div>
      )}
      <CompareChart runs={runs} />
    </div>
  );
}
