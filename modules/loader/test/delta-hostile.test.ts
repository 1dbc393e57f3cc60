/**
 * The delta paths against hostile chunk lists, patches and blob servers, through the in-process loader and a loopback
 * blob server: every one ends on the full package (or the delta path), never in a loop, and leaves staging clean.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeltaManifestV2 } from '@edge-ml/contracts';
import { createPatch, encodeChunkList, encodeGroupList } from '@edge-ml/delta';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer, freePort } from '@edge-ml/testkit';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { buildZip, ssdDeltaManifest, TESTDATA } from './zip-fixtures.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
/** Unsigned LEB128, as the lists' headers write their fields. */
const varints = (...values: number[]) => {
  const bytes: number[] = [];
  for (let value of values) {
    while (value >= 0x80) {
      bytes.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    bytes.push(value);
  }
  return Buffer.from(bytes);
};
/** Deterministic bytes for seed `seed`. */
const bytesOf = (seed: number, length: number) => {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length; at += 32) createHash('sha256').update(`${seed}:${at}`).digest().copy(out, at);
  return out;
};

let plainModel: Buffer;
let nextModel: Buffer;
let labels: Buffer;
let v1: Buffer;
let v2: Buffer;
let storage: string;
let server: FaultServer;
let baseUrl: string;
let edge: RecordingEdgeClient;
let loader: Loader | undefined;
let logs: { msg: string; reason?: string; path?: string; removed?: string[] }[];

beforeAll(async () => {
  plainModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
  labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
  // Two changed stretches far apart: two ranges of model bytes on the chunk path.
  nextModel = Buffer.from(plainModel);
  bytesOf(1, 3000).copy(nextModel, 1_000_000);
  bytesOf(2, 3000).copy(nextModel, 3_000_000);
  v1 = await buildZip([{ name: 'detect.tflite', data: plainModel }, { name: 'labelmap.txt', data: labels }]);
  v2 = await buildZip([{ name: 'detect.tflite', data: nextModel }, { name: 'labelmap.txt', data: labels }]);
});

async function startLoader(options: { initialDelayMs?: number; stallRule?: { minBytesPerSecond: number; windowMs: number } } = {}): Promise<Loader> {
  loader = new Loader({
    storageRoot: storage,
    edge,
    logger: createLogger({ name: 'delta-hostile-test', level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) } }),
    backoff: { initialDelayMs: options.initialDelayMs ?? 20, maxDelayMs: options.initialDelayMs ?? 100 },
    progressIntervalMs: 0,
    ...(options.stallRule ? { stallRule: options.stallRule } : {}),
  });
  await loader.initialise();
  return loader;
}

