import { openGuardedGet, type TransferGuards } from './guarded-get.js';

/** A body that passed the bytes its caller allowed; nothing beyond the limit was held in memory. */
export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the body is larger than ${limitBytes} bytes`);
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
 */
export async function fetchBounded(url: string, request: BoundedRequest): Promise<{ statusCode: number; body: Buffer }> {
  const { stream, response, body } = await openGuardedGet(url, request);
  // Only a success's body is wanted: an error status is answered by its code, whatever body it brings.
  if (response.statusCode < 200 || response.statusCode >= 300) {
    stream.destroy();
    return { statusCode: response.statusCode, body: Buffer.alloc(0) };
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
