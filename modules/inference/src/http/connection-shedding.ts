/**
 * How long a new connection has to send the start of its request before it may be closed as silent. Clients send it
 * with or right after the handshake; a second covers a loaded client (the test's, amid 1,000 connections of its own,
 * sent its probes 0.4–0.5 s after connecting) and any round trip on an edge network.
 */
export const SEND_GRACE_MS = 1_000;

export interface ShedDecision<T> {
  connection: T;
  /** `evicted`: it had no request in progress; `refused`: its request was read and was not a probe. */
  reason: 'evicted' | 'refused';
}

/**
 * Requests a connection may have outstanding at once (read, not answered yet): one more closes it. HTTP/1.1 clients
 * pipeline little or not at all (browsers and Node's agent never do; curl stopped); unbounded, 400 connections
 * pipelining 4,096 probes each that they never read took the process to 1.4 GiB and starved real probes.
 */
export const MAX_PIPELINED_REQUESTS = 16;

interface InProgress {
  requests: number;
  probes: number;
}

/**
 * The open connections by what they are doing, each kind in insertion-ordered collections so that choosing whom to
 * close takes constant time (amortized) however many are open; a connection is in exactly one of them:
 * - `unread`: accepted, no request read yet, in the order accepted. Within SEND_GRACE_MS of being accepted it is new
 *   (it may be a probe about to send its request), then silent; one that has sent part of a request is stalled.
 * - `idle`: a keep-alive connection between requests, in the order its last response ended; one that has begun its
 *   next request moves to `stalled` when it is next looked at.
 * - `stalled`: connections seen inside their headers, in the order seen.
 * - `busy`: requests in progress, in the order their newest request began.
 * `begunRequest` tells whether a connection without a request in progress has sent bytes of its next request.
 */
export class ConnectionQueues<T> {
  private readonly unread = new Map<T, number>();
  private readonly idle = new Set<T>();
  private readonly stalled = new Set<T>();
  private readonly busy = new Map<T, InProgress>();

  constructor(private readonly begunRequest: (connection: T) => boolean) {}

  get size(): number {
    return this.unread.size + this.idle.size + this.stalled.size + this.busy.size;
  }

  has(connection: T): boolean {
    return this.unread.has(connection) || this.idle.has(connection) || this.stalled.has(connection) || this.busy.has(connection);
  }

  accepted(connection: T, now: number): void {
    this.unread.set(connection, now);
  }

  /** A request was read; returns how many the connection now has outstanding. */
  requestStarted(connection: T, probe: boolean): number {
    this.unread.delete(connection);
    this.idle.delete(connection);
    this.stalled.delete(connection);
    const inProgress = this.busy.get(connection) ?? { requests: 0, probes: 0 };
    inProgress.requests += 1;
    if (probe) inProgress.probes += 1;
    // Deleted and set again: the newest request is last.
    this.busy.delete(connection);
    this.busy.set(connection, inProgress);
    return inProgress.requests;
  }

  requestEnded(connection: T, probe: boolean): void {
    const inProgress = this.busy.get(connection);
    if (!inProgress) return;
    inProgress.requests -= 1;
    if (probe) inProgress.probes -= 1;
    if (inProgress.requests > 0) return;
    this.busy.delete(connection);
    this.idle.add(connection);
  }

  /** Whether it has a request in progress. */
  inProgress(connection: T): boolean {
    return this.busy.has(connection);
  }

  closed(connection: T): void {
    this.unread.delete(connection);
    this.idle.delete(connection);
    this.stalled.delete(connection);
    this.busy.delete(connection);
  }

  /** When the oldest new connection's grace ends, if one is waiting. */
  graceEndsAt(now: number): number | undefined {
    for (const acceptedAt of this.unread.values()) return acceptedAt + SEND_GRACE_MS > now ? acceptedAt + SEND_GRACE_MS : undefined;
    return undefined;
  }

  /**
   * The next connection to close to make room, or undefined when none may be: idle keep-alive connections first (an
   * orchestrator's probes do not keep connections alive), then keep-alive ones seen stalled inside their next headers,
   * then those that never completed a request (silent or stalled in their headers), oldest first within each; an
   * unread one only once stalled or past SEND_GRACE_MS unless `evenNew` (at the hard limit:
   * the oldest go first, and a probe that just connected is the newest and sends its request within milliseconds).
   * Then the newest requests in progress that are not a probe being answered, and only when the connections still
   * over `maxConnections` outnumber the new ones waiting (which may go away on their own) or `evenNew`. A connection
   * with one probe in progress is never chosen; one with more than one request in progress (pipelined) may be.
   */
  nextToClose(now: number, maxConnections: number, evenNew: boolean): ShedDecision<T> | undefined {
    for (const connection of this.idle) {
      if (!this.begunRequest(connection)) return { connection, reason: 'evicted' };
      this.idle.delete(connection);
      this.stalled.add(connection);
    }
    for (const connection of this.stalled) return { connection, reason: 'evicted' };
    for (const [connection, acceptedAt] of this.unread) {
      if (evenNew || now - acceptedAt >= SEND_GRACE_MS || this.begunRequest(connection)) return { connection, reason: 'evicted' };
      break;
    }
    if (!evenNew && this.size - this.unread.size <= maxConnections) return undefined;
    // The last resort, and the only look through a whole kind: the requests in progress.
    const newestFirst = [...this.busy].reverse();
    const refused = newestFirst.find(([, inProgress]) => !(inProgress.requests === 1 && inProgress.probes === 1));
    return refused ? { connection: refused[0], reason: 'refused' } : undefined;
  }
}

/** Liveness and readiness paths, the module's and the Open Inference Protocol's, with or without a query. */
const PROBE_PATH = /^\/(?:health\/(?:live|ready)|v2\/health\/(?:live|ready)|v2\/models\/[^/?]+(?:\/versions\/[^/?]+)?\/ready)(?:\?|$)/;

/** Whether a request is a health probe (GET or HEAD of a liveness or readiness path). */
export function isProbeRequest(method: string | undefined, url: string | undefined): boolean {
  return (method === 'GET' || method === 'HEAD') && PROBE_PATH.test(url ?? '');
}
