/** Smoke test of the headless runner (`npm run experiment`): a tiny SW-vs-DTI comparison end to end, as a user runs it. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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

  it('rejects an unknown option with the list of known ones', () => {
    expect(() => execFileSync('bash', ['scripts/with-gpu.sh', 'scripts/experiment.ts', '--nonsense', '1'], { stdio: 'pipe', timeout: 120_000 })).toThrow(
      /unknown option --nonsense; known: .*--dataset/s,
    );
  });
});
