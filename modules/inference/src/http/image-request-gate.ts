import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** The code of the 408 that ends an admitted request whose body arrives too slowly (written on the socket, then closed). */
export const BODY_TOO_SLOW = 'REQUEST_BODY_TOO_SLOW';

export interface ImageRequestGateOptions {
  /** Image requests at once, from their headers to their response. */
  limit: number;
  /** Bytes per second a body must average since its request was admitted, once `bodyGraceMs` has passed; 0: no minimum. */
  minBodyBytesPerSecond: number;
  bodyGraceMs: number;
  /** Called with the code of every request the gate ends itself (for the metrics). */
  onEnded?: (code: string) => void;
}

/** How long a request that finds the gate full has to show its body is arriving, and how many bytes show it. */
export const PROOF_WINDOW_MS = 250;
export const PROOF_BYTES = 4 * 1024;
/**
 * Requests waiting at once for their body to show: beyond, a newcomer whose body has not arrived with its headers is
 * refused at once, so that waiting requests never take the connections health checks need (INFERENCE_MAX_CONNECTIONS).
 */
export const PROOF_WAITERS = 16;
/** An admitted request younger than this is never evicted: its rate says too little yet. */
export const EVICTION_MIN_AGE_MS = 1_000;

interface Admitted {
  request: IncomingMessage;
  admittedAt: number;
  bytesAtAdmission: number;
}

/** Body bytes received since admission (socket bytes: the body is all a request sends after its headers). */
const received = (entry: Admitted) => (entry.request.socket?.bytesRead ?? entry.bytesAtAdmission) - entry.bytesAtAdmission;

/** Average body rate of an admitted request, bytes per second. */
const rateOf = (entry: Admitted, now: number) => received(entry) / Math.max(0.001, (now - entry.admittedAt) / 1000);

/**
 * The admitted request to end so that a newcomer can run, or undefined: among those still receiving their body and
 * admitted at least EVICTION_MIN_AGE_MS, the slowest, if it is slower than the newcomer. Pure.
 */
export function evictionCandidate<T extends { complete: boolean; ageMs: number; bytesPerSecond: number }>(admitted: Iterable<T>, newcomerBytesPerSecond: number): T | undefined {
  let slowest: T | undefined;
  for (const entry of admitted) {
    if (entry.complete || entry.ageMs < EVICTION_MIN_AGE_MS || entry.bytesPerSecond >= newcomerBytesPerSecond) continue;
    if (!slowest || entry.bytesPerSecond < slowest.bytesPerSecond) slowest = entry;
  }
  return slowest;
}

/** Whether an admitted body is too slow: past the grace period and below the minimum average rate. Pure. */
export function bodyTooSlow(entry: { complete: boolean; ageMs: number; bytes: number }, minBytesPerSecond: number, graceMs: number): boolean {
  if (entry.complete || minBytesPerSecond <= 0 || entry.ageMs < graceMs) return false;
  return entry.bytes < (minBytesPerSecond * entry.ageMs) / 1000;
}

/**
 * Bounds the image requests in progress, from their headers to their response, so that slow bodies cannot hold every
 * connection and every body buffer: memory for bodies stays under the limit times the body limit. Runs before the
 * body is read, so that a refused request costs no more than its headers.
 *
 * Slow bodies cannot keep the gate from everyone (the attack pass on #16, hole 3): an admitted body that averages
 * under `minBodyBytesPerSecond` once `bodyGraceMs` has passed is answered 408 REQUEST_BODY_TOO_SLOW; and a request
 * that finds the gate full waits up to PROOF_WINDOW_MS for its body to arrive (PROOF_BYTES, or all of it; PROOF_WAITERS
 * wait at once, others are judged on what came with their headers): one that shows it ends the slowest admitted body (408) and takes its place; one that does not is refused 503 as before.
 */
