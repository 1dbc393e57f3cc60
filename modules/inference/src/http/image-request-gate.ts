import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EdgeError } from '@edge-ml/edge-kit';
import { rawErrorResponse, responseBegun } from './connection-limits.js';
import { declaredLength } from './read-body.js';

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
 * The request bodies in progress hold so many bytes, with this one's declared length, that it would take them past
 * INFERENCE_BODY_BUDGET_BYTES. Maps to HTTP 503 with Retry-After, before the body is read; the connection closes.
 */
export class BodyBudgetExhaustedError extends EdgeError {
  readonly code = 'OVERLOADED';
  readonly statusCode = 503;
  readonly retryAfterSeconds = 1;
  readonly closeConnection = true;
  constructor(reservedBytes: number, requestBytes: number, budgetBytes: number) {
    super(`the server is busy (the request bodies in progress may take ${reservedBytes} bytes; this one's ${requestBytes} would take them past the budget of ${budgetBytes}); retry after 1 s`);
  }
}

/** The code of the 408 that ends an admitted request whose body arrives too slowly (written on the socket, then closed). */
export const BODY_TOO_SLOW = 'REQUEST_BODY_TOO_SLOW';

export interface ImageRequestGateOptions {
  /** Image requests at once, from their headers to their response. */
  limit: number;
  /** Bytes that the bodies of the image requests in progress may take at once, by their reservations (`bodyBytes`). */
  bodyBudgetBytes: number;
  /** The bytes a request's body may take while it is read, from its headers (read-body.ts: bodyReservationBytes). */
  bodyBytes: (request: IncomingMessage) => number;
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
  /** What its body may take in memory, counted against the budget until its response ends. */
  reservedBytes: number;
}

/** Body bytes received since admission (socket bytes: the body is all a request sends after its headers). */
const received = (entry: Admitted) => (entry.request.socket?.bytesRead ?? entry.bytesAtAdmission) - entry.bytesAtAdmission;

/** Average body rate of an admitted request, bytes per second. */
const rateOf = (entry: Admitted, now: number) => received(entry) / Math.max(0.001, (now - entry.admittedAt) / 1000);

/**
 * The admitted requests to end so that a newcomer fits both the count and the byte budget, or undefined when it cannot:
 * among those still receiving their body and admitted at least EVICTION_MIN_AGE_MS, the slowest first, each slower
 * than the newcomer. Nothing is ended unless the newcomer then fits. Pure.
 */
export function planEvictions<T extends { complete: boolean; ageMs: number; bytesPerSecond: number; reservedBytes: number }>(
  admitted: readonly T[],
  newcomer: { bytesPerSecond: number; reservedBytes: number },
  capacity: { limit: number; budgetBytes: number },
): T[] | undefined {
  const candidates = admitted
    .filter((entry) => !entry.complete && entry.ageMs >= EVICTION_MIN_AGE_MS && entry.bytesPerSecond < newcomer.bytesPerSecond)
    .sort((a, b) => a.bytesPerSecond - b.bytesPerSecond);
  let count = admitted.length;
  let reserved = admitted.reduce((sum, entry) => sum + entry.reservedBytes, 0);
  const victims: T[] = [];
  while (count + 1 > capacity.limit || reserved + newcomer.reservedBytes > capacity.budgetBytes) {
    const victim = candidates[victims.length];
    if (!victim) return undefined;
    victims.push(victim);
    count -= 1;
    reserved -= victim.reservedBytes;
  }
  return victims;
}

/** Whether an admitted body is too slow: past the grace period and below the minimum average rate. Pure. */
export function bodyTooSlow(entry: { complete: boolean; ageMs: number; bytes: number }, minBytesPerSecond: number, graceMs: number): boolean {
  if (entry.complete || minBytesPerSecond <= 0 || entry.ageMs < graceMs) return false;
  return entry.bytes < (minBytesPerSecond * entry.ageMs) / 1000;
}

/**
 * Bounds the image requests in progress, from their headers to their response, in number (`limit`) and in the bytes
 * their bodies may take (`bodyBudgetBytes`: each reserves its declared length, or the body limit when undeclared, until
 * its response ends). Runs before the body is read, so that a refused request costs no more than its headers.
 *
 * Slow bodies cannot keep the gate from everyone (the attack pass on #16, hole 3): an admitted body that averages
 * under `minBodyBytesPerSecond` once `bodyGraceMs` has passed is answered 408 REQUEST_BODY_TOO_SLOW; and a request
 * that finds the gate full waits up to PROOF_WINDOW_MS for its body to arrive (PROOF_BYTES, or all of it; PROOF_WAITERS
 * wait at once, others are judged on what came with their headers): one that shows it ends the slowest admitted bodies
 * (408) until it fits, and takes their place; one that does not is refused 503 as before.
 */