beforeEach(async () => {
  storage = await mkdtemp(path.join(tmpdir(), 'delta-hostile-'));
  logs = [];
  edge = new RecordingEdgeClient();
  server = new FaultServer(Buffer.alloc(0));
  baseUrl = await server.listen();
  server.serve('/ssd-1.zip', v1);
  server.serve('/ssd-2.zip', v2);
  server.serve('/ssd-2.model', nextModel);
  const installed = await startLoader();
  installed.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd-1.zip`, sha256: sha256(v1) }, policy: { confirmTimeoutSeconds: 0 } } });
  await installed.whenIdle();
  expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
  server.requests.length = 0;
});
afterEach(async () => {
  await loader?.close();
  loader = undefined;
  await server.close();
});

/** Publishes v2's delta manifest (chunks from `list`, patches as given) and returns its URL. */
function publish(options: { list?: { blob: Uint8Array; listSizeBytes: number }; modelSizeBytes?: number; patches?: DeltaManifestV2['patches']; modelUrl?: string }): string {
  const list = options.list ?? encodeGroupList(nextModel);
  const manifest = ssdDeltaManifest({
    version: '2',
    pkg: v2,
    model: nextModel,
    labels,
    ...(options.modelSizeBytes === undefined ? {} : { modelSizeBytes: options.modelSizeBytes }),
    ...(options.patches ? { patches: options.patches } : {}),
    chunks: { list: list.blob, listSizeBytes: list.listSizeBytes, listUrl: `${baseUrl}/ssd-2.chunks`, modelUrl: options.modelUrl ?? `${baseUrl}/ssd-2.model` },
  });
  server.serve('/ssd-2.chunks', Buffer.from(list.blob));
  server.serve('/ssd-2.delta.json', Buffer.from(JSON.stringify(manifest)));
  return `${baseUrl}/ssd-2.delta.json`;
}

const desireV2 = (target: Loader, manifestUrl: string, version = 2) =>
  target.applyDesired({ version, full: true, properties: { model: { name: 'ssd', version: '2', url: `${baseUrl}/ssd-2.zip`, sha256: sha256(v2), sizeBytes: v2.length, delta: { manifestUrl } }, policy: { confirmTimeoutSeconds: 0 } } });
const requested = (pathname: string) => server.requests.filter((request) => new URL(request.url, baseUrl).pathname === pathname);
const givenUp = () => logs.filter((line) => line.msg === 'model.patch.unavailable').map((line) => `${line.path}: ${line.reason}`);
const staging = async () => readdir(path.join(storage, '.staging'));

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 20_000) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(edge.reportedState.modelUpdate)}; ${server.requests.map((request) => `${request.url} ${request.range ?? ''}`).join(', ')}; ${logs.map((line) => line.msg).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a chunk list that lies about its sizes', () => {
  it('a single-level list with an average of 0 (it hung the loader, growing without bound) lands v2 by the full package', async () => {
    const packed = brotliCompressSync(Buffer.alloc(0));
    const list = Buffer.concat([Buffer.from('EMCL'), varints(0, 0, packed.length), packed]);
    desireV2(loader!, publish({ list: { blob: list, listSizeBytes: list.length } }));
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(givenUp()).toEqual(["chunks: the chunk list's chunk average (0) is outside 64–16777216"]);
    expect(requested('/ssd-2.model')).toEqual([]);
  });

  it('a single-level list whose lengths are a compression bomb is refused without inflating it', async () => {
    // 64 MiB of zeros as the lengths of one chunk, in a list of a few KiB.
    const packed = brotliCompressSync(Buffer.alloc(64 << 20), { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
    const list = Buffer.concat([Buffer.from('EMCL'), varints(1024, 1, packed.length), packed, Buffer.alloc(6)]);
    expect(list.length).toBeLessThan(8_000);
    desireV2(loader!, publish({ list: { blob: list, listSizeBytes: list.length } }));
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(givenUp()).toEqual(['chunks: the chunk list is corrupt']);
  });

  it('a single-level list describing one byte more than the manifest’s model is refused once (it was LOADER_INTERNAL, retried for ever)', async () => {
    const list = encodeChunkList(nextModel);
    desireV2(loader!, publish({ list: { blob: list, listSizeBytes: list.length }, modelSizeBytes: nextModel.length - 1 }));
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(givenUp()).toEqual([`chunks: the chunk list describes ${nextModel.length} bytes, the manifest's model is ${nextModel.length - 1}`]);
    expect(requested('/ssd-2.chunks')).toHaveLength(1);
  });

  it('a two-level list of 32 "held" groups of 128 MiB (a 4 GiB model) is refused before anything is allocated', async () => {
    const key = createHash('sha256').update(plainModel).digest().subarray(0, 4);
    const lengths = brotliCompressSync(varints(...Array.from({ length: 32 }, () => 128 << 20)));
    const list = Buffer.concat([Buffer.from('EMCG'), varints(16 << 20, 256, 4, 2, 32, lengths.length), lengths, ...Array.from({ length: 32 }, () => key)]);
    desireV2(loader!, publish({ list: { blob: list, listSizeBytes: list.length }, modelSizeBytes: 32 * (128 << 20) }));
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    // The package is 2.8 MB: at the extraction's 100:1 limit it cannot hold a model of more than 280 MB.
    expect(givenUp()).toEqual([`chunks: the delta manifest's model is ${32 * (128 << 20)} bytes, more than the package can hold (${v2.length * 100})`]);
    expect(requested('/ssd-2.chunks')).toEqual([]);
  });
});

