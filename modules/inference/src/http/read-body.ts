import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { EdgeError } from '@edge-ml/edge-kit';

/** A body over INFERENCE_MAX_BODY_BYTES, declared or found while reading; the connection closes after the answer. */
export class BodyTooLargeError extends EdgeError {
  readonly code = 'BODY_TOO_LARGE';
  readonly statusCode = 413;
  readonly closeConnection = true;
  constructor(limitBytes: number, declaredBytes?: number) {
    super(declaredBytes === undefined ? `the request body runs past ${limitBytes} bytes, the limit` : `the request body declares ${declaredBytes} bytes; the limit is ${limitBytes}`);
  }
}

/** A body that ended before its declared length, or whose connection failed while it arrived. */
export class BodyIncompleteError extends EdgeError {
  readonly code = 'BODY_INCOMPLETE';
  readonly statusCode = 400;
  readonly closeConnection = true;
  constructor(receivedBytes: number, detail: string, options?: { cause?: unknown }) {
    super(`the request body ended after ${receivedBytes} bytes (${detail})`, options);
  }
}

/** The declared Content-Length, or undefined when the body's length is not declared (chunked) or not a number. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const header = headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

/**
 * The bytes a request's body may come to hold in memory while it is read, from its headers alone: its declared length,
 * or the most it may be (`capBytes`) when undeclared; 0 without a body, or with a declared length over the cap (such a
 * body is refused 413 before it is read). Pure.
 */
export function bodyReservationBytes(headers: IncomingHttpHeaders, capBytes: number): number {
  const declared = declaredLength(headers);
  if (declared !== undefined) return declared > capBytes ? 0 : declared;
  return headers['transfer-encoding'] === undefined ? 0 : capBytes;
}

/**
 * Reads a stream into one buffer allocated once: the declared length when there is one, otherwise `limitBytes` (its
 * pages are only touched as bytes arrive, and the part read is returned). Each chunk is copied in and let go as it
 * arrives, so that a body never holds its chunks and a copy of them at once (Fastify's own parser concatenates the
 * chunks at the end, twice the body at that moment). Over `limitBytes`: BodyTooLargeError, before anything is read when
 * the length is declared. The stream is left as it is on an error (no destroy), so that the answer can still be sent.
 */
export function readBodyIntoOneBuffer(stream: Readable, declaredBytes: number | undefined, limitBytes: number): Promise<Buffer> {
  if (declaredBytes !== undefined && declaredBytes > limitBytes) return Promise.reject(new BodyTooLargeError(limitBytes, declaredBytes));
  const body = Buffer.allocUnsafe(declaredBytes ?? limitBytes);
  let received = 0;
  return new Promise((resolve, reject) => {
    const stop = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const fail = (error: Error) => {
      stop();
      reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (received + bytes.length > body.length) {
        fail(declaredBytes === undefined ? new BodyTooLargeError(limitBytes) : new BodyIncompleteError(received, `it runs past its Content-Length of ${declaredBytes}`));
        return;
      }
      bytes.copy(body, received);
      received += bytes.length;
    };
    const onEnd = () => {
      stop();
      if (declaredBytes !== undefined && received !== declaredBytes) reject(new BodyIncompleteError(received, `its Content-Length is ${declaredBytes}`));
      else resolve(received === body.length ? body : body.subarray(0, received));
    };
    const onError = (error: Error) => fail(new BodyIncompleteError(received, error.message, { cause: error }));
    const onClose = () => fail(new BodyIncompleteError(received, 'the connection closed'));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.resume();
  });
}

/** Fastify's content-type parser, in its promise form. */
export type ContentTypeParser = (request: FastifyRequest, payload: Readable) => Promise<Buffer | undefined>;

/**
 * A content-type parser that reads the body of an admitted request (the image gate reserved its bytes) into one buffer,
 * and no other: a body sent anywhere else (a 404, a route without a body) is never buffered, and Node discards it.
 */
export function admittedBodyParser(isAdmitted: (request: IncomingMessage) => boolean, maxBodyBytes: number): ContentTypeParser {
  return async (request, payload) => (isAdmitted(request.raw) ? readBodyIntoOneBuffer(payload, declaredLength(request.headers), maxBodyBytes) : undefined);
}
