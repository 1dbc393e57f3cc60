import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ConnectionQueues, isProbeRequest, MAX_PIPELINED_REQUESTS } from './connection-shedding.js';

export interface HttpLimits {
  /** Headers and body of a request must arrive within this (Node's requestTimeout): 408, then the connection closes. */
  requestTimeoutMs: number;
  /** Headers must arrive within this (Node's headersTimeout); a connection that sends nothing is closed after it too. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection closes after this. */
  keepAliveTimeoutMs: number;
  /** Open connections at most, once new ones have been read: beyond, idle and stalled connections close first, health probes never (guardConnections). */
  maxConnections: number;
  /** Image requests at once, from their headers to their response: one more gets 503 before its body is read. */
  maxImageRequests: number;
  /** Bytes the bodies of the image requests in progress may take at once (their declared lengths): one more gets 503 before its body is read. */
  bodyBudgetBytes: number;
  /** An admitted image request's body must average this many bytes per second once `bodyGraceMs` has passed (0: no minimum): 408. */
  minBodyBytesPerSecond: number;
  bodyGraceMs: number;
}

/** Node checks request and header deadlines on this period (its default of 30 s would let a slow body run 30 s late). */
export function connectionsCheckingIntervalMs(limits: HttpLimits): number {
  return Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2)));
}

/**
 * New connections that may stay over the cap while they have SEND_GRACE_MS to show what they are: a burst can fill
 * the kernel's accept queue (Node's default backlog is 511) twice within that. Beyond, the oldest connection that may
 * be closed is closed for each one accepted, new ones included (ConnectionQueues.nextToClose with `evenNew`).
 */
export const NEW_CONNECTIONS_ALLOWANCE = 1_024;

export type ShedReason = 'evicted' | 'refused' | 'pipelined';

/**
 * Caps open connections without locking health checks out, as `server.maxConnections` would. When connections pass
 * the cap, ConnectionQueues chooses which to close: idle keep-alive connections first, then those that never completed a
 * request (stalled inside their headers, or sent nothing within SEND_GRACE_MS) oldest first, then the newest requests in progress that are not a
 * probe being answered; a new connection that has not sent its request yet is given SEND_GRACE_MS to do so (a probe
 * sends it at once), up to `newConnectionsAllowance` over the cap, beyond which the oldest unread connections go
 * first. Image requests are held below the cap by their own gate, so a probe's request always finds room. A
 * connection with more than MAX_PIPELINED_REQUESTS requests outstanding is closed (`pipelined`). A connection that
 * sends no request within `firstRequestTimeoutMs` is closed too: Node's headers timeout only starts with the first byte.
 */
