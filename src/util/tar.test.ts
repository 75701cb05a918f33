/** The archive is real tar: GNU tar lists and extracts it byte for byte. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from './rng';
import { tarArchive } from './tar';

describe('tarArchive', () => {
  it('is extracted by GNU tar into the same files, sizes on and off the 512-byte blocks', () => {
    const rng = new Rng(3);
    const files = [0, 1, 511, 512, 513, 5000].map((size, i) => ({
      name: `export/${i === 0 ? 'empty' : `file-${size}`}.bin`,
      bytes: Uint8Array.from({ length: size }, () => Math.floor(rng.next() * 256)),
    }));
    const dir = mkdtempSync(join(tmpdir(), 'dti-tar-'));
    try {
      writeFileSync(join(dir, 'a.tar'), tarArchive(files, 1_700_000_000));
      const listed = spawnSync('tar', ['-tvf', 'a.tar'], { cwd: dir, encoding: 'utf8' });
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout.trim().split('\n')).toHaveLength(files.length);
      const extracted = spawnSync('tar', ['-xf', 'a.tar'], { cwd: dir, encoding: 'utf8' });
      expect(extracted.status, extracted.stderr).toBe(0);
      for (const file of files) expect(Buffer.compare(readFileSync(join(dir, file.name)), Buffer.from(file.bytes))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses names that would leave the folder or not fit', () => {
    expect(() => tarArchive([{ name: '../x', bytes: new Uint8Array(1) }])).toThrow(/relative path/);
    expect(() => tarArchive([{ name: '/etc/x', bytes: new Uint8Array(1) }])).toThrow(/relative path/);
    expect(() => tarArchive([{ name: 'x'.repeat(101), bytes: new Uint8Array(1) }])).toThrow(/does not fit/);
  });
});