describe('a delta path whose own blobs keep failing, while the package answers', () => {
  it('a model blob that answers 503 every time: 3 attempts in a row, counted across a restart, then the full package', async () => {
    server.pathFaults.set('/ssd-2.model', Array.from({ length: 1_000 }, () => ({ kind: 'status', status: 503 }) as const));
    // The first loader waits long after a failure: it is stopped after one attempt, as a power cut would.
    await loader!.close();
    const first = await startLoader({ initialDelayMs: 60_000 });
    desireV2(first, publish({}));
    await waitFor(() => (edge.reportedState.modelUpdate as { error?: { code: string } | null }).error?.code === 'LOADER_DOWNLOAD_INTERRUPTED', 'the first failure');
    await first.close();
    const attemptsBefore = requested('/ssd-2.model').length;
    expect(attemptsBefore).toBeGreaterThan(0);
    const second = await startLoader();
    desireV2(second, publish({}));
    await second.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(givenUp()).toEqual([expect.stringMatching(/^chunks: 3 attempts in a row failed on its blobs; the last: the download was interrupted: HTTP 503 for model bytes/)]);
    // Each attempt asked for the model ranges it lacked; the hashes and ranges stored meanwhile were not fetched again.
    expect(requested('/ssd-2.zip')).toHaveLength(1);
    // Installed, the target's attempts are done with.
    expect(second.loaderState.entries.ssd?.deltaAttempts).toBeNull();
    expect(await staging()).toEqual([]);
  });

  it('a chunk list that trickles every time (the stall rule) ends on the full package after 3 attempts', async () => {
    await loader!.close();
    const trickling = await startLoader({ stallRule: { minBytesPerSecond: 1_000, windowMs: 300 } });
    server.pathFaults.set('/ssd-2.chunks', Array.from({ length: 100 }, () => ({ kind: 'paced-after', bytes: 0, chunkBytes: 1, intervalMs: 100 }) as const));
    desireV2(trickling, publish({}));
    await trickling.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(requested('/ssd-2.chunks')).toHaveLength(3);
    expect(givenUp()).toEqual([expect.stringMatching(/^chunks: 3 attempts in a row failed on its blobs; the last: the download stalled/)]);
  });

  it('keeps the ranges it stored while the chunk path is retried, and lands by chunks once the blob answers', async () => {
    await loader!.close();
    // A backoff long enough for the range that arrived to be stored before the retry.
    await startLoader({ initialDelayMs: 500 });
    // The two model ranges are asked for at once: one arrives, the other fails; the retry asks only for the other.
    server.pathFaults.set('/ssd-2.model', [{ kind: 'none' }, { kind: 'status', status: 503 }]);
    const sentBefore = server.bytesSent;
    desireV2(loader!, publish({}));
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'chunks' } });
    // Both attempts' bytes (the list twice, the hashes and the first range once, the second range) are counted.
    expect((edge.reportedState.modelUpdate as { bytesFetched: number }).bytesFetched).toBe(server.bytesSent - sentBefore);
    const ranges = requested('/ssd-2.model').map((request) => request.range);
    expect(ranges).toHaveLength(3);
    expect(new Set(ranges).size).toBe(2);
    expect(loader!.loaderState.entries.ssd?.deltaAttempts).toBeNull();
  });

  it('a model blob on a server that cannot be reached at all (the link is down) is not counted: the update waits and lands by chunks', async () => {
    const port = await freePort();
    desireV2(loader!, publish({ modelUrl: `http://127.0.0.1:${port}/ssd-2.model` }));
    const refused = () => edge.reported.filter((patch) => (patch.modelUpdate as { error?: { code: string } | null } | undefined)?.error?.code === 'LOADER_DOWNLOAD_INTERRUPTED').length;
    await waitFor(() => refused() >= 5, 'five refused connections');
    const late = new FaultServer(nextModel);
    await late.listen(port);
    try {
      await loader!.whenIdle();
      expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'chunks' } });
      expect(requested('/ssd-2.zip')).toEqual([]);
      expect(givenUp()).toEqual([]);
    } finally {
      await late.close();
    }
  });
});

