import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from '@edge-ml/testkit';
import { fetchBounded } from '../src/download/fetch-bounded.js';
import { fetchDeltaManifest, PatchPathUnavailable } from '../src/download/fetch-by-patch.js';
import { downloadToFile } from '../src/download/http-download.js';
import { MAX_REDIRECTS } from '../src/download/redirect-policy.js';
import { DownloadStalledError, RedirectRefusedError, TransferError } from '../src/errors.js';

const body = randomBytes(400_000);
const sha256 = createHash('sha256').update(body).digest('hex');
/** Small windows keep the tests quick: 1,000 B/s over half a second. */
const stallRule = { minBytesPerSecond: 1_000, windowMs: 500 };
/** One byte every 100 ms: 10 B/s, reset of the idle timeout at every byte. */
const trickle = { kind: 'paced-after', bytes: 100_000, chunkBytes: 1, intervalMs: 100 } as const;
/** 4,000 bytes every 100 ms: 40 KB/s, slow for a test, 40 times the minimum. */
const steady = { kind: 'paced-after', bytes: 0, chunkBytes: 4_000, intervalMs: 100 } as const;

let server: FaultServer;
let baseUrl: string;
let partialPath: string;
beforeEach(async () => {
  server = new FaultServer(body);
  baseUrl = await server.listen();
  partialPath = path.join(await mkdtemp(path.join(tmpdir(), 'download-guards-')), 'package.partial');
});
afterEach(() => server.close());

const url = () => `${baseUrl}/models/package.zip?sv=2024&sig=SECRET`;
const signal = () => new AbortController().signal;

describe('the stall rule', () => {
  it('fails a trickling body with LOADER_DOWNLOAD_STALLED, keeps what arrived, and the next attempt resumes by Range', async () => {
    server.faults.push(trickle);
    const failure = await downloadToFile({ url: url(), partialPath, stallRule }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DownloadStalledError);
    expect(failure).toBeInstanceOf(TransferError);
    expect((failure as DownloadStalledError).code).toBe('LOADER_DOWNLOAD_STALLED');
    expect((failure as DownloadStalledError).retryable).toBe(true);
    expect((failure as Error).message).toMatch(/^the download stalled: \d+ bytes arrived in the last 0.5 s, under the minimum average of 1000 B\/s/);
    const kept = (await stat(partialPath)).size;
    expect(kept).toBeGreaterThanOrEqual(100_000);
    const result = await downloadToFile({ url: url(), partialPath, stallRule });
    expect(server.requests[1]).toMatchObject({ range: `bytes=${kept}-` });
    expect(result).toMatchObject({ sha256, resumedFromBytes: kept, transferredBytes: body.length - kept });
  });

  it('lets a slow but steady body finish: 40 KB/s under a minimum of 1 KB/s, over five windows', async () => {
    server.setBody(body.subarray(0, 100_000));
    server.faults.push(steady);
    const result = await downloadToFile({ url: url(), partialPath, stallRule });
    expect(result).toMatchObject({ sha256: createHash('sha256').update(body.subarray(0, 100_000)).digest('hex'), resumedFromBytes: 0 });
  });

  it('is off with a minimum of 0', async () => {
    server.setBody(body.subarray(0, 100_010));
    server.faults.push(trickle);
    const result = await downloadToFile({ url: url(), partialPath, stallRule: { minBytesPerSecond: 0, windowMs: 500 } });
    expect(result.sizeBytes).toBe(100_010);
  });

  it('applies to the in-memory fetches of the delta paths: manifest, chunk list and model byte ranges', async () => {
    server.faults.push(trickle);
    await expect(fetchBounded(url(), { limitBytes: body.length, signal: signal(), stallRule })).rejects.toBeInstanceOf(DownloadStalledError);
    server.faults.push({ ...trickle, bytes: 10 });
    await expect(fetchBounded(url(), { limitBytes: 1_000, headers: { range: 'bytes=1000-1999' }, signal: signal(), stallRule })).rejects.toBeInstanceOf(DownloadStalledError);
    // A stalled manifest is the link's problem: retried (a TransferError), not a reason to give up the delta path.
    server.faults.push(trickle);
    await expect(fetchDeltaManifest(url(), 'f'.repeat(64), { signal: signal(), stallRule })).rejects.toBeInstanceOf(DownloadStalledError);
    server.faults.push(steady);
    const range = await fetchBounded(url(), { limitBytes: 100_000, headers: { range: 'bytes=0-99999' }, signal: signal(), stallRule });
    expect(range.body.equals(body.subarray(0, 100_000))).toBe(true);
  });
});

