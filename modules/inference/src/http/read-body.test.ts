import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BodyIncompleteError, BodyTooLargeError, bodyReservationBytes, readBodyIntoOneBuffer } from './read-body.js';

describe('bodyReservationBytes: what a body may take, from its headers', () => {
  it('is the declared length, or the cap when the length is not declared (chunked)', () => {
    expect(bodyReservationBytes({ 'content-length': '1000' }, 20_000)).toBe(1_000);
    expect(bodyReservationBytes({ 'transfer-encoding': 'chunked' }, 20_000)).toBe(20_000);
  });
  it('is 0 without a body, and for a declared length over the cap (refused 413 before it is read)', () => {
    expect(bodyReservationBytes({}, 20_000)).toBe(0);
    expect(bodyReservationBytes({ 'content-length': '0' }, 20_000)).toBe(0);
    expect(bodyReservationBytes({ 'content-length': '20001' }, 20_000)).toBe(0);
  });
});

describe('readBodyIntoOneBuffer', () => {
  const chunks = (...parts: string[]) => Readable.from(parts.map((part) => Buffer.from(part)), { objectMode: false });

  it('reads a declared body into one buffer of its length', async () => {
    const body = await readBodyIntoOneBuffer(chunks('hello ', 'world'), 11, 100);
    expect(body.toString()).toBe('hello world');
  });
  it('reads an undeclared body within the limit and returns the part read', async () => {
    expect((await readBodyIntoOneBuffer(chunks('abc', 'de'), undefined, 100)).toString()).toBe('abcde');
  });
  it('refuses a declared length over the limit before reading a byte', async () => {
    const stream = chunks('abc');
    await expect(readBodyIntoOneBuffer(stream, 101, 100)).rejects.toThrow(BodyTooLargeError);
    expect(stream.readableFlowing).toBeNull();
  });
  it('refuses an undeclared body once it runs past the limit', async () => {
    await expect(readBodyIntoOneBuffer(chunks('abcd', 'efgh'), undefined, 6)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', statusCode: 413, message: 'the request body runs past 6 bytes, the limit' });
  });
  it('refuses a body that ends before its declared length', async () => {
    await expect(readBodyIntoOneBuffer(chunks('abc'), 5, 100)).rejects.toThrow(BodyIncompleteError);
  });
  it('refuses a body whose stream fails part-way, naming how far it got', async () => {
    const stream = new Readable({ read() {} });
    const reading = readBodyIntoOneBuffer(stream, 10, 100);
    stream.push(Buffer.from('abcd'));
    setImmediate(() => stream.destroy(new Error('aborted')));
    await expect(reading).rejects.toMatchObject({ code: 'BODY_INCOMPLETE', message: 'the request body ended after 4 bytes (aborted)' });
  });
});