describe('staged delta work of a target the loader moved on from', () => {
  it('is removed when a new desired version supersedes it: the chunk path’s ranges and the patch’s partial', async () => {
    await loader!.close();
    const waiting = await startLoader({ initialDelayMs: 60_000 });
    // v2 by chunks: the block hashes arrive and are stored, the model blob fails; the loader waits to retry.
    server.pathFaults.set('/ssd-2.model', [{ kind: 'status', status: 503 }, { kind: 'status', status: 503 }]);
    desireV2(waiting, publish({}));
    await waitFor(() => requested('/ssd-2.model').length > 0 && (edge.reportedState.modelUpdate as { error?: unknown }).error != null, 'the model blob to fail');
    expect((await staging()).filter((entry) => entry.endsWith('.partial.chunks'))).toHaveLength(1);
    // v3 by a patch whose blob drops mid-way: its partial is kept for the retry.
    const v3Model = Buffer.from(nextModel);
    bytesOf(3, 100).copy(v3Model, 500);
    const v3 = await buildZip([{ name: 'detect.tflite', data: v3Model }, { name: 'labelmap.txt', data: labels }]);
    const patch = Buffer.from(createPatch(plainModel, v3Model));
    server.serve('/ssd-3.zip', v3);
    server.serve('/ssd-3.patch', Buffer.concat([patch, bytesOf(4, 20_000)]));
    server.pathFaults.set('/ssd-3.patch', [{ kind: 'reset-after', bytes: 1_000 }]);
    const manifest3 = ssdDeltaManifest({
      version: '3',
      pkg: v3,
      model: v3Model,
      labels,
      patches: [{ fromSha256: sha256(plainModel), url: `${baseUrl}/ssd-3.patch`, sha256: sha256(patch), sizeBytes: patch.length + 20_000 }],
    });
    server.serve('/ssd-3.delta.json', Buffer.from(JSON.stringify(manifest3)));
    const v3Desired = { model: { name: 'ssd', version: '3', url: `${baseUrl}/ssd-3.zip`, sha256: sha256(v3), sizeBytes: v3.length, delta: { manifestUrl: `${baseUrl}/ssd-3.delta.json` } }, policy: { confirmTimeoutSeconds: 0 } };
    waiting.applyDesired({ version: 3, full: true, properties: v3Desired });
    await waitFor(() => requested('/ssd-3.patch').length > 0 && (edge.reportedState.modelUpdate as { version?: string; error?: unknown }).version === '3' && (edge.reportedState.modelUpdate as { error?: unknown }).error != null, 'the patch to drop');
    const afterV3 = await staging();
    expect(afterV3.filter((entry) => entry.endsWith('.partial.chunks'))).toEqual([]);
    expect(afterV3.filter((entry) => entry.endsWith('.partial.patch'))).toHaveLength(1);
    // v4: the full package of v1's bytes again under a new version; v3's patch partial goes too.
    waiting.applyDesired({ version: 4, full: true, properties: { model: { name: 'ssd', version: '4', url: `${baseUrl}/ssd-1.zip`, sha256: sha256(v1) }, policy: { confirmTimeoutSeconds: 0 } } });
    await waiting.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '4' } });
    expect(await staging()).toEqual([]);
    expect(logs.filter((line) => line.msg === 'repository.staging.superseded').map((line) => line.removed?.map((entry) => entry.replace(/^[0-9a-f]+/, '<key>')))).toEqual([['<key>.partial.chunks'], ['<key>.partial.patch', '<key>.partial.patch.json']]);
  });
});