describe('redirects', () => {
  const refusedFor = async (...locations: string[]) => {
    for (const location of locations) server.faults.push({ kind: 'redirect', location });
    const failure = await downloadToFile({ url: url(), partialPath }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RedirectRefusedError);
    expect((failure as RedirectRefusedError).code).toBe('LOADER_DOWNLOAD_REDIRECT_REFUSED');
    expect((failure as RedirectRefusedError).retryable).toBe(false);
    expect((failure as Error).message).not.toContain('SECRET');
    return (failure as RedirectRefusedError).reason;
  };

  it('refuses a redirect to file:// and to ftp://, without requesting anything more', async () => {
    expect(await refusedFor('file:///etc/passwd')).toBe('it points to a file: URL (only http and https are fetched)');
    expect(await refusedFor('ftp://127.0.0.1/package.zip')).toBe('it points to a ftp: URL (only http and https are fetched)');
    expect(server.requests).toHaveLength(2);
  });

  it('refuses a loop (a redirect back to a URL already requested) and a chain longer than it follows', async () => {
    expect(await refusedFor('/models/elsewhere.zip', url())).toBe(`it loops back to ${baseUrl}/models/package.zip`);
    expect(server.requests.map((request) => new URL(request.url, baseUrl).pathname)).toEqual(['/models/package.zip', '/models/elsewhere.zip']);
    const hops = Array.from({ length: MAX_REDIRECTS + 1 }, (_, index) => `/hop-${index}`);
    expect(await refusedFor(...hops)).toBe(`it is one more than the ${MAX_REDIRECTS} redirects in a row that are followed`);
  });

  it('follows a redirect to another host and resumes through it', async () => {
    const mirror = new FaultServer(body);
    const mirrorUrl = await mirror.listen();
    try {
      mirror.faults.push({ kind: 'reset-after', bytes: 150_000 });
      server.faults.push({ kind: 'redirect', location: `${mirrorUrl}/mirror/package.zip?token=1` }, { kind: 'redirect', location: `${mirrorUrl}/mirror/package.zip?token=2`, status: 307 });
      await expect(downloadToFile({ url: url(), partialPath })).rejects.toBeInstanceOf(TransferError);
      const kept = (await stat(partialPath)).size;
      const result = await downloadToFile({ url: url(), partialPath });
      expect(result).toMatchObject({ sha256, resumedFromBytes: kept });
      expect(mirror.requests[1]).toMatchObject({ url: '/mirror/package.zip?token=2', range: `bytes=${kept}-`, ifMatch: expect.stringMatching(/^"0x/) });
    } finally {
      await mirror.close();
    }
  });

  it('makes a delta path unavailable when its manifest or a byte range redirects where the loader does not follow', async () => {
    server.faults.push({ kind: 'redirect', location: 'file:///etc/passwd' });
    const failure = await fetchDeltaManifest(url(), 'f'.repeat(64), { signal: signal() }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PatchPathUnavailable);
    expect((failure as Error).message).toBe("the delta manifest's redirect was refused: it points to a file: URL (only http and https are fetched)");
    server.faults.push({ kind: 'redirect', location: url() });
    await expect(fetchBounded(url(), { limitBytes: 1_000, headers: { range: 'bytes=0-999' }, signal: signal() })).rejects.toBeInstanceOf(RedirectRefusedError);
  });
});
