import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from '@edge-ml/testkit';
import { DownloadStalledError, TransferError } from '../errors.js';
import { PatchPathUnavailable } from './fetch-by-patch.js';
import { fetchRange, forEachParallel, RangeStage } from './fetch-range.js';

const blob = Buffer.from(Array.from({ length: 10_000 }, (_, index) => index % 251));
let server: FaultServer;
let url: string;
beforeEach(async () => {
  server = new FaultServer(blob);
  url = `${await server.listen()}/blob`;
});
afterEach(() => server.close());
const signal = () => new AbortController().signal;

describe('fetchRange', () => {
  it('returns exactly the bytes of the range, asked for with a Range header', async () => {
    expect(await fetchRange(url, { start: 100, end: 300 }, 'model', { signal: signal() })).toEqual(blob.subarray(100, 300));
    expect(server.requests.at(-1)?.range).toBe('bytes=100-299');
  });

  it('takes a 200 only for a list that is the whole blob', async () => {
    server.faults.push({ kind: 'endless' });
    await expect(fetchRange(url, { start: 0, end: blob.length }, 'model', { signal: signal() })).rejects.toBeInstanceOf(PatchPathUnavailable);
    expect(await fetchRange(`${url}?whole`, { start: 0, end: blob.length }, 'chunk list', { signal: signal() }, true)).toEqual(blob);
  });

  it('makes the chunk path unavailable on another status or a body of another length, and retries later on 5xx or a broken link', async () => {
    server.faults.push({ kind: 'status', status: 404 });
    await expect(fetchRange(url, { start: 0, end: 10 }, 'model', { signal: signal() })).rejects.toBeInstanceOf(PatchPathUnavailable);
    // A range past the end is cut short by the server.
    await expect(fetchRange(url, { start: 9_990, end: 10_010 }, 'model', { signal: signal() })).rejects.toThrow(/sent 10 bytes for model bytes 9990-10010/);
    server.faults.push({ kind: 'status', status: 503 });
    await expect(fetchRange(url, { start: 0, end: 10 }, 'model', { signal: signal() })).rejects.toBeInstanceOf(TransferError);
    server.faults.push({ kind: 'reset-after', bytes: 5 });
    await expect(fetchRange(url, { start: 0, end: 1000 }, 'model', { signal: signal() })).rejects.toBeInstanceOf(TransferError);
  });
});

describe('fetchRange under the transfer guards', () => {
  it('keeps a stall a stall (retried later), and makes a refused redirect a reason to take the package', async () => {
    server.faults.push({ kind: 'paced-after', bytes: 10, chunkBytes: 1, intervalMs: 100 });
    await expect(fetchRange(url, { start: 0, end: 5_000 }, 'model', { signal: signal(), stallRule: { minBytesPerSecond: 1_000, windowMs: 300 } })).rejects.toBeInstanceOf(DownloadStalledError);
    server.faults.push({ kind: 'redirect', location: 'file:///etc/passwd' });
    const refused = await fetchRange(url, { start: 0, end: 10 }, 'block hashes', { signal: signal() }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PatchPathUnavailable);
    expect((refused as Error).message).toBe('the redirect for block hashes bytes 0-10 was refused: it points to a file: URL (only http and https are fetched)');
  });
});

describe('RangeStage', () => {
  it('gives back a stored range, and nothing for a range not stored whole', async () => {
    const directory = path.join(await mkdtemp(path.join(tmpdir(), 'range-stage-')), 'chunks');
    const stage = new RangeStage(directory);
    await stage.store('model-', { start: 10, end: 14 }, Buffer.from('abcd'));
    await writeFile(path.join(directory, 'model-20-30'), 'short');
    const again = new RangeStage(directory);
    expect(await again.read('model-', { start: 10, end: 14 })).toEqual(Buffer.from('abcd'));
    expect(await again.read('hashes-', { start: 10, end: 14 })).toBeUndefined();
    expect(await again.read('model-', { start: 20, end: 30 })).toBeUndefined();
    expect(await again.read('model-', { start: 0, end: 4 })).toBeUndefined();
  });
});

describe('forEachParallel', () => {
  it('runs at most `parallelism` items at once and starts none after a failure', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const run = forEachParallel([1, 2, 3, 4, 5, 6, 7, 8], 2, async (item) => {
      started.push(item);
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
      if (item === 3) throw new Error('three');
    });
    await expect(run).rejects.toThrow('three');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(most).toBe(2);
    expect(started).not.toContain(6);
  });

  it('rejects only once the items already running have finished: nothing of the run goes on after it', async () => {
    const finished: number[] = [];
    const run = forEachParallel([1, 2], 2, async (item) => {
      if (item === 1) throw new Error('one');
      await new Promise((resolve) => setTimeout(resolve, 30));
      finished.push(item);
    });
    await expect(run).rejects.toThrow('one');
    expect(finished).toEqual([2]);
  });
});
