import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  /** Serves the request as it is: holds a place in the queue, so that the fault after it strikes a later request. */
  | { kind: 'none' }
  | { kind: 'reset-after'; bytes: number }
  | { kind: 'rst-after'; bytes: number }
  | { kind: 'truncate-after'; bytes: number }
  | { kind: 'stall-after'; bytes: number }
  | { kind: 'corrupt' }
  | { kind: 'status'; status: number }
  /** 200 without Content-Length: the blob, then filler for as long as the client reads (a hostile or broken server). */
  | { kind: 'endless' }
  /** Declares the blob's length but sends `extraBytes` more after it. */
  | { kind: 'longer-than-declared'; extraBytes: number }
  /** Sends `bytes` at once, then `chunkBytes` every `intervalMs` until the body ends: a trickle, or a slow but steady link. */
  | { kind: 'paced-after'; bytes: number; chunkBytes: number; intervalMs: number }
  /** Answers `status` (302 unless given) with this Location, relative or absolute. */
  | { kind: 'redirect'; location: string; status?: number };

const etagOf = (body: Buffer) => `"0x${createHash('md5').update(body).digest('hex').slice(0, 16).toUpperCase()}"`;

/**
 * A blob server on loopback that behaves like Blob Storage where it matters (ETag, Range → 206, If-Match → 412)
 * and injects one fault per request from a queue: connection resets, truncated bodies, stalls, wrong bytes, statuses.
 */
export class FaultServer {
  private server = http.createServer((request, response) => this.handle(request, response));
  readonly faults: Fault[] = [];
  /** Faults for one URL path (e.g. /ssd-2.model), taken before the shared queue: a fault that strikes one blob only. */
  readonly pathFaults = new Map<string, Fault[]>();
  readonly requests: { range?: string; ifMatch?: string; url: string }[] = [];
  bytesSent = 0;
  private body: Buffer = Buffer.alloc(0);
  private etag = '';
  /** Further blobs by URL path; anything else gets the default body. */
  private readonly blobs = new Map<string, { body: Buffer; etag: string }>();

  constructor(body: Buffer) {
    this.setBody(body);
  }

  setBody(body: Buffer): void {
    this.body = body;
    this.etag = etagOf(body);
  }

  /** Serves `body` at `pathname` (e.g. /models/ssd-2.delta.json), with its own ETag and Range support. */
  serve(pathname: string, body: Buffer): void {
    this.blobs.set(pathname, { body, etag: etagOf(body) });
  }

  /** Listens on loopback, on `port` when given (a port a client was already pointed at), else on any free one. */
  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const pathname = new URL(request.url ?? '/', 'http://x').pathname;
    const blob = this.blobs.get(pathname);
    const body = blob?.body ?? this.body;
    const etag = blob?.etag ?? this.etag;
    const range = request.headers.range;
    const ifMatch = request.headers['if-match'];
    this.requests.push({ url: request.url ?? '', ...(range ? { range } : {}), ...(typeof ifMatch === 'string' ? { ifMatch } : {}) });
    const fault = this.pathFaults.get(pathname)?.shift() ?? this.faults.shift();
    if (fault?.kind === 'status') {
      response.writeHead(fault.status).end();
      return;
    }
    if (fault?.kind === 'redirect') {
      response.writeHead(fault.status ?? 302, { location: fault.location }).end();
      return;
    }
    if (fault?.kind === 'endless') return this.sendEndless(response, body, etag);
    if (fault?.kind === 'longer-than-declared') return this.sendLongerThanDeclared(response, body, etag, fault.extraBytes);
    if (ifMatch && ifMatch !== etag) {
      response.writeHead(412).end();
      return;
    }
    let start = 0;
    let end = body.length;
    let status = 200;
    const match = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (match?.[1]) {
      start = Number(match[1]);
      if (match[2]) end = Math.min(body.length, Number(match[2]) + 1);
      if (start >= body.length || start >= end) {
        response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
    }
    let slice = body.subarray(start, end);
    if (fault?.kind === 'corrupt') {
      slice = Buffer.from(slice);
      const middle = Math.floor(slice.length / 2);
      slice[middle] = (slice[middle] ?? 0) ^ 0xff;
    }
    response.writeHead(status, {
      etag,
      'content-length': slice.length,
      'accept-ranges': 'bytes',
      ...(status === 206 ? { 'content-range': `bytes ${start}-${end - 1}/${body.length}` } : {}),
    });
    const cut = fault && 'bytes' in fault ? Math.min(fault.bytes, slice.length) : slice.length;
    this.bytesSent += cut;
    if (!fault || fault.kind === 'none' || fault.kind === 'corrupt') return void response.end(slice);
    if (fault.kind === 'paced-after') return this.sendPaced(response, slice, fault);
    // The fault strikes once the bytes before it have reached the socket, as on a real link.
    response.write(slice.subarray(0, cut), () => {
      // reset-after closes abruptly once the bytes are sent; rst-after sends a TCP RST, which also loses what was in flight.
      if (fault.kind === 'reset-after') response.socket?.destroy();
      else if (fault.kind === 'rst-after') response.socket?.resetAndDestroy();
      else if (fault.kind === 'truncate-after') response.socket?.end();
      // stall-after: keep the socket open and send nothing more.
    });
  }

  private sendPaced(response: http.ServerResponse, slice: Buffer, pace: { bytes: number; chunkBytes: number; intervalMs: number }): void {
    let sent = Math.min(pace.bytes, slice.length);
    if (sent === slice.length) return void response.end(slice);
    response.write(slice.subarray(0, sent));
    const timer = setInterval(() => {
      if (response.destroyed) return void clearInterval(timer);
      const next = Math.min(slice.length, sent + pace.chunkBytes);
      this.bytesSent += next - sent;
      response.write(slice.subarray(sent, next));
      sent = next;
      if (sent === slice.length) {
        clearInterval(timer);
        response.end();
      }
    }, pace.intervalMs);
    response.on('close', () => clearInterval(timer));
  }

  private sendEndless(response: http.ServerResponse, body: Buffer, etag: string): void {
    response.writeHead(200, { etag, 'accept-ranges': 'bytes' });
    const filler = Buffer.alloc(64 * 1024, 0x5a);
    let first = true;
    const pump = () => {
      while (!response.destroyed && !response.writableEnded) {
        const chunk = first ? body : filler;
        first = false;
        this.bytesSent += chunk.length;
        if (!response.write(chunk)) return void response.once('drain', pump);
      }
    };
    response.on('close', () => response.removeAllListeners('drain'));
    pump();
  }

  /** Written to the socket by hand: Node's response object refuses to send more than its Content-Length. */
  private sendLongerThanDeclared(response: http.ServerResponse, body: Buffer, etag: string, extraBytes: number): void {
    const socket = response.socket;
    if (!socket) return;
    const head = `HTTP/1.1 200 OK\r\netag: ${etag}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
    this.bytesSent += body.length + extraBytes;
    socket.write(head);
    socket.write(body);
    socket.end(Buffer.alloc(extraBytes, 0x5a));
  }
}
