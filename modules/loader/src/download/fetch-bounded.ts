import { openGuardedGet, type TransferGuards } from './guarded-get.js';

/** A body that passed the bytes its caller allowed; nothing beyond the limit was held in memory. */
export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the body is larger than ${limitBytes} bytes`);
  }
}

/** A body sent with a Content-Encoding although the loader asked for none (`Accept-Encoding: identity`). */
export class EncodedBodyError extends Error {
  constructor(readonly encoding: string) {
    super(`the body came with Content-Encoding ${encoding}, though identity was asked for`);
  }
}

export interface BoundedRequest extends TransferGuards {
  limitBytes: number;
  signal: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * GETs `url` into memory, holding at most `limitBytes` of its body: a declared Content-Length past the limit is
 * refused before the body, and a body that passes it mid-way (an endless one) is cut off there. The transfer guards of
 * guarded-get.ts apply (idle timeout, stall rule: DownloadStalledError; redirect policy: RedirectRefusedError); other
 * network failures propagate as got's errors; statuses are returned, not thrown, with an empty body unless they are 2xx.
 * It asks for the body as stored (`Accept-Encoding: identity`), so that the body's length is what crossed the wire; a
 * success sent encoded anyway is refused (EncodedBodyError).
 */
export async function fetchBounded(url: string, request: BoundedRequest): Promise<{ statusCode: number; body: Buffer }> {
  const { stream, response, body } = await openGuardedGet(url, { ...request, headers: { 'accept-encoding': 'identity', ...request.headers }, decompress: false });
  // Only a success's body is wanted: an error status is answered by its code, whatever body it brings.
  if (response.statusCode < 200 || response.statusCode >= 300) {
    stream.destroy();
    return { statusCode: response.statusCode, body: Buffer.alloc(0) };
  }
  const encoding = response.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    stream.destroy();
    throw new EncodedBodyError(encoding);
  }
  if (response.headers['content-length'] !== undefined && Number(response.headers['content-length']) > request.limitBytes) {
    stream.destroy();
    throw new BodyTooLargeError(request.limitBytes);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > request.limitBytes) throw new BodyTooLargeError(request.limitBytes);
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return { statusCode: response.statusCode, body: Buffer.concat(chunks) };
}
