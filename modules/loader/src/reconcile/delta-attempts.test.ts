import { describe, expect, it } from 'vitest';
import { EntryStateSchema } from '@edge-ml/contracts';
import { PatchPathUnavailable } from '../download/fetch-by-patch.js';
import { DiskFullError, DownloadStalledError, TransferError } from '../errors.js';
import { DELTA_ATTEMPT_LIMIT, deltaAttemptsOf, isGivenUp, judgeDeltaFailure } from './delta-attempts.js';

const networkError = (code: string) => Object.assign(new Error(code), { code });
const connectTimeout = () => Object.assign(new Error("Timeout awaiting 'connect' for 30000ms"), { name: 'TimeoutError', code: 'ETIMEDOUT', event: 'connect' });

describe('judgeDeltaFailure', () => {
  it('gives a path up at once when it does not verify, or fails in a way the loader did not expect', () => {
    expect(judgeDeltaFailure(new PatchPathUnavailable('the chunk list is corrupt'), 1, false)).toEqual({ action: 'give-up', reason: 'the chunk list is corrupt' });
    expect(judgeDeltaFailure(new RangeError('offset is out of bounds'), 1, false)).toEqual({ action: 'give-up', reason: 'it failed unexpectedly: offset is out of bounds' });
  });

  it('retries a failure on the delta blobs, counted, until the attempt that reaches the limit', () => {
    const unavailable = new TransferError('HTTP 503 for model bytes 0-256');
    expect(DELTA_ATTEMPT_LIMIT).toBe(3);
    expect(judgeDeltaFailure(unavailable, 1, false)).toEqual({ action: 'retry', counted: true });
    expect(judgeDeltaFailure(unavailable, 2, false)).toEqual({ action: 'retry', counted: true });
    expect(judgeDeltaFailure(unavailable, 3, false)).toEqual({ action: 'give-up', reason: '3 attempts in a row failed on its blobs; the last: the download was interrupted: HTTP 503 for model bytes 0-256' });
    expect(judgeDeltaFailure(new DownloadStalledError(10, 300_000, 64), 3, false)).toMatchObject({ action: 'give-up' });
    // A body cut off after the server answered counts: the server was reached.
    expect(judgeDeltaFailure(new TransferError('socket hang up', { cause: networkError('ECONNRESET') }), 1, false)).toEqual({ action: 'retry', counted: true });
  });

  it('does not count what says nothing of the delta blobs: no server reached, a full disk, a cancelled attempt', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']) {
      expect(judgeDeltaFailure(new TransferError(code, { cause: networkError(code) }), 3, false), code).toEqual({ action: 'retry', counted: false });
    }
    expect(judgeDeltaFailure(new TransferError('timeout', { cause: connectTimeout() }), 3, false)).toEqual({ action: 'retry', counted: false });
    expect(judgeDeltaFailure(new DiskFullError(100, 10), 3, false)).toEqual({ action: 'retry', counted: false });
    expect(judgeDeltaFailure(networkError('ENOSPC'), 3, false)).toEqual({ action: 'retry', counted: false });
    expect(judgeDeltaFailure(new Error('desired state changed'), 3, true)).toEqual({ action: 'retry', counted: false });
  });
});

describe('deltaAttemptsOf', () => {
  it("counts for the entry's target only: another target starts from none", () => {
    const entry = EntryStateSchema.parse({ deltaAttempts: { targetKey: 'a', chunks: 3 } });
    expect(deltaAttemptsOf(entry, 'a')).toEqual({ targetKey: 'a', manifest: 0, patch: 0, chunks: 3 });
    expect(isGivenUp(deltaAttemptsOf(entry, 'a'), 'chunks')).toBe(true);
    expect(isGivenUp(deltaAttemptsOf(entry, 'a'), 'patch')).toBe(false);
    expect(deltaAttemptsOf(entry, 'b')).toEqual({ targetKey: 'b', manifest: 0, patch: 0, chunks: 0 });
    expect(deltaAttemptsOf(EntryStateSchema.parse({}), 'a')).toEqual({ targetKey: 'a', manifest: 0, patch: 0, chunks: 0 });
  });
});
