import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bmpRleBomb, jpegHeaderBomb, pngHeaderBomb, webpHeaderBomb } from './fixtures/image-bombs.js';
import { startInferenceProcess, type InferenceProcess } from './inference-process.js';
import { createStorage, waitFor, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

const MiB = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 4_000;
const HEADERS_TIMEOUT_MS = 2_000;

interface Exchange {
  /** The status of the first response, or undefined when the connection closed without one. */
  status?: number;
  body: string;
}

/**
 * Sends a request on a fresh connection (without half-closing it: Node aborts a request whose client sends FIN) and
 * collects what comes back until the response is complete, or, with `endAfterResponse: false`, until the server closes.
 */
function exchange(port: number, head: string, body: Buffer = Buffer.alloc(0), { endAfterResponse = true } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const parse = (): Exchange => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      return { ...(status ? { status: Number(status) } : {}), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
    };
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head), body])));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      const headEnd = text.indexOf('\r\n\r\n');
      if (endAfterResponse && length && headEnd >= 0 && Buffer.byteLength(text) - headEnd - 4 >= Number(length)) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(parse()));
  });
}

const post = (port: number, url: string, body: Buffer, contentType?: string) =>
  exchange(port, `POST ${url} HTTP/1.1\r\nHost: device\r\nConnection: close\r\n${contentType ? `Content-Type: ${contentType}\r\n` : ''}Content-Length: ${body.length}\r\n\r\n`, body);

const get = async (port: number, url: string) => {
  const started = performance.now();
  const response = await exchange(port, `GET ${url} HTTP/1.1\r\nHost: device\r\nConnection: close\r\n\r\n`);
  return { ...response, ms: performance.now() - started };
};

/** A client that declares a 1 MB body, sends its first bytes, then one byte every 500 ms: it never finishes on its own. */
function slowUpload(port: number, url = '/v1/detect'): { connected: Promise<void>; outcome: Promise<Exchange> } {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let trickle: NodeJS.Timeout | undefined;
  const connected = new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', () => resolve());
  });
  socket.on('connect', () => {
    socket.write(`POST ${url} HTTP/1.1\r\nHost: device\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n`);
    socket.write(Buffer.from([0xff, 0xd8, 0xff]));
    trickle = setInterval(() => socket.write(Buffer.alloc(1)), 500);
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const outcome = new Promise<Exchange>((resolve) =>
    socket.on('close', () => {
      clearInterval(trickle);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ ...(status ? { status: Number(status) } : {}), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    }),
  );
  return { connected, outcome };
}

/** A client that connects and sends the start of a request line, then nothing. */
function silentClient(port: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write('GET /health/li'));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
      resolve(status ? { status: Number(status), body: '' } : { body: '' });
    });
  });
}

const tally = (outcomes: Exchange[]) => {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome.status ?? 'closed'] = (counts[outcome.status ?? 'closed'] ?? 0) + 1;
  return counts;
};