describe('a patch the loader gives up', () => {
  it('counts the rejected patch’s bytes in bytesFetched (they crossed the wire), and words the reason for the patch blob', async () => {
    const patch = Buffer.from(createPatch(plainModel, nextModel));
    const corrupt = Buffer.from(patch);
    corrupt[corrupt.length - 20] = (corrupt[corrupt.length - 20] ?? 0) ^ 0xff;
    server.serve('/ssd-2.patch', corrupt);
    const manifestUrl = publish({ patches: [{ fromSha256: sha256(plainModel), url: `${baseUrl}/ssd-2.patch`, sha256: sha256(corrupt), sizeBytes: corrupt.length }] });
    // Chunks are not taken either (the model blob is gone): the update ends on the package.
    server.pathFaults.set('/ssd-2.model', [{ kind: 'status', status: 404 }, { kind: 'status', status: 404 }]);
    const sentBefore = server.bytesSent;
    desireV2(loader!, manifestUrl);
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect((edge.reportedState.modelUpdate as { bytesFetched: number }).bytesFetched).toBe(server.bytesSent - sentBefore);
    expect(givenUp()[0]).toMatch(/^patch: /);
  });

  it('a patch blob that is gone or refused is reported as the patch blob, not as the package or the desired properties', async () => {
    server.pathFaults.set('/ssd-2.patch', [{ kind: 'status', status: 403 }]);
    const manifestUrl = publish({ patches: [{ fromSha256: sha256(plainModel), url: `${baseUrl}/ssd-2.patch`, sha256: 'a'.repeat(64), sizeBytes: 1000 }] });
    server.serve('/ssd-2.patch', Buffer.alloc(1000));
    desireV2(loader!, manifestUrl);
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'chunks' } });
    expect(givenUp()).toEqual(["patch: the patch blob's URL was refused (HTTP 403): the SAS token in the delta manifest has expired or is invalid"]);
  });
});

describe('byte ranges and content encoding', () => {
  it('asks for ranges as stored (Accept-Encoding: identity); a range sent gzip-encoded anyway is refused, and bytesFetched counts what the loader received', async () => {
    const encodings: (string | undefined)[] = [];
    let gzipBytes = 0;
    const gzipping = http.createServer((request, response) => {
      encodings.push(request.headers['accept-encoding']);
      const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') ?? [];
      const body = gzipSync(nextModel.subarray(Number(start), Number(end) + 1));
      gzipBytes += body.length;
      response.writeHead(206, { 'content-encoding': 'gzip', 'content-length': body.length, 'content-range': `bytes ${start}-${end}/${nextModel.length}` });
      response.end(body);
    });
    await new Promise<void>((resolve) => gzipping.listen(0, '127.0.0.1', resolve));
    try {
      const sentBefore = server.bytesSent;
      desireV2(loader!, publish({ modelUrl: `http://127.0.0.1:${(gzipping.address() as AddressInfo).port}/ssd-2.model` }));
      await loader!.whenIdle();
      expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
      expect(encodings.length).toBeGreaterThan(0);
      expect(encodings.every((value) => value === 'identity')).toBe(true);
      expect(givenUp()).toEqual([expect.stringMatching(/^chunks: model bytes \d+-\d+: the body came with Content-Encoding gzip, though identity was asked for$/)]);
      // Refused at their headers, the encoded bodies were never read: what the loader counts is what it received from the blob server.
      expect(gzipBytes).toBeGreaterThan(0);
      expect((edge.reportedState.modelUpdate as { bytesFetched: number }).bytesFetched).toBe(server.bytesSent - sentBefore);
    } finally {
      gzipping.closeAllConnections();
      await new Promise((resolve) => gzipping.close(resolve));
    }
  });
});
