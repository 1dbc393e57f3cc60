import type { FastifyReply, FastifyRequest } from 'fastify';
import { EdgeError } from '@edge-ml/edge-kit';

/** As many image requests as the gate allows are in progress. Maps to HTTP 503 with Retry-After; the connection closes. */
export class TooManyImageRequestsError extends EdgeError {
  readonly code = 'OVERLOADED';
  readonly statusCode = 503;
  readonly retryAfterSeconds = 1;
  readonly closeConnection = true;
  constructor(limit: number) {
    super(`the server is busy (${limit} image requests in progress, the limit); retry after 1 s`);
  }
}

/**
 * Bounds the image requests in progress, from their headers to their response, so that slow bodies cannot hold every
 * connection and every body buffer: memory for bodies stays under the limit times the body limit. Runs before the
 * body is read, so that a refused request costs no more than its headers.
 */
export class ImageRequestGate {
  private inProgress = 0;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.inProgress;
  }

  readonly onRequest = async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.inProgress >= this.limit) throw new TooManyImageRequestsError(this.limit);
    this.inProgress += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inProgress -= 1;
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  };
}