describe('the inference module as a process, against hostile clients', () => {
  let server: InferenceProcess;
  let person: Buffer;

  beforeAll(async () => {
    server = await startInferenceProcess(await createStorage(), { ...YOLOX_ONNX, version: '1' }, {
      INFERENCE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      INFERENCE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      INFERENCE_KEEP_ALIVE_TIMEOUT_MS: '1000',
    });
    person = await readFile(imageFile('darknet_person.jpg'));
  }, 90_000);
  afterAll(() => server?.stop());

  it('refuses image header bombs of every format, eight BMP bombs at once, with 413 and under 50 MiB of memory growth', async () => {
    // Warm up every decode path (the BMP decoder included) so that only the bombs are measured.
    expect((await post(server.port, '/v1/detect', person, 'image/jpeg')).status).toBe(200);
    expect((await post(server.port, '/v1/detect', await readFile(imageFile('grace_hopper.bmp')), 'image/bmp')).status).toBe(200);
    const before = await server.rssBytes();
    const peakTracked = await server.resetPeakRss();

    const bombs = [...Array.from({ length: 8 }, () => [bmpRleBomb(), 'image/bmp'] as const), [await pngHeaderBomb(), 'image/png'] as const, [await jpegHeaderBomb(), 'image/jpeg'] as const, [await webpHeaderBomb(), 'image/webp'] as const];
    let peak = before;
    for (let round = 0; round < 3; round += 1) {
      const responses = await Promise.all(bombs.map(([bytes, type]) => post(server.port, '/v1/detect', bytes, type)));
      expect(responses.map((response) => response.status)).toEqual(bombs.map(() => 413));
      for (const response of responses) expect(JSON.parse(response.body)).toMatchObject({ error: 'IMAGE_TOO_LARGE' });
      peak = Math.max(peak, await server.rssBytes());
    }
    if (peakTracked) peak = Math.max(peak, await server.peakRssBytes());
    const growth = peak - before;
    console.log(`image bombs: RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB (${peakTracked ? 'VmHWM' : 'sampled VmRSS'}), growth ${(growth / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(50 * MiB);
  }, 60_000);

  it('reads a body sent without a Content-Type (Python requests.post(url, data=bytes)) by its magic bytes', async () => {
    const response = await post(server.port, '/score', person);
    expect(response.status).toBe(200);
    expect((JSON.parse(response.body) as { Class: string }[]).map((entry) => entry.Class).sort()).toEqual(['dog', 'horse', 'person']);
  });

  it('keeps answering health and metrics under 1,000 slow-body connections, which end in 408 or 503 or are closed', async () => {
    // Probes that connect in the middle of the burst, and the first one after it, arrive while the server is still
    // accepting it: the connection cap must not shed them (it closed one in 1 of 3 runs when it chose before reading).
    const uploads = Array.from({ length: 500 }, () => slowUpload(server.port));
    const amidProbes = Array.from({ length: 5 }, () => get(server.port, '/health/live'));
    uploads.push(...Array.from({ length: 500 }, () => slowUpload(server.port)));
    const amid = await Promise.all(amidProbes);
    await Promise.all(uploads.map((upload) => upload.connected));
    const probes = [];
    for (let index = 0; index < 5; index += 1) probes.push(await get(server.port, '/health/live'));
    const ready = await get(server.port, '/health/ready');
    const metrics = await get(server.port, '/metrics');
    console.log(`under 1,000 slow-body connections: /health/live answered in ${amid.map((probe) => probe.ms.toFixed(1)).join(', ')} ms amid the burst, then ${probes.map((probe) => probe.ms.toFixed(1)).join(', ')} ms`);
    expect(amid.map((probe) => probe.status)).toEqual([200, 200, 200, 200, 200]);
    expect(probes.map((probe) => probe.status)).toEqual([200, 200, 200, 200, 200]);
    expect(ready.status).toBe(200);
    expect(metrics.status).toBe(200);

    const outcomes = await Promise.all(uploads.map((upload) => upload.outcome));
    const counts = tally(outcomes);
    console.log(`slow-body connections ended: ${JSON.stringify(counts)}`);
    expect(Object.keys(counts).every((key) => ['408', '503', 'closed'].includes(key))).toBe(true);
    // The admitted ones ran into the request timeout, the others were refused before their body was read.
    expect(counts['408']).toBeGreaterThan(0);
    expect(counts['503']).toBeGreaterThan(0);
    const timedOut = outcomes.find((outcome) => outcome.status === 408);
    expect(JSON.parse(timedOut!.body)).toMatchObject({ error: 'REQUEST_TIMEOUT', statusCode: 408 });
    const refused = outcomes.find((outcome) => outcome.status === 503);
    expect(JSON.parse(refused!.body)).toMatchObject({ error: 'OVERLOADED', statusCode: 503 });

    // Every slot came back: a real image is served again.
    expect((await post(server.port, '/v1/detect', person, 'image/jpeg')).status).toBe(200);
    expect((await get(server.port, '/metrics')).body).toMatch(/inference_errors_total\{code="REQUEST_TIMEOUT"\} [1-9]/);
  }, 60_000);

  it('keeps answering health under 1,000 connections that stall inside their headers, evicting them beyond the connection cap', async () => {
    const stalled = Array.from({ length: 1_000 }, () => silentClient(server.port));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const probe = await get(server.port, '/health/live');
    console.log(`under 1,000 stalled connections: /health/live answered in ${probe.ms.toFixed(1)} ms`);
    expect(probe.status).toBe(200);
    const counts = tally(await Promise.all(stalled));
    console.log(`stalled connections ended: ${JSON.stringify(counts)}`);
    expect(Object.keys(counts).every((key) => ['408', 'closed'].includes(key))).toBe(true);
    expect(counts.closed).toBeGreaterThan(0);
    expect((await get(server.port, '/metrics')).body).toMatch(/inference_errors_total\{code="CONNECTION_EVICTED"\} [1-9]/);
  }, 60_000);

  it('closes a connection that never sends a byte', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(true));
    });
    expect(closed).toBe(true);
  });

  /** Everything the server sends on one connection after `request`, until it closes the connection. */
  const untilClosed = (request: string) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });

  it('answers 408 to a connection that goes silent inside its headers (its inactivity timer used to close it first, unanswered)', async () => {
    const answer = await untilClosed('POST /v1/detect HTTP/1.1\r\nHost: device\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'REQUEST_TIMEOUT', statusCode: 408 });
  });

  it('closes an idle keep-alive connection without a second answer', async () => {
    const answer = await untilClosed('GET /health/live HTTP/1.1\r\nHost: device\r\n\r\n');
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
  });

  it('answers headers over 16 KiB with 431 and bytes that are not HTTP with 400, in the API error shape', async () => {
    const large = await exchange(server.port, `GET /health/live HTTP/1.1\r\nHost: device\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`, Buffer.alloc(0), { endAfterResponse: false });
    expect(large.status).toBe(431);
    expect(JSON.parse(large.body)).toMatchObject({ error: 'HEADERS_TOO_LARGE', statusCode: 431 });
    const garbage = await exchange(server.port, 'HELLO THERE\r\n\r\n', Buffer.alloc(0), { endAfterResponse: false });
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toMatchObject({ error: 'BAD_REQUEST', statusCode: 400 });
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    // Resolves only when the server closes the connection that the client keeps open.
    const response = await exchange(server.port, 'GET /health/live HTTP/1.1\r\nHost: device\r\n\r\n', Buffer.alloc(0), { endAfterResponse: false });
    expect(response.status).toBe(200);
  });
});

// The attack pass on #16 (hole 3): 64 connections that sent their headers and then a byte now and then held the image
// gate's every slot, so every real client got 503 OVERLOADED for as long as the attacker kept reconnecting.
describe('the image gate against slow bodies', () => {
  const GATE = 4;
  let server: InferenceProcess;
  let person: Buffer;

  beforeAll(async () => {
    server = await startInferenceProcess(await createStorage(), { ...YOLOX_ONNX, version: '1' }, {
      INFERENCE_MAX_IMAGE_REQUESTS: String(GATE),
      INFERENCE_REQUEST_TIMEOUT_MS: '20000',
      INFERENCE_BODY_GRACE_MS: '1500',
    });
    person = await readFile(imageFile('darknet_person.jpg'));
  }, 90_000);
  afterAll(() => server?.stop());

  it('lets a request whose body has arrived in while slow bodies hold every slot (/v1 and /v2 alike): the slowest ends 408 REQUEST_BODY_TOO_SLOW', async () => {
    const uploads = Array.from({ length: GATE }, (_, index) => slowUpload(server.port, index % 2 === 0 ? '/v1/detect' : '/v2/models/yolox/infer'));
    await Promise.all(uploads.map((upload) => upload.connected));
    // Admitted for longer than the youngest that may be ended (EVICTION_MIN_AGE_MS), younger than the grace period.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // A request without its body finds the gate full: refused as before, before its body is read.
    const stalled = await exchange(server.port, 'POST /v1/detect HTTP/1.1\r\nHost: device\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
    expect(stalled.status).toBe(503);
    const real = await post(server.port, '/v1/detect', person, 'image/jpeg');
    expect(real.status).toBe(200);
    const oip = await post(server.port, '/v2/models/yolox/infer', person, 'image/jpeg');
    expect(oip.status).not.toBe(503);

    const outcomes = await Promise.all(uploads.map((upload) => upload.outcome));
    expect(outcomes.every((outcome) => outcome.status === 408)).toBe(true);
    const ended = outcomes.map((outcome) => JSON.parse(outcome.body) as { error: string; message: string });
    // One made room for the real request (the /v2 one found the slot it freed); the others fell under the minimum rate.
    expect(ended.every((body) => body.error === 'REQUEST_BODY_TOO_SLOW')).toBe(true);
    expect(ended.filter((body) => /the slowest of the 4 image requests in progress/.test(body.message)).length).toBeGreaterThanOrEqual(1);
    expect((await get(server.port, '/metrics')).body).toMatch(/inference_errors_total\{code="REQUEST_BODY_TOO_SLOW"\} [1-9]/);
  }, 60_000);

  it('ends a body that averages under the minimum rate once the grace period has passed, long before the request timeout', async () => {
    const upload = slowUpload(server.port, '/v2/models/yolox/infer');
    const outcome = await upload.outcome;
    expect(outcome.status).toBe(408);
    expect(JSON.parse(outcome.body)).toMatchObject({ error: 'REQUEST_BODY_TOO_SLOW', message: expect.stringMatching(/under the minimum of 240 B\/s/), statusCode: 408 });
  }, 60_000);
});

/**
 * A client that declares a `declaredBytes` body, sends the headers and `sentBytes` of it (a JPEG's first bytes, then
 * zeros) at once, and holds the rest until released; `outcome` is what the server answered, if anything.
 */
function heldUpload(port: number, declaredBytes: number, sentBytes: number, jpeg: Buffer): { outcome: Promise<Exchange & { head: string }>; release: () => void } {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('connect', () => {
    const body = Buffer.alloc(sentBytes);
    jpeg.copy(body, 0, 0, Math.min(jpeg.length, sentBytes));
    socket.write(`POST /v1/detect HTTP/1.1\r\nHost: device\r\nContent-Type: image/jpeg\r\nContent-Length: ${declaredBytes}\r\n\r\n`);
    socket.write(body);
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const outcome = new Promise<Exchange & { head: string }>((resolve) =>
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const headEnd = text.indexOf('\r\n\r\n');
      resolve({ ...(status ? { status: Number(status) } : {}), head: text.slice(0, Math.max(0, headEnd)), body: text.slice(headEnd + 4) });
    }),
  );
  return { outcome, release: () => socket.destroy() };
}

// The attack pass after #16: 64 uploads of 20 MiB, held, took the process to 2.2 GiB and left it at 1.5-2.2 GiB.
describe('the body budget against a flood of large uploads', () => {
  const BODY_LIMIT = 4 * MiB;
  const BUDGET = 8 * MiB;
  let server: InferenceProcess;
  let person: Buffer;

  beforeAll(async () => {
    server = await startInferenceProcess(await createStorage(), { ...YOLOX_ONNX, version: '1' }, {
      INFERENCE_MAX_BODY_BYTES: String(BODY_LIMIT),
      INFERENCE_BODY_BUDGET_BYTES: String(BUDGET),
    });
    person = await readFile(imageFile('darknet_person.jpg'));
  }, 90_000);
  afterAll(() => server?.stop());

  it('refuses the uploads beyond the budget with 503 before reading their bodies, holds no more than the budget, and still serves a normal request', async () => {
    expect((await post(server.port, '/v1/detect', person, 'image/jpeg')).status).toBe(200);
    const before = await server.rssBytes();
    const peakTracked = await server.resetPeakRss();

    // 64 uploads of 4 MiB (the image gate's limit), 3.75 MiB of each sent and the rest held: 240 MiB if every body were read.
    const flood = Array.from({ length: 64 }, () => heldUpload(server.port, BODY_LIMIT, BODY_LIMIT - 256 * 1024, person));
    let answered = 0;
    for (const upload of flood) void upload.outcome.then(() => (answered += 1));
    // Held past the age at which an admitted body may be ended for a request whose body has arrived (EVICTION_MIN_AGE_MS).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const normal = await post(server.port, '/v1/detect', person, 'image/jpeg');
    const peak = peakTracked ? await server.peakRssBytes() : await server.rssBytes();
    // The refused ones close on their own once answered; the admitted ones hold until released.
    await waitFor(() => (answered >= 64 - BUDGET / BODY_LIMIT ? true : undefined), 'the uploads beyond the budget to be answered', 10_000);
    for (const upload of flood) upload.release();
    const outcomes = await Promise.all(flood.map((upload) => upload.outcome));

    const counts = tally(outcomes);
    console.log(`body flood: ${JSON.stringify(counts)}; RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB (${peakTracked ? 'VmHWM' : 'sampled VmRSS'})`);
    expect(normal.status).toBe(200);
    // The budget holds two bodies of 4 MiB: the others were answered while their bodies were still held.
    expect(counts['503']).toBeGreaterThanOrEqual(64 - BUDGET / BODY_LIMIT);
    const refused = outcomes.find((outcome) => outcome.status === 503)!;
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'OVERLOADED', message: expect.stringMatching(/past the budget of 8388608/), statusCode: 503 });
    expect(refused.head).toMatch(/^retry-after: 1$/im);
    // One admitted body, the slowest, was ended so that the normal request could run.
    expect(counts['408']).toBeGreaterThanOrEqual(1);
    // The budget's 8 MiB, and what the refused uploads sent, read and discarded while their 503 reaches them (a lingering
    // close) until the garbage collector takes it: 39-46 MiB in three runs. Every body read would be 240 MiB.
    expect(peak - before).toBeLessThan(100 * MiB);
  }, 60_000);

  it('answers a body sent to a route that takes none at once, without reading the body (it was read whole first)', async () => {
    // The body is declared and never sent: an answer can only come before it.
    const head = (method: string, url: string) => `${method} ${url} HTTP/1.1\r\nHost: device\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: ${BODY_LIMIT}\r\n\r\n`;
    const notFound = await exchange(server.port, head('POST', '/v1/nowhere'), person);
    expect(notFound.status).toBe(404);
    const health = await exchange(server.port, head('POST', '/health/live'), person);
    expect(health.status).toBe(404);
  }, 30_000);
});
