import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng';
import { parseFiles } from './index';

// Live memory is measured after full collections, so garbage that the collector would reclaim does not count.
// Two: array buffer backing stores (the typed arrays' memory) are released one collection late.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
const liveBytes = () => {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
};

const TARGET_BYTES = 32 << 20;

/** A MovieLens-1M ratings.dat of about TARGET_BYTES: 20 000 users, 4 000 items, 1 MiB parts. */
function largeRatingsFile(): File {
  const rng = new Rng(11);
  const encoder = new TextEncoder();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  let time = 978_300_000;
  while (size < TARGET_BYTES) {
    const lines: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      time += rng.int(3);
      lines.push(`${1 + rng.int(20_000)}::${1 + rng.int(4_000)}::${1 + rng.int(5)}::${time}\n`);
    }
    const part = encoder.encode(lines.join(''));
    parts.push(part);
    size += part.length;
  }
  return new File(parts, 'ratings.dat');
}

describe('a large file parses in bounded memory', () => {
  it(`streams a ~${TARGET_BYTES >> 20} MB ratings file with live memory under 3x its size`, async () => {
    const file = largeRatingsFile();
    const mib = (bytes: number) => (bytes / (1 << 20)).toFixed(1);

    const start = performance.now();
    const timed = await parseFiles([file], { n: 10 });
    const seconds = (performance.now() - start) / 1000;
    expect(timed.stats.interactions).toBeGreaterThan(1_000_000);

    const baseline = liveBytes();
    let peakWhileReading = 0;
    let progressEvents = 0;
    const result = await parseFiles([file], { n: 10 }, (progress) => {
      progressEvents++;
      if (progress.phase === 'read') peakWhileReading = Math.max(peakWhileReading, liveBytes() - baseline);
    });
    const heldAfter = liveBytes() - baseline;
    console.log(
      `parse ${mib(file.size)} MiB (${result.stats.interactions} ratings, ${result.stats.users} users): ${seconds.toFixed(2)} s, ` +
        `${(file.size / (1 << 20) / seconds).toFixed(1)} MiB/s; live memory above baseline: peak while reading ${mib(peakWhileReading)} MiB, ` +
        `holding the result ${mib(heldAfter)} MiB (${progressEvents} progress events)`,
    );
    expect(progressEvents).toBeGreaterThanOrEqual(file.size / (1 << 20));
    expect(peakWhileReading).toBeLessThan(3 * file.size);
    expect(heldAfter).toBeLessThan(3 * file.size);
    expect(result.stats.interactions).toBe(timed.stats.interactions);
  });
});
