/**
 * The lab end to end, in headless Chromium with WebGPU, against the production build. Screenshots of the main views
 * are written to e2e/screenshots/ (committed, linked from the README).
 */
import { readFileSync } from 'node:fs';
import { type Page, expect, test } from '@playwright/test';

const SHOTS = 'e2e/screenshots';
/** A tiny model on the small preset: a few steps finish in minutes even on software WebGPU. */
const TINY_RUN = '#ds=small&p=dti&n=10&k=10&iso=strict&pe=rope&d=32&h=2&l=1&ff=64&lr=0.003&bs=8&ep=1&steps=10&eval=5&seed=1';

async function openLab(page: Page, hash = '') {
  await page.goto(`./${hash}`);
  await expect(page.getByTestId('dataset-summary')).toContainText('Built-in (small');
  await expect(page.getByTestId('prompt-tokens')).toBeVisible();
}

/** The mask picture's pixels, to tell two masks apart. */
async function maskPixels(page: Page): Promise<string> {
  return page.getByTestId('mask-canvas').evaluate((canvas: HTMLCanvasElement) => canvas.toDataURL());
}

test('opens with the built-in dataset, a real prompt and its mask', async ({ page }) => {
  await openLab(page);
  await expect(page.getByRole('heading', { name: 'DTI Lab' })).toBeVisible();
  await expect(page.getByTestId('dataset-summary')).toContainText('Users');
  await expect(page.getByTestId('mask-stats')).toContainText('skipped');
  // The whole configuration is in the link.
  expect(new URL(page.url()).hash).toContain('k=10');
  await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });
});

test('changing k redraws the mask at once; hovering a cell explains it', async ({ page }) => {
  await openLab(page, '#n=4&k=3&iso=window');
  const before = await maskPixels(page);
  const statsBefore = await page.getByTestId('mask-stats').textContent();
  await page.getByLabel('k (targets per prompt)').fill('8');
  await expect(page.getByTestId('prompt-tokens').locator('.interaction.target')).toHaveCount(8);
  await expect(page.getByTestId('mask-stats')).not.toHaveText(statsBefore ?? '');
  expect(await maskPixels(page)).not.toBe(before);
  expect(new URL(page.url()).hash).toContain('k=8');

  const canvas = page.getByTestId('mask-canvas');
  const box = (await canvas.boundingBox())!;
  // A cell low in the picture and far left: a late target's query against an early context key.
  await canvas.hover({ position: { x: 2, y: box.height - 2 } });
  await expect(page.getByTestId('mask-hover')).toContainText('blocked: interaction');
  await page.getByLabel('Receptive field of').selectOption({ label: 'target 8' });
  await expect(page.getByTestId('field-summary')).toContainText('hidden-state leakage');
  await page.locator('#mask-view').screenshot({ path: `${SHOTS}/mask-window-leakage.png` });
  await page.getByLabel('Isolation level').selectOption('strict');
  await expect(page.getByTestId('field-summary')).toContainText('no leakage');
  await page.locator('#mask-view').screenshot({ path: `${SHOTS}/mask-strict.png` });
});

test('a malformed upload shows its error in place and the previous dataset stays', async ({ page }) => {
  await openLab(page);
  await page.getByLabel('Upload data files').setInputFiles({
    name: 'ratings.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('user,item,rating\nu1,i1,5\nu1,i2\n"unclosed,quote\n'),
  });
  const error = page.getByTestId('dataset-error');
  await expect(error).toBeVisible();
  await expect(error).toContainText('ratings.csv');
  await expect(error).toContainText('previous dataset (Built-in (small, seed 1)) is still loaded');
  await expect(page.getByTestId('dataset-summary')).toContainText('Built-in (small');
  await expect(page.getByTestId('prompt-tokens')).toBeVisible();
  await page.locator('#dataset').screenshot({ path: `${SHOTS}/upload-error.png` });
});