export function guardConnections(
  server: Server,
  options: { maxConnections: number; firstRequestTimeoutMs: number; newConnectionsAllowance?: number },
  onShed: (reason: ShedReason) => void,
  onPartialRequestTimeout: (socket: Socket) => void = (socket) => socket.destroy(),
): void {
  const allowance = options.newConnectionsAllowance ?? NEW_CONNECTIONS_ALLOWANCE;
  /** socket.bytesRead when the connection last had no request in progress: bytes past it are a request begun. */
  const bytesReadWhenIdle = new WeakMap<Socket, number>();
  const begunRequest = (socket: Socket) => socket.bytesRead > (bytesReadWhenIdle.get(socket) ?? 0);
  const connections = new ConnectionQueues<Socket>(begunRequest);
  let nextLook: NodeJS.Timeout | undefined;

  const close = (socket: Socket, reason: ShedReason) => {
    connections.closed(socket);
    socket.destroy();
    onShed(reason);
  };

  const look = () => {
    clearTimeout(nextLook);
    nextLook = undefined;
    const now = performance.now();
    while (connections.size > options.maxConnections) {
      const next = connections.nextToClose(now, options.maxConnections, connections.size > options.maxConnections + allowance);
      if (!next) break;
      close(next.connection, next.reason);
    }
    // New connections left over the cap are looked at again when the oldest of them has had its grace.
    const graceEndsAt = connections.size > options.maxConnections ? connections.graceEndsAt(now) : undefined;
    if (graceEndsAt !== undefined) {
      nextLook = setTimeout(look, Math.max(1, graceEndsAt - now));
      nextLook.unref();
    }
  };

  server.on('connection', (socket: Socket) => {
    connections.accepted(socket, performance.now());
    socket.once('close', () => connections.closed(socket));
    // Node's http server destroys a socket whose inactivity timeout fires while no request or response listens.
    socket.setTimeout(options.firstRequestTimeoutMs);
    if (connections.size > options.maxConnections) look();
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    if (!connections.has(socket)) return;
    // From here the request and keep-alive timeouts govern the connection.
    if (!connections.inProgress(socket)) socket.setTimeout(0);
    const probe = isProbeRequest(request.method, request.url);
    if (connections.requestStarted(socket, probe) > MAX_PIPELINED_REQUESTS) {
      close(socket, 'pipelined');
      return;
    }
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      connections.requestEnded(socket, probe);
      if (!connections.inProgress(socket)) bytesReadWhenIdle.set(socket, socket.bytesRead);
    };
    response.once('finish', finish);
    response.once('close', finish);
  });
  // An inactivity timeout (ours before the first request, Node's keep-alive one after a response) reaches here instead
  // of Node's default destroy. A connection that began a request and went silent inside its headers is answered 408,
  // as Node's headers timeout would answer it had it fired first; an idle or silent one is closed.
  server.on('timeout', (socket: Socket) => {
    if (connections.inProgress(socket)) return;
    if (begunRequest(socket)) onPartialRequestTimeout(socket);
    else socket.destroy();
  });
}

/** How long a connection answered before its body arrived may still be read (and discarded) before it is closed. */
export const LINGER_MS = 2_000;

/**
 * Closes a connection whose request body is still arriving without losing the answer: Node destroys the socket once
 * the answer is written, and a socket closed with unread bytes sends a reset, on which the client's kernel drops the
 * answer it has not read yet (8 of 48 refused uploads saw no 503 in a test). Instead, after the answer the connection
 * is half-closed and what the client still sends is discarded until it closes, for at most `lingerMs` (nginx's
 * lingering close). Call it before the answer is sent.
 */
export function lingerAfterAnswer(socket: Socket, lingerMs = LINGER_MS): void {
  socket.destroySoon = () => {
    socket.end();
    // Node's server reads and discards the rest of the body (req._dump) until the client closes its side.
    setTimeout(() => socket.destroy(), lingerMs).unref();
  };
}

const CLIENT_ERRORS: Record<string, { statusCode: number; code: string; message: (limits: HttpLimits) => string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { statusCode: 408, code: 'REQUEST_TIMEOUT', message: (limits) => `the request was not received within ${limits.requestTimeoutMs} ms (headers within ${limits.headersTimeoutMs} ms)` },
  HPE_HEADER_OVERFLOW: { statusCode: 431, code: 'HEADERS_TOO_LARGE', message: () => 'the request headers are too large' },
};

/**
 * Answers what Node reports before a request reaches Fastify (a deadline passed, headers too large, bytes that are
 * not HTTP) in the API's error shape, then closes the connection. Returns the code for the metrics.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket, limits: HttpLimits): string | undefined {
  if (error.code === 'ECONNRESET' || socket.destroyed) return undefined;
  const known = CLIENT_ERRORS[error.code ?? ''];
  const statusCode = known?.statusCode ?? 400;
  const code = known?.code ?? 'BAD_REQUEST';
  if (socket.writable && !responseBegun(socket)) socket.write(rawErrorResponse(statusCode, code, known?.message(limits) ?? 'the request is not valid HTTP'));
  socket.destroy(error);
  return code;
}

/** Whether the response on a connection has begun (its headers were sent), so that nothing may be written past it. */
export function responseBegun(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent === true;
}

/** A whole HTTP/1.1 error response in the API's error shape, closing the connection, to write on a socket Node no longer answers on. */
export function rawErrorResponse(statusCode: number, code: string, message: string): string {
  const body = JSON.stringify({ error: code, message, statusCode });
  return `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