export class ImageRequestGate {
  private readonly admitted = new Set<Admitted>();
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ImageRequestGateOptions) {}

  get size(): number {
    return this.admitted.size;
  }

  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.admitted.size >= this.options.limit && !(await this.makeRoomFor(request.raw))) throw new TooManyImageRequestsError(this.options.limit);
    const entry: Admitted = { request: request.raw, admittedAt: performance.now(), bytesAtAdmission: request.raw.socket?.bytesRead ?? 0 };
    this.admitted.add(entry);
    this.watch();
    const release = () => {
      this.admitted.delete(entry);
      if (this.admitted.size === 0) this.unwatch();
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  };

  /** Waits for the newcomer's body to show, then ends the slowest admitted body slower than it; false when none may go. */
  private async makeRoomFor(newcomer: IncomingMessage): Promise<boolean> {
    const started = performance.now();
    const declared = Number(newcomer.headers['content-length']);
    const needed = Number.isFinite(declared) && declared > 0 ? Math.min(declared, PROOF_BYTES) : PROOF_BYTES;
    // The parser buffers body bytes on the request (up to its high-water mark) until a reader takes them.
    const shown = () => newcomer.complete || newcomer.readableLength >= needed;
    // Body bytes that came with the headers are parsed once this tick ends.
    await new Promise((resolve) => setImmediate(resolve));
    if (!shown() && this.waiting < PROOF_WAITERS) {
      this.waiting += 1;
      try {
        while (!shown() && performance.now() - started < PROOF_WINDOW_MS && !newcomer.destroyed) await sleep(20);
      } finally {
        this.waiting -= 1;
      }
    }
    if (this.admitted.size < this.options.limit) return true;
    if (!shown()) return false;
    const now = performance.now();
    const newcomerRate = newcomer.readableLength / Math.max(0.001, (now - started) / 1000);
    const views = [...this.admitted].map((entry) => ({ entry, complete: entry.request.complete, ageMs: now - entry.admittedAt, bytesPerSecond: rateOf(entry, now) }));
    const victim = evictionCandidate(views, newcomer.complete ? Number.POSITIVE_INFINITY : newcomerRate);
    if (!victim) return false;
    this.end(victim.entry, `the request body arrived at ${Math.round(victim.bytesPerSecond)} B/s, the slowest of the ${this.options.limit} image requests in progress; it was ended so that a request whose body had arrived could run`);
    return true;
  }

  /** Checks the admitted bodies' rates every second while any is in progress. */
  private watch(): void {
    if (this.timer || this.options.minBodyBytesPerSecond <= 0) return;
    this.timer = setInterval(() => {
      const now = performance.now();
      for (const entry of this.admitted) {
        const ageMs = now - entry.admittedAt;
        if (bodyTooSlow({ complete: entry.request.complete, ageMs, bytes: received(entry) }, this.options.minBodyBytesPerSecond, this.options.bodyGraceMs)) {
          this.end(entry, `the request body arrived at ${Math.round(rateOf(entry, now))} B/s, under the minimum of ${this.options.minBodyBytesPerSecond} B/s`);
        }
      }
    }, 1_000);
    this.timer.unref();
  }

  private unwatch(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Answers 408 on the socket (the response has not begun: the body is still arriving) and closes the connection. */
  private end(entry: Admitted, message: string): void {
    this.admitted.delete(entry);
    if (this.admitted.size === 0) this.unwatch();
    const socket = entry.request.socket;
    if (!socket || socket.destroyed) return;
    if ((socket as typeof socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) return void socket.destroy();
    const body = JSON.stringify({ error: BODY_TOO_SLOW, message, statusCode: 408 });
    if (socket.writable) socket.write(`HTTP/1.1 408 ${STATUS_CODES[408]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.destroySoon();
    // A client that reads nothing must not keep the socket: close it for good shortly after.
    setTimeout(() => socket.destroy(), 1_000).unref();
    this.options.onEnded?.(BODY_TOO_SLOW);
  }
}
