/** Smoke test of the headless runner (`npm run experiment`): a tiny SW-vs-DTI comparison end to end, as a user runs it. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { windows1251 } from '../data/test-fixtures';

describe('npm run experiment', () => {
  it('trains SW and DTI on the built-in data and writes a JSON result with curves and metrics', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'dti-experiment-')), 'result.json');
    const args = ['--dataset', 'small', '--n', '4', '--k', '5', '--d', '16', '--heads', '2', '--layers', '1', '--dff', '32'];
    execFileSync('bash', ['scripts/with-gpu.sh', 'scripts/experiment.ts', ...args, '--steps', '3', '--batch', '10', '--compare', '--quiet', '--out', out], {
      stdio: 'pipe',
      timeout: 240_000,
    });
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.runs).toHaveLength(2);
    expect(result.runs.map((r: { config: { paradigm: string; batchTargets: number } }) => [r.config.paradigm, r.config.batchTargets])).toEqual([
      ['sw', 10],
      ['dti', 10],
    ]);
    for (const run of result.runs) {
      expect(run.steps).toBe(3);
      expect(run.curve).toHaveLength(3);
      expect(run.test.count).toBeGreaterThan(50);
      expect(run.test.auc).toBeGreaterThan(0);
      expect(run.tokensProcessed).toBeGreaterThan(0);
    }
    // The same targets per step: SW's 10 prompts of one target, DTI's at least 4 prompts of up to 5 (partial prompts
    // at the ends of histories hold fewer).
    expect(result.runs[0].targetsProcessed).toBe(30);
    expect(result.runs[1].targetsProcessed).toBeGreaterThanOrEqual(30);
    expect(result.runs[1].targetsProcessed).toBeLessThanOrEqual(60);
    // The run says why it ended, what it kept, and how it stands against the baselines on the same test targets.
    for (const run of result.runs) {
      expect(run.stopReason).toBe('max-steps');
      expect(run.stopMessage).toMatch(/step limit/);
      expect(run.testPredictions).toHaveLength(run.test.count);
      expect(run.baselines.count).toBe(run.test.count);
      expect(run.testAucInterval.low).toBeLessThanOrEqual(run.test.auc);
      expect(run.warnings.some((w: string) => /optimizer steps/.test(w))).toBe(true);
    }
    // The rows match: DTI is compared with SW.
    expect(result.summary.map((row: { label: string; speedUp: number }) => [row.label, Number.isFinite(row.speedUp)])).toEqual([
      ['SW strict rope', true],
      ['DTI k=5 strict rope', true],
    ]);
  });

  /** The runner's exit code and what it printed, for a run that may fail. */
  const runner = (args: string[]) => {
    const result = spawnSync('bash', ['scripts/with-gpu.sh', 'scripts/experiment.ts', ...args], { encoding: 'utf8', timeout: 120_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  it('says what was wrong in one paragraph, without a stack trace, and exits 2', () => {
    const missing = join(tmpdir(), 'no-such-ratings.csv');
    const cases: [string[], RegExp][] = [
      [['--nonsense', '1'], /^experiment: unknown option --nonsense; known: .*--dataset/],
      [['--click-at-least', 'abc'], /^experiment: --click-at-least expects a number \(got "abc"\)/],
      [['--n'], /^experiment: --n expects a number/],
      [['--file', missing], new RegExp(`^experiment: ${missing.replaceAll('.', '\\.')}: no such file`)],
      [['--dataset', 'huge'], /^experiment: --dataset expects one of small, medium, large/],
      [['--n', '3', '--n', '4'], /^experiment: --n is given twice/],
      [['--text-encoding', 'latin9'], /^experiment: --text-encoding expects one of detect, utf-8, windows-1252, .*, euc-kr \(got "latin9"\)/],
      [['--text-encoding', 'koi8-r'], /^experiment: --text-encoding is for --file\(s\): the built-in data is generated/],
    ];
    for (const [args, message] of cases) {
      const { status, stderr } = runner(args);
      expect(stderr.trim(), args.join(' ')).toMatch(message);
      expect(stderr, args.join(' ')).not.toMatch(/\n\s+at /);
      expect(status, args.join(' ')).toBe(2);
    }
  });

  it('names the data file in its problem, as the page does, and takes repeated --file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dti-runner-data-'));
    const ratings = join(dir, 'ratings, v2.csv'); // a comma in the path: only --file can name it
    writeFileSync(ratings, 'userId,movieId,rating,timestamp\n1,10,4,100\n1,11,x,101\n');
    const { status, stderr } = runner(['--file', ratings, '--files', `${join(dir, 'movies.csv')},`]);
    expect(status).toBe(2);
    expect(stderr.trim()).toMatch(/^experiment: .*movies\.csv: no such file/);
    const parsed = runner(['--file', ratings, '--n', '1']);
    expect(parsed.status).toBe(2);
    expect(parsed.stderr).toMatch(/ratings, v2\.csv/);
    expect(parsed.stderr).not.toMatch(/\n\s+at /);
  });

  it('exports a run\'s prompts for PyTorch (--export --no-train) and scores a saved model on the data (--evaluate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dti-runner-export-'));
    const args = ['--dataset', 'small', '--n', '4', '--k', '5', '--d', '16', '--heads', '2', '--layers', '1', '--dff', '32'];
    const exported = runner([...args, '--export', join(dir, 'run'), '--no-train']);
    expect(exported.stderr).toBe('');
    expect(exported.stdout).toMatch(/exported to .*run: 4 shards, [\d.]+ MB \(train \d+ targets, validation \d+, test \d+\); dataset SHA-256 [0-9a-f]{16}…/);
    const manifest = JSON.parse(readFileSync(join(dir, 'run', 'manifest.json'), 'utf8'));
    expect([manifest.trainConfig.n, manifest.trainConfig.k, manifest.dataset.source]).toEqual([4, 5, 'the built-in small preset']);

    const { initParams } = await import('../model/params');
    const { writeSafetensors } = await import('../model/safetensors');
    const config = manifest.trainConfig;
    const model = { config, params: initParams(manifest.model), vocabSize: manifest.model.vocabSize, maxSeqLen: manifest.model.maxSeqLen };
    writeFileSync(join(dir, 'model.safetensors'), writeSafetensors({ ...model, extra: { vocab: JSON.stringify(manifest.vocabulary) } }));
    const scored = runner(['--dataset', 'small', '--evaluate', join(dir, 'model.safetensors')]);
    expect(scored.stderr).toBe('');
    expect(scored.stdout).toMatch(/model\.safetensors \(n = 4, strict, rope, item text both\)\n  validation: AUC 0\.\d{6} LogLoss [\d.]+ on \d+ targets\n  test: AUC 0\.\d{6}/);
    // Another dataset's vocabulary would give the ids other meanings: refused, and why.
    const other = runner(['--dataset', 'medium', '--evaluate', join(dir, 'model.safetensors')]);
    expect(other.status).toBe(2);
    expect(other.stderr.trim()).toMatch(/^experiment: .*model\.safetensors was trained on data whose vocabulary differs from Built-in \(medium/);
    for (const [extra, message] of [
      [['--no-train'], /^experiment: --no-train goes with --export DIR/],
      [['--export', join(dir, 'x'), '--compare'], /^experiment: --export hands over one run/],
    ] as const) {
      const refused = runner([...args, ...extra]);
      expect(refused.status).toBe(2);
      expect(refused.stderr.trim()).toMatch(message);
    }
  });

  it('prints its usage for --help', () => {
    const { status, stdout } = runner(['--help']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^npm run experiment -- \[data\]/);
    expect(stdout).toMatch(/--file PATH/);
    expect(stdout).toMatch(/--text-encoding NAME .*: detect [^]*?\swindows-1251\s[^]*?\sshift_jis\s/);
  });

  it('reads files in the text encoding --text-encoding names, says which it read them in, and prints the guess note without it', () => {
    const films = join(mkdtempSync(join(tmpdir(), 'dti-runner-encoding-')), 'films.csv');
    const rows = ['user,item,rating,timestamp,title'];
    for (let u = 0; u < 6; u++) for (let t = 0; t < 20; t++) rows.push(`u${u},i${t % 10},${1 + ((u + t) % 5)},${1000 + t},Сталкер ${t % 10}`);
    writeFileSync(films, windows1251(rows.join('\n')));
    const tiny = ['--file', films, '--n', '2', '--k', '2', '--d', '16', '--heads', '2', '--layers', '1', '--dff', '32', '--steps', '1', '--batch', '4', '--quiet'];
    const chosen = runner([...tiny, '--text-encoding', 'windows-1251']);
    expect(chosen.status, chosen.stderr).toBe(0);
    expect(chosen.stdout).toMatch(/^text encoding: Windows-1251, as chosen\ndataset: CSV: films\.csv/m);
    expect(chosen.stdout).not.toMatch(/^note:/m);
    const detected = runner(tiny);
    expect(detected.status, detected.stderr).toBe(0);
    expect(detected.stdout).toMatch(/^text encoding: detected: films\.csv — Windows-1252, a guess: its text is not valid UTF-8\n/m);
    expect(detected.stdout).toMatch(/^note: films\.csv: read as Windows-1252 .*--text-encoding in the runner/m);
  });
});
