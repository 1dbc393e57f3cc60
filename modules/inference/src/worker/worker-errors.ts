// The errors entry alone: the package's index loads the Azure IoT SDK, pino and zod into every worker that imports it.
import { EdgeError } from '@edge-ml/edge-kit/errors';

/** Every worker is busy and the queue is full. Maps to HTTP 503 with Retry-After. */
export class OverloadedError extends EdgeError {
  readonly code = 'OVERLOADED';
  readonly statusCode = 503;
  constructor(readonly retryAfterSeconds: number, queueLength: number) {
    super(`the server is busy (${queueLength} requests queued); retry after ${retryAfterSeconds} s`);
  }
}

/**
 * An error that happened inside a worker, carried across the thread boundary with its code, and with its HTTP
 * status when it was the client's mistake (an undecodable image is still a 400 when a worker decoded it).
 */
export class WorkerTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'WorkerTaskError';
  }
}
