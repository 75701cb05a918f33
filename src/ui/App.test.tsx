// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { LabStoreProvider, bindUrlHash } from '../store';
import type { LabStore } from '../store/lab-store';
import type { RunRecord } from '../store/run-types';
import { windows1251 } from '../data/test-fixtures';
import { readyStore, waitFor } from '../store/test-support';
import { DEFAULT_TRAIN_CONFIG } from '../train/protocol';
import { App } from './App';

afterEach(cleanup);

function renderApp(store: LabStore) {
  return render(
    <LabStoreProvider store={store}>
      <App />
    </LabStoreProvider>,
  );
}

const calibration = { meanPrediction: 0.55, clickRate: 0.5, calibrationSlope: 1.3 };

const finishedRun = (id: string, paradigm: 'sw' | 'dti', trainMs: number, auc: number): RunRecord => ({
  id,
  name: `${paradigm} run`,
  createdAt: id === 'a' ? 1 : 2,
  config: { ...DEFAULT_TRAIN_CONFIG, paradigm },
  dataset: { name: 'Built-in (small, seed 1)', preset: 'small', users: 100, interactions: 4955 },
  status: 'done',
  steps: [{ step: 1, epoch: 1, loss: 0.69, elapsedMs: trainMs, targetsPerSec: 10, tokensPerSec: 100, targets: 5, tokens: 50 }],
  evals: [{ step: 1, split: 'valid', auc, logLoss: 0.6, accuracy: 0.6, count: 10, ...calibration }],
  result: {
    steps: 1,
    trainMs,
    tokensProcessed: paradigm === 'sw' ? 1000 : 200,
    targetsProcessed: 50,
    valid: { auc, logLoss: 0.6, accuracy: 0.6, count: 10, ...calibration },
    test: { auc, logLoss: 0.61, accuracy: 0.6, count: 10, ...calibration },
    stopped: false,
  },
  error: null,
  adapter: 'test',
  hasModel: false,
});

