import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpLimits {
  /** Headers and body of a request must arrive within this (Node's requestTimeout): 408, then the connection closes. */
  requestTimeoutMs: number;
  /** Headers must arrive within this (Node's headersTimeout); a connection that sends nothing is closed after it too. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection closes after this. */
  keepAliveTimeoutMs: number;
  /** Open connections at most: one more closes the oldest connection without a request in progress. */
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
 * Caps open connections without locking health checks out, as `server.maxConnections` would: when one connection too
 * many arrives, the oldest that has no request in progress (idle keep-alive, or still sending its headers) is
 * closed to make room; only when every connection is serving a request is the new one refused. Image requests are
 * held below the cap by their own gate, so a probe's request always finds room. A connection that sends no request
 * within `firstRequestTimeoutMs` is closed too: Node's headers timeout only starts with the first byte.
 */
export function guardConnections(
  server: Server,
  options: { maxConnections: number; firstRequestTimeoutMs: number },
  onShed: (reason: 'evicted' | 'refused') => void,
  onPartialRequestTimeout: (socket: Socket) => void = (socket) => socket.destroy(),
): void {
  const requestsInProgress = new Map<Socket, number>();
  /** socket.bytesRead when the connection last had no request in progress: bytes past it are a request begun. */
  const bytesReadWhenIdle = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    requestsInProgress.set(socket, 0);
    bytesReadWhenIdle.set(socket, 0);
    socket.once('close', () => {
      requestsInProgress.delete(socket);
      bytesReadWhenIdle.delete(socket);
    });
    // Node's http server destroys a socket whose inactivity timeout fires while no request or response listens.
    socket.setTimeout(options.firstRequestTimeoutMs);
    if (requestsInProgress.size <= options.maxConnections) return;
    for (const [candidate, requests] of requestsInProgress) {
      if (candidate !== socket && requests === 0) {
        candidate.destroy();
        requestsInProgress.delete(candidate);
        onShed('evicted');
        return;
      }
    }
    socket.destroy();
    requestsInProgress.delete(socket);
    onShed('refused');
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    const count = requestsInProgress.get(socket);
    if (count === undefined) return;
    // From here the request and keep-alive timeouts govern the connection.
    if (count === 0) socket.setTimeout(0);
    requestsInProgress.set(socket, count + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const current = requestsInProgress.get(socket);
      if (current === undefined) return;
      const remaining = Math.max(0, current - 1);
      requestsInProgress.set(socket, remaining);
      if (remaining === 0) bytesReadWhenIdle.set(socket, socket.bytesRead);
    };
    response.once('finish', finish);
    response.once('close', finish);
  });
  // An inactivity timeout (ours before the first request, Node's keep-alive one after a response) reaches here instead
  // of Node's default destroy. A connection that began a request and went silent inside its headers is answered 408,
  // as Node's headers timeout would answer it had it fired first; an idle or silent one is closed.
  server.on('timeout', (socket: Socket) => {
    const idle = (requestsInProgress.get(socket) ?? 0) === 0;
    if (idle && socket.bytesRead > (bytesReadWhenIdle.get(socket) ?? 0)) onPartialRequestTimeout(socket);
    else if (idle) socket.destroy();
  });
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
  const body = JSON.stringify({ error: code, message: known?.message(limits) ?? 'the request is not valid HTTP', statusCode });
  const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy(error);
  return code;
}
