import { EdgeError } from '@edge-ml/edge-kit';

/** Every worker is busy and the queue is full. Maps to HTTP 503 with Retry-After. */
export class OverloadedError extends EdgeError {
  readonly code = 'OVERLOADED';
  readonly statusCode = 503;
  constructor(readonly retryAfterSeconds: number, queueLength: number) {
    super(`the server is busy (${queueLength} requests queued); retry after ${retryAfterSeconds} s`);
  }
}

/** An error that happened inside a worker, carried across the thread boundary with its code. */
export class WorkerTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WorkerTaskError';
  }
}
