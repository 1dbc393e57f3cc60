import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardConnections, type ShedReason } from './connection-limits.js';
import { MAX_PIPELINED_REQUESTS } from './connection-shedding.js';

const MAX_CONNECTIONS = 8;
const ALLOWANCE = 16;

interface Guarded {
  port: number;
  shed: Record<string, number>;
  /** Requests the handler has seen, by path. */
  seen: Record<string, number>;
  close: () => Promise<void>;
}

/** A real http server on loopback under guardConnections that answers every request once its body has arrived. */
async function guardedServer(): Promise<Guarded> {
  const shed: Record<string, number> = {};
  const seen: Record<string, number> = {};
  const server = http.createServer((request, response) => {
    seen[request.url ?? ''] = (seen[request.url ?? ''] ?? 0) + 1;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Answered on a later turn, as Fastify's async handlers are: Node parses every request in a chunk it read before any is answered.
    request.on('end', () => setImmediate(() => response.end(JSON.stringify({ url: request.url, bytes: Buffer.concat(chunks).length }))));
  });
  guardConnections(server, { maxConnections: MAX_CONNECTIONS, firstRequestTimeoutMs: 10_000, newConnectionsAllowance: ALLOWANCE }, (reason: ShedReason) => {
    shed[reason] = (shed[reason] ?? 0) + 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    port: (server.address() as AddressInfo).port,
    shed,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends `request` on a new connection and resolves with the status of the answer, or `closed`, within 10 s. */
function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('timeout'), 10_000);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) done(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'garbled');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done('closed'));
  });
}

/** Connections that send nothing, each opened again as soon as it is closed, until stopped: always younger than 1 s. */
function silentFlood(port: number, count: number): { stop: () => void; opened: () => number } {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<net.Socket>();
  const open = () => {
    if (stopped) return;
    opened += 1;
    const socket = net.connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      setImmediate(open);
    });
  };
  for (let index = 0; index < count; index += 1) open();
  return {
    opened: () => opened,
    stop: () => {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

const PROBE = 'GET /health/live HTTP/1.1\r\nHost: device\r\nConnection: close\r\nUser-Agent: kube-probe/1.29\r\n\r\n';
const body = Buffer.alloc(4_096, 1);
const DETECT = `POST /v1/detect HTTP/1.1\r\nHost: device\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: ${body.length}\r\n\r\n${body.toString('latin1')}`;

describe('guardConnections on a real server', () => {
  let guarded: Guarded | undefined;
  afterEach(async () => {
    await guarded?.close();
    guarded = undefined;
  });

  // The attack pass: 2,500 silent connections, reconnecting at once, kept more than the cap plus the allowance open and
  // younger than 1 s; the cap then closed every new connection before reading it, probes and real clients included.
  it('answers probes and a normal request under a silent flood past the cap plus its allowance, closing the oldest unread connections instead', async () => {
    guarded = await guardedServer();
    const flood = silentFlood(guarded.port, (MAX_CONNECTIONS + ALLOWANCE) * 4);
    try {
      // Until the flood has gone past the hard limit many times over.
      while (flood.opened() < (MAX_CONNECTIONS + ALLOWANCE) * 20) await new Promise((resolve) => setTimeout(resolve, 20));
      const outcomes: string[] = [];
      for (let index = 0; index < 5; index += 1) outcomes.push(await ask(guarded.port, PROBE));
      outcomes.push(await ask(guarded.port, DETECT));
      expect(outcomes).toEqual(['200', '200', '200', '200', '200', '200']);
      expect(guarded.shed.evicted).toBeGreaterThan(0);
    } finally {
      flood.stop();
    }
  }, 60_000);

  it(`closes a connection that pipelines more than ${MAX_PIPELINED_REQUESTS} requests it does not read the answers to`, async () => {
    guarded = await guardedServer();
    const socket = net.connect(guarded.port, '127.0.0.1');
    socket.on('error', () => undefined);
    // Paused: the answers are never read, so they pile up on the server.
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('connect', () => socket.write('GET /health/live HTTP/1.1\r\nHost: device\r\n\r\n'.repeat(4_096)));
    while (!guarded.shed.pipelined) await new Promise((resolve) => setTimeout(resolve, 20));
    // Read what was answered before the server closed it, until it is closed (a paused socket does not see the close).
    socket.resume();
    await closed;
    expect(guarded.shed.pipelined).toBe(1);
    // A probe on its own connection is answered.
    expect(await ask(guarded.port, PROBE)).toBe('200');
  }, 30_000);
});
