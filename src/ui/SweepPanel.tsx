import { useState } from 'react';
import { useLab } from '../store';
import { fileStamp } from '../store/export';
import { summarizeSweep, sweepIds } from '../store/sweep-view';
import { ISOLATION_LEVELS, type IsolationLevel, POSITION_ENCODINGS, type PositionEncoding } from '../prompt/types';
import { type SweepPlan, formatSpread, sweepConfigs } from '../train/experiments';
import { SweepCharts } from './charts';
import { CheckboxGroup, NumberField, Section } from './controls';
import { downloadFile } from './download';
import { CALIBRATION_HELP, fmtCompact } from './format';

const K_CHOICES = [1, 5, 10, 20, 50] as const;

export function SweepPanel() {
  const config = useLab((s) => s.config);
  const runs = useLab((s) => s.runs);
  const session = useLab((s) => s.session);
  const datasetName = useLab((s) => s.dataset?.data.name ?? null);
  const canTrain = useLab((s) => s.dataset !== null && s.check.errors.length === 0 && s.webgpu.state !== 'unavailable' && s.evaluation === null);
  const startSweep = useLab((s) => s.startSweep);
  const [ks, setKs] = useState<number[]>([1, 5, 20]);
  const [levels, setLevels] = useState<IsolationLevel[]>(['window', 'strict']);
  const [encodings, setEncodings] = useState<PositionEncoding[]>(['rope']);
  const [forgetting, setForgetting] = useState<boolean[]>([false]);
  const [seedCount, setSeedCount] = useState(1);
  const seeds = Array.from({ length: Math.max(0, Math.min(5, Math.floor(seedCount))) }, (_, i) => config.seed + i);
  const plan: SweepPlan = { ks, levels, encodings, forgetting, seeds };
  const total = sweepConfigs(config, plan).length;

  const ids = sweepIds(runs);
  const [chosen, setChosen] = useState<string | null>(null);
  const shownId = chosen && ids.includes(chosen) ? chosen : (ids[0] ?? null);
  const summary = shownId ? summarizeSweep(runs, shownId) : null;
  const liveRun = runs.find((r) => r.id === session.runId);
  const sweeping = liveRun?.sweepId !== undefined;

  return (
    <Section
      id="sweep"
      title="Sweep: scaling in k"
      intro="Trains the current configuration for every k, isolation level, position encoding and forgetting choice ticked here, each with the same protocol, and tabulates test AUC and training time against k. The paper's finding to check: plain DTI (window) degrades as k grows, and the fixes (strict isolation, relative positions) remove the degradation."
    >
      <div className="sweep-plan">
        <CheckboxGroup
          label="k values"
          help="k = 1 is the sliding-window baseline, trained once per encoding and seed under the first ticked level's rule (its row names the rule)."
          values={ks}
          options={K_CHOICES.map((k) => ({ value: k, label: String(k) }))}
          onChange={setKs}
        />
        <CheckboxGroup
          label="Isolation levels"
          help="window is plain DTI; sum-isolated and strict are the leakage fixes."
          values={levels}
          options={ISOLATION_LEVELS.map((level) => ({ value: level, label: level }))}
          onChange={setLevels}
        />
        <CheckboxGroup
          label="Position encodings"
          help="learned absolute positions are the positional-bias baseline; RoPE and ALiBi are relative."
          values={encodings}
          options={POSITION_ENCODINGS.map((pe) => ({ value: pe, label: pe }))}
          onChange={setEncodings}
        />
        <CheckboxGroup
          label="Distance-based forgetting"
          help="on: every head's attention fades with the distance in interactions, a soft fix for leakage (a reconstruction)."
          values={forgetting}
          options={[
            { value: false, label: 'off' },
            { value: true, label: 'on' },
          ]}
          onChange={setForgetting}
        />
        <NumberField label="Seeds" help={
            seeds.length > 1
              ? `Each run is repeated with seeds ${seeds[0]} to ${seeds.at(-1)}; the table shows mean ± sd (up to 5 seeds).`
              : `Each run uses seed ${config.seed}; more seeds (up to 5) give mean ± sd.`
          } value={seedCount} min={1} onChange={setSeedCount} />
      </div>
      <p className="help" data-testid="sweep-size">
        {total} run{total === 1 ? '' : 's'} of up to {config.epochs} epoch{config.epochs === 1 ? '' : 's'} each on {datasetName ?? 'the loaded dataset'} (n = {config.n}, the
        model, optimizer and early stopping of the configuration, {config.batchTargets} targets per step for every k; max steps is not used).
      </p>
      <div className="button-row">
        <button type="button" className="primary" onClick={() => startSweep(plan)} disabled={session.state !== 'idle' || !canTrain || total === 0}>
          Run the sweep
        </button>
        {sweeping && (
          <span role="status" data-testid="sweep-progress">
            Sweep running: {session.queue.length} run{session.queue.length === 1 ? '' : 's'} after this one.
          </span>
        )}
      </div>
      {summary && (
        <div className="sweep-results" data-testid="sweep-results">
          {ids.length > 1 && (
            <label className="field">
              Sweep shown{' '}
              <select value={shownId ?? ''} onChange={(e) => setChosen(e.target.value)}>
                {ids.map((id, i) => (
                  <option key={id} value={id}>
                    {i === 0 ? 'latest' : `${i + 1}. most recent`} ({runs.filter((r) => r.sweepId === id).length} runs)
                  </option>
                ))}
              </select>
            </label>
          )}
          <p className="help">
            {summary.finished} of {summary.runs.length} run{summary.runs.length === 1 ? '' : 's'} finished with test metrics (SW-style evaluation, every test target in its own
            sliding-window prompt). Speed-up and ΔAUC are against the SW row of the same encoding (and isolation rule, when the sweep has one). {CALIBRATION_HELP}
          </p>
          <div className="table-scroll">
            <table className="runs-table" data-testid="sweep-table">
              <caption className="visually-hidden">Sweep results by k, isolation level and position encoding</caption>
              <thead>
                <tr>
                  <th scope="col">run</th>
                  <th scope="col">seeds</th>
                  <th scope="col">test AUC</th>
                  <th scope="col">test LogLoss</th>
                  <th scope="col">predicted / observed CTR</th>
                  <th scope="col">calibration slope</th>
                  <th scope="col">train time (s)</th>
                  <th scope="col">tokens</th>
                  <th scope="col">speed-up vs SW</th>
                  <th scope="col">ΔAUC vs SW</th>
                </tr>
              </thead>
              <tbody>
                {summary.rows.map((row) => (
                  <tr key={row.label}>
                    <th scope="row">{row.label}</th>
                    <td>{row.seeds}</td>
                    <td>{formatSpread(row.testAuc, 4)}</td>
                    <td>{formatSpread(row.testLogLoss, 4)}</td>
                    <td>{formatSpread(row.testPredictedOverObserved, 3)}</td>
                    <td>{formatSpread(row.testCalibrationSlope, 2)}</td>
                    <td>{formatSpread(row.trainSeconds, 1)}</td>
                    <td>{fmtCompact(row.tokens)}</td>
                    <td>{Number.isNaN(row.speedUp) ? '–' : `${row.speedUp.toFixed(2)}×`}</td>
                    <td>{Number.isNaN(row.aucVsSw) ? '–' : `${row.aucVsSw >= 0 ? '+' : ''}${row.aucVsSw.toFixed(4)}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="button-row">
            <button
              type="button"
              onClick={() => downloadFile(`dti-lab-sweep-${fileStamp()}.md`, summary.report, 'text/markdown')}
              disabled={summary.rows.length === 0}
            >
              Export table (Markdown)
            </button>
          </div>
          <SweepCharts series={summary.series} />
        </div>
      )}
    </Section>
  );
}