test('trains a tiny model, shows its curves, keeps the run across a reload and exports it', async ({ page }) => {
  await openLab(page, TINY_RUN);
  await page.getByRole('button', { name: 'Start training' }).click();
  // The status line reports the device, data preparation and shader compilation while they happen.
  await expect(page.getByTestId('training-status')).toContainText(/Opening the GPU|Preparing data|Compiling shaders|Training/);
  // The page stays usable while the worker trains: the views follow a new k at once.
  await page.getByLabel('k (targets per prompt)').fill('4');
  await expect(page.getByTestId('prompt-tokens').locator('.interaction.target')).toHaveCount(4);
  await expect(page.getByTestId('loss-chart').locator('.recharts-line path').first()).toBeVisible({ timeout: 8 * 60_000 });
  await expect(page.getByTestId('valid-auc')).toHaveText(/^0\.\d{4}$/, { timeout: 8 * 60_000 });
  await expect(page.getByTestId('test-metrics')).toContainText('targets', { timeout: 8 * 60_000 });
  await page.locator('#training').screenshot({ path: `${SHOTS}/training.png` });

  await page.reload();
  const table = page.getByTestId('runs-table');
  await expect(table).toContainText('DTI k=10');
  await expect(table.getByRole('row').nth(1)).toContainText('done');
  await expect(page.getByTestId('valid-auc')).toHaveText(/^0\.\d{4}$/);

  const csvDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export runs CSV' }).click();
  const csv = readFileSync(await (await csvDownload).path(), 'utf8');
  expect(csv.split('\n')[0]).toMatch(/^run_id,name,created,status/);
  expect(csv).toMatch(/,done,"Built-in \(small, seed 1\)",small,dti,10,10,strict,rope,32,2,1,64,/);

  const jsonDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export JSON' }).click();
  const json = JSON.parse(readFileSync(await (await jsonDownload).path(), 'utf8'));
  expect(json.runs[0].steps.length).toBe(10);
  expect(json.runs[0].result.test.count).toBeGreaterThan(0);

  const modelDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: /Download the model of/ }).click();
  const model = readFileSync(await (await modelDownload).path());
  const headerLength = Number(model.readBigUInt64LE(0));
  const header = JSON.parse(model.subarray(8, 8 + headerLength).toString('utf8'));
  expect(JSON.parse(header.__metadata__.train_config).model.dModel).toBe(32);
  expect(header.wte.dtype).toBe('F32');

  await page.locator('#runs').screenshot({ path: `${SHOTS}/runs.png` });
});

test('trains SW then DTI for one epoch each and sets them side by side', async ({ page }) => {
  // One whole epoch each (the comparison ignores max steps): larger batches keep SW's many prompts to ~100 steps.
  await openLab(page, TINY_RUN.replace('bs=8', 'bs=32').replace('eval=5', 'eval=0'));
  await page.getByRole('button', { name: 'Train SW, then DTI (compare)' }).click();
  const comparison = page.getByTestId('comparison');
  await expect(comparison.getByRole('row')).toHaveCount(3, { timeout: 8 * 60_000 });
  const dtiRow = comparison.getByRole('row', { name: /DTI k=10/ });
  // Both runs finished: the DTI row has a speed-up against the SW baseline.
  await expect(dtiRow).toContainText(/\d+\.\d{2}×/, { timeout: 8 * 60_000 });
  await expect(comparison.getByRole('row', { name: /SW/ })).toContainText('1.00×');
  await expect(page.getByTestId('compare-chart')).toBeVisible();
  await page.locator('#runs').screenshot({ path: `${SHOTS}/compare.png` });
});

test('explain mode walks from SW to DTI on the real views', async ({ page }) => {
  await openLab(page, '#n=4&k=6');
  await page.getByRole('button', { name: /Explain DTI/ }).click();
  const walk = page.getByTestId('explain');
  await expect(walk).toContainText('step 1 of 7');
  await page.getByRole('button', { name: 'Next →' }).click();
  await expect(walk).toContainText(/encoded about [\d.]+ times/);
  await page.getByRole('button', { name: /Step 5: Hidden-state leakage/ }).click();
  await expect(walk).toContainText('tokens from outside its window reach it');
  await page.screenshot({ path: `${SHOTS}/explain-leakage.png` });
  await walk.getByRole('button', { name: 'strict' }).click();
  await expect(walk).toContainText('nothing outside the window reaches it');
  await page.getByRole('button', { name: /Leave the walk/ }).click();
  await expect(page.getByRole('button', { name: /Resume the DTI walk \(step 5\)/ })).toBeVisible();
});

test('works in a narrow window', async ({ page }) => {
  await page.setViewportSize({ width: 420, height: 860 });
  await openLab(page);
  await page.getByLabel('n (context)').fill('6');
  await expect(page.getByTestId('mask-stats')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/narrow.png` });
});

test('without WebGPU the page says so and still shows data, prompts and masks', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await openLab(page);
  await expect(page.getByTestId('no-webgpu')).toContainText('WebGPU is not available');
  await expect(page.getByTestId('no-webgpu')).toContainText('chrome://flags/#enable-unsafe-webgpu');
  await expect(page.getByTestId('mask-stats')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Start training' })).toBeDisabled();
  await page.screenshot({ path: `${SHOTS}/no-webgpu.png` });
});
