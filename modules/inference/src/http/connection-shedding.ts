/**
 * What a connection is doing when the connection cap must make room:
 * - `idle`: a keep-alive connection between requests (nothing sent since its last response);
 * - `partial`: it began a request whose headers are not complete yet;
 * - `silent`: it has sent nothing for SEND_GRACE_MS since it was accepted;
 * - `new`: accepted less than SEND_GRACE_MS ago and nothing read from it yet: what it will send is not known;
 * - `request`: a request in progress (its headers were read) other than a probe;
 * - `probe`: a health probe in progress (isProbeRequest).
 */
export type ConnectionState = 'idle' | 'partial' | 'silent' | 'new' | 'request' | 'probe';

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

/** The states evicted to make room, in order, oldest first within each. */
const EVICTED_FIRST: readonly ConnectionState[] = ['idle', 'partial', 'silent'];

/**
 * The connections to close so that at most `maxConnections` stay open, given in the order they were accepted. First,
 * oldest first, connections without a request in progress: idle keep-alive ones (an orchestrator's probes do not keep
 * connections alive), then those stalled inside their headers, then those that sent nothing within SEND_GRACE_MS.
 * New connections, not read yet, may stay over the cap until they show what they are: a probe among them is kept,
 * and the others are closed later by these rules. Beyond them, the newest requests in progress that are not probes
 * are refused. A health probe in progress is never closed. Pure.
 */
export function planShedding<T>(connections: readonly { connection: T; state: ConnectionState }[], maxConnections: number): ShedDecision<T>[] {
  let excess = connections.length - maxConnections;
  const decisions: ShedDecision<T>[] = [];
  for (const state of EVICTED_FIRST) {
    for (const entry of connections) {
      if (excess <= 0) return decisions;
      if (entry.state !== state) continue;
      decisions.push({ connection: entry.connection, reason: 'evicted' });
      excess -= 1;
    }
  }
  excess -= connections.filter((entry) => entry.state === 'new').length;
  for (let index = connections.length - 1; index >= 0 && excess > 0; index -= 1) {
    const entry = connections[index]!;
    if (entry.state !== 'request') continue;
    decisions.push({ connection: entry.connection, reason: 'refused' });
    excess -= 1;
  }
  return decisions;
}

/** Liveness and readiness paths, the module's and the Open Inference Protocol's, with or without a query. */
const PROBE_PATH = /^\/(?:health\/(?:live|ready)|v2\/health\/(?:live|ready)|v2\/models\/[^/?]+(?:\/versions\/[^/?]+)?\/ready)(?:\?|$)/;

/** Whether a request is a health probe (GET or HEAD of a liveness or readiness path). */
export function isProbeRequest(method: string | undefined, url: string | undefined): boolean {
  return (method === 'GET' || method === 'HEAD') && PROBE_PATH.test(url ?? '');
}