describe('the lab page', () => {
  it('asks for the files a link to uploaded data names, then says whether the dropped files are its data', async () => {
    const { store } = await readyStore('#ds=upload&file=mine.csv&data=0123456789abcdef&n=4');
    renderApp(store);
    expect(screen.getByTestId('linked-upload').textContent).toMatch(/^This link was made on uploaded data: mine\.csv \(data checksum 0123456789abcdef\)\. Drop the same files below/);
    const rows = ['user,item,rating'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`u${u},i${(u * 7 + t) % 25},${1 + ((u + t) % 5)}`);
    await act(async () => {
      await store.getState().uploadFiles([new File([rows.join('\n')], 'mine.csv')]);
      await waitFor(() => store.getState().datasetChecksum !== null);
    });
    expect(screen.getByTestId('linked-upload').textContent).toMatch(/^The loaded data is not the link’s: the link was made on mine\.csv .*checksum starts [0-9a-f]{16}\./);
  });

  it('shows the loaded dataset, a real prompt and the mask statistics', async () => {
    const { store } = await readyStore('#n=4&k=3');
    renderApp(store);
    expect(screen.getByTestId('dataset-summary').textContent).toMatch(/Built-in \(small/);
    const prompt = screen.getByTestId('prompt-tokens');
    expect(prompt.querySelectorAll('.interaction')).toHaveLength(7);
    expect(prompt.querySelectorAll('.tok-sum')).toHaveLength(7);
    expect(screen.getByTestId('mask-stats').textContent).toMatch(/skipped/);
  });

  it('updates the prompt and the mask when k is edited', async () => {
    const { store } = await readyStore('#n=4&k=3&iso=window');
    renderApp(store);
    const before = screen.getByTestId('mask-stats').textContent;
    fireEvent.change(screen.getByLabelText('k (targets per prompt)'), { target: { value: '8' } });
    expect(store.getState().config.k).toBe(8);
    expect(screen.getByTestId('prompt-tokens').querySelectorAll('.interaction.target')).toHaveLength(8);
    expect(screen.getByTestId('mask-stats').textContent).not.toBe(before);
  });

  it('explains an invalid combination next to the controls instead of changing it', async () => {
    const { store } = await readyStore();
    renderApp(store);
    fireEvent.change(screen.getByLabelText('Heads'), { target: { value: '5' } });
    expect(screen.getByText(/must be divisible by the number of heads/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Start training' }) as HTMLButtonElement).disabled).toBe(true);
    expect(store.getState().config.model.nHeads).toBe(5);
  });

  it('keeps showing a half-typed number without sending it to the store', async () => {
    const { store } = await readyStore();
    renderApp(store);
    const n = screen.getByLabelText('n (context)') as HTMLInputElement;
    fireEvent.change(n, { target: { value: '' } });
    expect(store.getState().config.n).toBe(10);
    expect(screen.getByText(/Not a number; the last valid value \(10\) is used/)).toBeTruthy();
  });

  it('shows an upload error in place and keeps the previous dataset', async () => {
    const { store } = await readyStore();
    renderApp(store);
    await act(() => store.getState().uploadFiles([new File(['garbage without structure\n'], 'broken.txt')]));
    const alert = screen.getByTestId('dataset-error');
    expect(alert.textContent).toMatch(/broken\.txt/);
    expect(alert.textContent).toMatch(/previous dataset \(Built-in \(small, seed 1\)\) is still loaded/);
    expect(screen.getByTestId('dataset-summary').textContent).toMatch(/Built-in \(small/);
  });

  it('offers a column mapping for a file whose columns it does not recognise, and loads it with the chosen columns', async () => {
    const { store } = await readyStore();
    renderApp(store);
    const rows = ['cust_ref,sku,stars_given,when'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`c${u},s${(u * 7 + t) % 25},${1 + ((u + t) % 5)},${1000 + t}`);
    await act(() => store.getState().uploadFiles([new File([rows.join('\n')], 'export.csv')]));
    expect(screen.getByTestId('dataset-error').textContent).toMatch(/export\.csv.*no user column, no item column.*cust_ref/s);
    const form = screen.getByTestId('column-mapping');
    const submit = within(form).getByRole('button', { name: 'Load with these columns' }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    const choose = (label: RegExp, column: string) => fireEvent.change(within(form).getByLabelText(label), { target: { value: column } });
    choose(/^User$/, 'cust_ref');
    choose(/^Item$/, 'sku');
    expect(submit.disabled).toBe(true); // no rating or label yet
    choose(/^Rating$/, 'stars_given');
    choose(/^Timestamp/, 'stars_given');
    expect(submit.disabled).toBe(true); // one column for two fields
    expect(form.textContent).toMatch(/“stars_given” is chosen for two fields/);
    choose(/^Timestamp/, 'when');
    expect(submit.disabled).toBe(false);
    fireEvent.click(submit);
    await act(() => waitFor(() => store.getState().dataset?.source.kind === 'upload'));
    expect(store.getState().dataset?.source).toEqual({ kind: 'upload', files: ['export.csv'] });
    expect(store.getState().dataset?.stats.users).toBe(4);
    expect(screen.queryByTestId('dataset-error')).toBeNull();
    expect(screen.queryByTestId('column-mapping')).toBeNull();
  });

  it('prepares the data again when the split or click rule is changed, and the summary says which rules hold', async () => {
    const { store } = await readyStore();
    renderApp(store);
    const prep = screen.getByTestId('data-prep');
    fireEvent.change(within(prep).getByLabelText('Click rule'), { target: { value: '5' } });
    await act(() => waitFor(() => store.getState().dataset?.prep.clickAtLeast === 5));
    fireEvent.change(within(prep).getByLabelText('Split rule'), { target: { value: 'global-time' } });
    await act(() => waitFor(() => store.getState().dataset?.prep.split === 'global-time'));
    const summary = screen.getByTestId('dataset-summary').textContent ?? '';
    expect(summary).toMatch(/click = rating ≥ 5/);
    expect(summary).toMatch(/global time cut/);
  });

  it('keeps the column mapping form when a load with the chosen columns fails, to correct them', async () => {
    const { store } = await readyStore();
    renderApp(store);
    const rows = ['cust_ref,sku,flag,when'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`c${u},s${(u * 7 + t) % 25},${(u + t) % 2},${1000 + t}`);
    const files = [new File([rows.join('\n')], 'export.csv')];
    await act(() => store.getState().uploadFiles(files));
    // The timestamp column taken for the click label: every row is refused.
    await act(() => store.getState().uploadFiles(files, { mapping: { user: 'cust_ref', item: 'sku', label: 'when' } }));
    expect(screen.getByTestId('dataset-error').textContent).toMatch(/label "1000" is not 0 or 1/);
    const form = screen.getByTestId('column-mapping');
    expect((within(form).getByLabelText(/^Click label/) as HTMLSelectElement).value).toBe('when');
    fireEvent.change(within(form).getByLabelText(/^Click label/), { target: { value: 'flag' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Load with these columns' }));
    await act(() => waitFor(() => store.getState().dataset?.source.kind === 'upload'));
    expect(store.getState().dataset?.stats.labelSource).toBe('labels');
  });

  it('reads an upload in the text encoding chosen for it, keeping its column mapping, submitted or being edited', async () => {
    const { store } = await readyStore();
    renderApp(store);
    const rows = ['cust,sku,stars,when,name'];
    for (let u = 0; u < 4; u++) for (let t = 0; t < 30; t++) rows.push(`c${u},s${t % 25},${1 + ((u + t) % 5)},${1000 + t},Сталкер ${t % 25}`);
    await act(() => store.getState().uploadFiles([new File([windows1251(rows.join('\n'))], 'films.csv')]));
    const encoding = () => screen.getByLabelText('Text encoding') as HTMLSelectElement;
    const chooseEncoding = async (name: string) => {
      fireEvent.change(encoding(), { target: { value: name } });
      await act(() => waitFor(() => store.getState().datasetTask === null));
    };
    const form = () => screen.getByTestId('column-mapping');
    const choose = (label: RegExp, column: string) => fireEvent.change(within(form()).getByLabelText(label), { target: { value: column } });
    expect(encoding().value).toBe('detect');
    choose(/^User$/, 'cust');
    await chooseEncoding('windows-1251');
    expect((within(form()).getByLabelText(/^User$/) as HTMLSelectElement).value).toBe('cust');

    // Detected, the titles come out as Windows-1252, and the note points at the choice.
    await chooseEncoding('detect');
    choose(/^Item$/, 'sku');
    choose(/^Rating$/, 'stars');
    choose(/^Timestamp/, 'when');
    choose(/^Item title/, 'name');
    fireEvent.click(within(form()).getByRole('button', { name: 'Load with these columns' }));
    await act(() => waitFor(() => store.getState().dataset?.source.kind === 'upload'));
    expect(store.getState().dataset?.data.itemTitles).not.toContain('Сталкер 3');
    expect(screen.getByTestId('load-notes').textContent).toMatch(/read as Windows-1252.*choose its text encoding \(Text encoding in the page/);
    expect(within(encoding()).getByRole('option', { name: /^Detect/ }).textContent).toBe('Detect (films.csv — Windows-1252, a guess: its text is not valid UTF-8)');

    await chooseEncoding('windows-1251');
    expect(store.getState().uploadedChoices).toEqual({ mapping: { user: 'cust', item: 'sku', rating: 'stars', timestamp: 'when', title: 'name' }, encoding: 'windows-1251' });
    expect(store.getState().dataset?.data.itemTitles).toContain('Сталкер 3');
    expect(screen.queryByTestId('load-notes')).toBeNull();
    // The preview opens on the rows as the chosen encoding reads them.
    expect((screen.getByText('What was detected in the uploaded files').parentElement as HTMLDetailsElement).open).toBe(true);
    expect(screen.getAllByText('Сталкер 0').length).toBeGreaterThan(0);
    expect(screen.getByText(/films\.csv/, { selector: '.preview strong' }).parentElement?.textContent).toMatch(/Windows-1251, as chosen$/);
  });

  it('says plainly when WebGPU is missing and still shows data, prompts and masks', async () => {
    const { store } = await readyStore('', { detectWebGpu: async () => ({ available: false, message: 'navigator.gpu is missing.' }) });
    renderApp(store);
    expect(screen.getByTestId('no-webgpu').textContent).toMatch(/WebGPU is not available.*navigator\.gpu is missing.*chrome:\/\/flags/s);
    expect(screen.getByTestId('prompt-tokens')).toBeTruthy();
    expect(screen.getByTestId('mask-stats')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Start training' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('queues a sweep from its panel and tabulates a finished one against k', async () => {
    const { store, deps } = await readyStore('#n=4&k=3');
    const sweepRun = (id: string, paradigm: 'sw' | 'dti', k: number, trainMs: number, auc: number): RunRecord => {
      const run = finishedRun(id, paradigm, trainMs, auc);
      return { ...run, name: `${paradigm} k=${k}`, sweepId: 'sweep-1', config: { ...run.config, k, isolation: 'strict' } };
    };
    act(() => store.setState({ runs: [sweepRun('a', 'sw', 1, 10_000, 0.7), sweepRun('b', 'dti', 5, 4_000, 0.71), sweepRun('c', 'dti', 20, 1_000, 0.69)] }));
    renderApp(store);
    const table = screen.getByTestId('sweep-table');
    expect(within(table).getByRole('row', { name: /DTI k=20 strict/ }).textContent).toMatch(/10\.00×.*-0\.0100/);
    expect(within(table).getByRole('row', { name: /DTI k=5 strict/ }).textContent).toMatch(/2\.50×.*\+0\.0100/);
    expect(screen.getByTestId('sweep-auc-chart')).toBeTruthy();
    // Defaults: k 1, 5, 20 under window and strict with RoPE, one seed: SW once plus 2 × 2 DTI runs.
    expect(screen.getByTestId('sweep-size').textContent).toMatch(new RegExp(`^5 runs of up to ${DEFAULT_TRAIN_CONFIG.epochs} epochs each`));
    fireEvent.click(within(screen.getByRole('group', { name: 'k values' })).getByLabelText('10'));
    expect(screen.getByTestId('sweep-size').textContent).toMatch(/^7 runs/);
    fireEvent.click(screen.getByRole('button', { name: 'Run the sweep' }));
    const start = deps.trainer.commands[0];
    expect(start.type === 'start' && [start.config.paradigm, start.config.maxSteps]).toEqual(['sw', 0]);
    expect(store.getState().session.queue).toHaveLength(6);
  });

  it('compares runs side by side with the speed-up over the SW baseline', async () => {
    const { store } = await readyStore();
    act(() => store.setState({ runs: [finishedRun('a', 'sw', 10_000, 0.7), finishedRun('b', 'dti', 2_000, 0.705)] }));
    renderApp(store);
    fireEvent.click(screen.getByLabelText('Compare sw run'));
    fireEvent.click(screen.getByLabelText('Compare dti run'));
    const comparison = screen.getByTestId('comparison');
    const dtiRow = within(comparison).getByRole('row', { name: /dti run/ });
    expect(dtiRow.textContent).toMatch(/5\.00×/);
    expect(dtiRow.textContent).toMatch(/\+0\.0050/);
    expect(dtiRow.textContent).toMatch(/20 %/);
    // Test calibration: predicted over observed CTR (0.55 / 0.5), then the slope.
    expect(dtiRow.textContent).toMatch(/1\.100.*1\.30/);
  });

  it('deletes a run only on a second, explicit click', async () => {
    const { store } = await readyStore();
    act(() => store.setState({ runs: [finishedRun('a', 'sw', 10_000, 0.7), finishedRun('b', 'dti', 2_000, 0.705)] }));
    renderApp(store);
    fireEvent.click(screen.getByLabelText('Delete sw run'));
    expect(store.getState().runs).toHaveLength(2);
    fireEvent.click(screen.getByLabelText('Keep sw run'));
    expect(screen.queryByLabelText('Delete sw run for good')).toBeNull();
    fireEvent.click(screen.getByLabelText('Delete sw run'));
    fireEvent.click(screen.getByLabelText('Delete sw run for good'));
    await act(() => waitFor(() => store.getState().runs.length === 1));
    expect(store.getState().runs.map((run) => run.id)).toEqual(['b']);
  });

  it('walks through explain mode and restores the configuration when left', async () => {
    const { store } = await readyStore('#k=3&iso=strict');
    renderApp(store);
    fireEvent.click(screen.getByRole('button', { name: /Explain DTI/ }));
    expect(screen.getByTestId('explain').textContent).toMatch(/step 1 of 7/);
    expect(store.getState().config.paradigm).toBe('sw');
    fireEvent.click(screen.getByRole('button', { name: 'Next →' }));
    expect(screen.getByTestId('explain').textContent).toMatch(/encoded about [\d.]+ times/);
    fireEvent.click(screen.getByRole('button', { name: /Step 5: Hidden-state leakage/ }));
    expect(screen.getByTestId('field-summary').textContent).toMatch(/hidden-state leakage/);
    fireEvent.click(within(screen.getByTestId('explain')).getByRole('button', { name: 'strict' }));
    expect(screen.getByTestId('field-summary').textContent).toMatch(/no leakage/);
    fireEvent.click(screen.getByRole('button', { name: /Leave the walk/ }));
    expect(screen.queryByTestId('explain')).toBeNull();
    expect(store.getState().config.isolation).toBe('strict');
    expect(store.getState().config.k).toBe(3);
    expect(screen.getByRole('button', { name: /Resume the DTI walk \(step 5\)/ })).toBeTruthy();
  });
});

describe('robustness and imported models', () => {
  it('shows the GPU memory estimate next to the configuration, and refuses a run that would not fit', async () => {
    const { store } = await readyStore('#d=32&h=2&l=1&ff=64', {
      detectWebGpu: async () => ({ available: true, message: 'test adapter', limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 } }),
    });
    renderApp(store);
    const estimate = screen.getByTestId('memory-estimate');
    expect(estimate.textContent).toMatch(/GPU memory \(estimate\): [\d.]+ (KiB|MiB)/);
    expect(estimate.textContent).toMatch(/Parameters.*Gradients, AdamW state, best-validation copy.*Activations.*Activation gradients.*Batch inputs.*Largest buffer.*of 1\.00 GiB allowed per buffer/s);
    act(() => store.setState((s) => ({ webgpu: { ...s.webgpu, limits: { maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 } } })));
    expect(screen.getByRole('alert').textContent).toMatch(/this GPU allows 1\.0 KiB per buffer/);
    expect((screen.getByRole('button', { name: 'Start training' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('offers evaluation of an imported model only on its own vocabulary, and shows where its metrics came from', async () => {
    const { store } = await readyStore();
    const vocab = store.getState().datasetVocab!;
    const imported: RunRecord = {
      ...finishedRun('m', 'dti', 1000, 0.7),
      name: 'model (imported)',
      status: 'imported',
      hasModel: true,
      modelVocab: vocab,
      evaluations: [],
    };
    act(() => store.setState({ runs: [imported] }));
    renderApp(store);
    const button = screen.getByRole('button', { name: 'Evaluate on Built-in (small, seed 1)' }) as HTMLButtonElement;
    expect(button.disabled).toBe(false);

    act(() => store.setState({ runs: [{ ...imported, modelVocab: { size: vocab.size + 1, hash: 'x' } }] }));
    const refused = screen.getByRole('button', { name: 'Evaluate on Built-in (small, seed 1)' }) as HTMLButtonElement;
    expect(refused.disabled).toBe(true);
    expect(screen.getByTestId('evaluation').textContent).toMatch(/Trained on Built-in \(small, seed 1\), whose vocabulary .* differs .*different words/);

    const evaluation = { datasetName: 'Built-in (small, seed 1)', datasetPreset: 'small', at: Date.UTC(2025, 0, 2, 3, 4, 5), valid: { auc: 0.6, logLoss: 0.7, accuracy: 0.5, count: 9, ...calibration }, test: { auc: 0.61234, logLoss: 0.69, accuracy: 0.5, count: 10, ...calibration } };
    act(() => store.setState({ runs: [{ ...imported, evaluations: [evaluation] }] }));
    expect(screen.getByTestId('evaluated-test-auc').textContent).toBe('0.6123');
    expect(screen.getByTestId('evaluation-result').textContent).toMatch(/Evaluated on Built-in \(small, seed 1\) at .*2025/);
  });

  it('shows a run failed by a lost device with its reason and restarts it on a new device', async () => {
    const { store, deps } = await readyStore();
    renderApp(store);
    fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    expect((screen.getByRole('button', { name: 'Simulate a GPU device loss' }) as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Simulate a GPU device loss' }));
    act(() => deps.trainer.emit({ type: 'error', kind: 'device-lost', message: 'The GPU device was lost (destroyed).' }));
    expect(screen.getByTestId('run-error').textContent).toMatch(/failed \(device-lost\).*The GPU device was lost/);
    fireEvent.click(screen.getByRole('button', { name: 'Restart on a new device' }));
    expect(deps.trainer.commandTypes()).toEqual(['start', 'simulate-device-loss', 'start']);
    expect(store.getState().session.state).toBe('running');
  });

  it('pauses while hidden only when the box is ticked', async () => {
    const { store } = await readyStore();
    renderApp(store);
    const box = screen.getByLabelText(/Pause training while this page is hidden/) as HTMLInputElement;
    expect(box.checked).toBe(false);
    fireEvent.click(box);
    expect(store.getState().pauseWhenHidden).toBe(true);
  });
});

describe('URL hash binding', () => {
  it('writes the configuration into the hash and applies a pasted hash', async () => {
    const { store } = await readyStore('#k=4');
    window.history.replaceState(null, '', '#k=4');
    const unbind = bindUrlHash(store, window);
    expect(window.location.hash).toMatch(/k=4/);
    expect(window.location.hash).toMatch(/ds=small/);
    store.getState().setConfig({ k: 12 });
    expect(new URLSearchParams(window.location.hash.slice(1)).get('k')).toBe('12');
    window.location.hash = '#k=2&iso=window';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(store.getState().config.k).toBe(2);
    expect(store.getState().config.isolation).toBe('window');
    unbind();
  });
});
