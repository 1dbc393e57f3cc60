import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadToFile } from '../src/download/http-download.js';
import { AccessDeniedError, InvalidPackageError, NotFoundError, SizeMismatchError, TransferError } from '../src/errors.js';
import { FaultServer } from '@edge-ml/testkit';

const body = randomBytes(3 * 1024 * 1024 + 17);
const sha256 = createHash('sha256').update(body).digest('hex');
let server: FaultServer;
let baseUrl: string;
let partialPath: string;

beforeEach(async () => {
  server = new FaultServer(body);
  baseUrl = await server.listen();
  partialPath = path.join(await mkdtemp(path.join(tmpdir(), 'download-')), 'package.partial');
});
afterEach(() => server.close());

const url = (sig = 'one') => `${baseUrl}/models/package.zip?sv=2024&sig=${sig}`;

describe('downloadToFile', () => {
  it('streams the blob to disk and hashes it on the way', async () => {
    const result = await downloadToFile({ url: url(), partialPath, expectedSizeBytes: body.length });
    expect(result).toMatchObject({ sizeBytes: body.length, sha256, transferredBytes: body.length, resumedFromBytes: 0 });
    expect(result.md5).toBe(createHash('md5').update(body).digest('hex'));
    // Buffer.equals: a deep toEqual walks 3 MiB index by index and takes tens of seconds on a loaded machine.
    expect((await readFile(partialPath)).equals(body)).toBe(true);
  });

  it('resumes with Range and If-Match after a connection reset, fetching only the missing bytes', async () => {
    server.faults.push({ kind: 'reset-after', bytes: 1_000_000 });
    await expect(downloadToFile({ url: url(), partialPath })).rejects.toBeInstanceOf(TransferError);
    const kept = (await stat(partialPath)).size;
    expect(kept).toBeGreaterThan(0);
    const result = await downloadToFile({ url: url(), partialPath });
    expect(server.requests[1]).toMatchObject({ range: `bytes=${kept}-`, ifMatch: expect.stringMatching(/^"0x/) });
    expect(result).toMatchObject({ sha256, resumedFromBytes: kept, transferredBytes: body.length - kept });
  });

  it('keeps the bytes when only the SAS token changed (a new URL for the same blob)', async () => {
    server.faults.push({ kind: 'reset-after', bytes: 500_000 });
    await downloadToFile({ url: url('old'), partialPath }).catch(() => undefined);
    const result = await downloadToFile({ url: url('renewed'), partialPath });
    expect(result.resumedFromBytes).toBeGreaterThan(0);
    expect(result.sha256).toBe(sha256);
  });

  it('starts over cleanly when the blob changed between attempts (412)', async () => {
    server.faults.push({ kind: 'reset-after', bytes: 700_000 });
    await downloadToFile({ url: url(), partialPath }).catch(() => undefined);
    const changed = randomBytes(body.length);
    server.setBody(changed);
    const result = await downloadToFile({ url: url(), partialPath });
    expect(result.sha256).toBe(createHash('sha256').update(changed).digest('hex'));
    expect(result.resumedFromBytes).toBe(0);
  });

  it('treats a body that ends early as a retryable interruption and resumes it', async () => {
    server.faults.push({ kind: 'truncate-after', bytes: 2_000_000 });
    await expect(downloadToFile({ url: url(), partialPath })).rejects.toBeInstanceOf(TransferError);
    expect((await downloadToFile({ url: url(), partialPath })).sha256).toBe(sha256);
  });

  it('gives up on a stalled body after the idle timeout, keeping what arrived', async () => {
    server.faults.push({ kind: 'stall-after', bytes: 300_000 });
    await expect(downloadToFile({ url: url(), partialPath, idleTimeoutMs: 300 })).rejects.toBeInstanceOf(TransferError);
    expect((await stat(partialPath)).size).toBeGreaterThanOrEqual(300_000);
  });

  it('reports wrong bytes through the hash, for the caller to reject', async () => {
    server.faults.push({ kind: 'corrupt' });
    expect((await downloadToFile({ url: url(), partialPath })).sha256).not.toBe(sha256);
  });

  it('maps 403 to an expired SAS and 404 to a missing package, and a wrong size to its own error', async () => {
    server.faults.push({ kind: 'status', status: 403 });
    await expect(downloadToFile({ url: url(), partialPath })).rejects.toBeInstanceOf(AccessDeniedError);
    server.faults.push({ kind: 'status', status: 404 });
    await expect(downloadToFile({ url: url(), partialPath })).rejects.toBeInstanceOf(NotFoundError);
    await expect(downloadToFile({ url: url(), partialPath, expectedSizeBytes: 10 })).rejects.toBeInstanceOf(SizeMismatchError);
  });

  it('caps the bandwidth when asked', async () => {
    const small = randomBytes(200_000);
    server.setBody(small);
    const started = performance.now();
    await downloadToFile({ url: url(), partialPath, maxBytesPerSecond: 400_000 });
    expect(performance.now() - started).toBeGreaterThan(350);
  });

  describe('a server that sends more than it declares', () => {
    const largestWrite = () => {
      let largest = 0;
      return { onProgress: (bytes: number) => void (largest = Math.max(largest, bytes)), largest: () => largest };
    };

    it('stops an endless body without Content-Length at the desired size: LOADER_SIZE_MISMATCH, nothing kept', async () => {
      server.faults.push({ kind: 'endless' });
      const progress = largestWrite();
      const failure = await downloadToFile({ url: url(), partialPath, expectedSizeBytes: body.length, onProgress: progress.onProgress }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(SizeMismatchError);
      expect((failure as Error).message).toBe(`the package runs past the ${body.length} bytes the desired properties declare; the download stopped there`);
      expect(progress.largest()).toBeLessThanOrEqual(body.length);
      expect(await stat(partialPath).catch(() => undefined)).toBeUndefined();
      console.log(`endless body, desired ${body.length} bytes: ${progress.largest()} bytes written, ${server.bytesSent} sent by the server before the client hung up`);
    });

    it('stops an endless body of undeclared size at maxSizeBytes: LOADER_PACKAGE_INVALID', async () => {
      server.faults.push({ kind: 'endless' });
      const progress = largestWrite();
      const failure = await downloadToFile({ url: url(), partialPath, maxSizeBytes: 5_000_000, onProgress: progress.onProgress }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(InvalidPackageError);
      expect(progress.largest()).toBeLessThanOrEqual(5_000_000);
      expect(await stat(partialPath).catch(() => undefined)).toBeUndefined();
    });

    it('never takes more than Content-Length from a body that runs past it', async () => {
      server.faults.push({ kind: 'longer-than-declared', extraBytes: 2_000_000 });
      const progress = largestWrite();
      // Node's parser stops at Content-Length and calls the bytes after it a parse error: a retryable interruption.
      await expect(downloadToFile({ url: url(), partialPath, onProgress: progress.onProgress })).rejects.toBeInstanceOf(TransferError);
      expect(progress.largest()).toBeLessThanOrEqual(body.length);
      expect((await stat(partialPath).catch(() => ({ size: 0 }))).size).toBeLessThanOrEqual(body.length);
      expect((await downloadToFile({ url: url(), partialPath })).sha256).toBe(sha256);
    });
  });
});