export class ImageRequestGate {
  private readonly admitted = new Map<IncomingMessage, Admitted>();
  private reserved = 0;
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ImageRequestGateOptions) {}

  get size(): number {
    return this.admitted.size;
  }

  /** Bytes reserved by the bodies of the requests in progress. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** Whether a request was admitted and is in progress: only such a request's body may be read into memory. */
  holds(request: IncomingMessage): boolean {
    return this.admitted.has(request);
  }

  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const reservedBytes = this.options.bodyBytes(request.raw);
    if (!this.fits(reservedBytes)) await this.makeRoomFor(request.raw, reservedBytes);
    // Checked again with nothing awaited before the entry is added, so that neither bound is ever passed, whoever took the room made.
    if (!this.fits(reservedBytes)) {
      if (this.admitted.size >= this.options.limit) throw new TooManyImageRequestsError(this.options.limit);
      throw new BodyBudgetExhaustedError(this.reserved, reservedBytes, this.options.bodyBudgetBytes);
    }
    const entry: Admitted = { request: request.raw, admittedAt: performance.now(), bytesAtAdmission: request.raw.socket?.bytesRead ?? 0, reservedBytes };
    this.add(entry);
    const release = () => this.remove(entry);
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  };

  private fits(reservedBytes: number): boolean {
    return this.admitted.size < this.options.limit && this.reserved + reservedBytes <= this.options.bodyBudgetBytes;
  }

  private add(entry: Admitted): void {
    this.admitted.set(entry.request, entry);
    this.reserved += entry.reservedBytes;
    this.watch();
  }

  /** Forgets an entry (its response ended, or the gate ended it); a second call does nothing. */
  private remove(entry: Admitted): void {
    if (this.admitted.get(entry.request) !== entry) return;
    this.admitted.delete(entry.request);
    this.reserved -= entry.reservedBytes;
    if (this.admitted.size === 0) this.unwatch();
  }

  /** Waits for the newcomer's body to show, then ends the slowest admitted bodies slower than it until it fits, if it can. */
  private async makeRoomFor(newcomer: IncomingMessage, reservedBytes: number): Promise<void> {
    const started = performance.now();
    const declared = declaredLength(newcomer.headers);
    const needed = declared !== undefined && declared > 0 ? Math.min(declared, PROOF_BYTES) : PROOF_BYTES;
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
    if (this.fits(reservedBytes) || !shown()) return;
    const now = performance.now();
    const newcomerRate = newcomer.complete ? Number.POSITIVE_INFINITY : newcomer.readableLength / Math.max(0.001, (now - started) / 1000);
    const views = [...this.admitted.values()].map((entry) => ({ entry, complete: entry.request.complete, ageMs: now - entry.admittedAt, bytesPerSecond: rateOf(entry, now), reservedBytes: entry.reservedBytes }));
    const victims = planEvictions(views, { bytesPerSecond: newcomerRate, reservedBytes }, { limit: this.options.limit, budgetBytes: this.options.bodyBudgetBytes });
    if (!victims) return;
    const slowest = victims.length === 1 ? 'the slowest' : `one of the ${victims.length} slowest`;
    for (const victim of victims) {
      this.end(victim.entry, `the request body arrived at ${Math.round(victim.bytesPerSecond)} B/s, ${slowest} of the ${views.length} image requests in progress; it was ended so that a request whose body had arrived could run`);
    }
  }

  /** Checks the admitted bodies' rates every second while any is in progress. */
  private watch(): void {
    if (this.timer || this.options.minBodyBytesPerSecond <= 0) return;
    this.timer = setInterval(() => {
      const now = performance.now();
      for (const entry of this.admitted.values()) {
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
    this.remove(entry);
    const socket = entry.request.socket;
    if (!socket || socket.destroyed) return;
    if (responseBegun(socket)) return void socket.destroy();
    if (socket.writable) socket.write(rawErrorResponse(408, BODY_TOO_SLOW, message));
    socket.destroySoon();
    // A client that reads nothing must not keep the socket: close it for good shortly after.
    setTimeout(() => socket.destroy(), 1_000).unref();
    this.options.onEnded?.(BODY_TOO_SLOW);
  }
}
