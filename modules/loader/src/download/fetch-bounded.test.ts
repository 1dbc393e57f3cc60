import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from '@edge-ml/testkit';
import { BodyTooLargeError, fetchBounded } from './fetch-bounded.js';

const blob = Buffer.alloc(100_000, 7);
let server: FaultServer;
let baseUrl: string;
beforeEach(async () => {
  server = new FaultServer(blob);
  baseUrl = await server.listen();
});
afterEach(() => server.close());

const signal = () => new AbortController().signal;

describe('fetchBounded', () => {
  it('returns a body within the limit', async () => {
    expect(await fetchBounded(`${baseUrl}/m.json`, { limitBytes: blob.length, signal: signal() })).toEqual({ statusCode: 200, body: blob });
  });

  it('refuses a declared Content-Length past the limit before reading the body', async () => {
    await expect(fetchBounded(`${baseUrl}/m.json`, { limitBytes: blob.length - 1, signal: signal() })).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it('cuts off an endless body without Content-Length at the limit', async () => {
    server.faults.push({ kind: 'endless' });
    await expect(fetchBounded(`${baseUrl}/m.json`, { limitBytes: 1_000_000, signal: signal() })).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it('answers an error status with its code and no body', async () => {
    server.faults.push({ kind: 'status', status: 503 });
    expect(await fetchBounded(`${baseUrl}/m.json`, { limitBytes: 10, signal: signal() })).toEqual({ statusCode: 503, body: Buffer.alloc(0) });
  });
});
