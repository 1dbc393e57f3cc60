import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeChunkList } from '@edge-ml/delta';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer } from '@edge-ml/testkit';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { buildZip, ssdDeltaManifest, TESTDATA } from './zip-fixtures.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
/** Small windows keep the tests quick: 1,000 B/s over half a second. */
const stallRule = { minBytesPerSecond: 1_000, windowMs: 500 };
let plainModel: Buffer;
let metadataModel: Buffer;
let v1: Buffer;
let v2: Buffer;
let server: FaultServer;
let baseUrl: string;
let edge: RecordingEdgeClient;
let loader: Loader;

beforeEach(async () => {
  plainModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
  metadataModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_1_metadata_1.tflite'));
  const labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
  v1 = await buildZip([{ name: 'detect.tflite', data: plainModel }, { name: 'labelmap.txt', data: labels }]);
  v2 = await buildZip([{ name: 'detect.tflite', data: metadataModel }, { name: 'labelmap.txt', data: labels }]);
  server = new FaultServer(v1);
  baseUrl = await server.listen();
  server.serve('/ssd-2.zip', v2);
  edge = new RecordingEdgeClient();
  loader = new Loader({ storageRoot: await mkdtemp(path.join(tmpdir(), 'hostile-server-')), edge, logger: createLogger({ name: 'hostile-server-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0, stallRule });
  await loader.initialise();
  loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd-1.zip?sig=SECRET`, sha256: sha256(v1) } } });
  await loader.whenIdle();
  expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
  server.requests.length = 0;
});
afterEach(async () => {
  await loader.close();
  await server.close();
});

const v2Model = (fields: Record<string, unknown> = {}) => ({ model: { name: 'ssd', version: '2', url: `${baseUrl}/ssd-2.zip?sig=SECRET`, sha256: sha256(v2), sizeBytes: v2.length, ...fields } });
const errorsReported = () => edge.reported.map((patch) => (patch.modelUpdate as { state?: string; error?: { code: string; message: string } | null } | undefined)).filter((update) => update?.error).map((update) => ({ state: update?.state, code: update?.error?.code }));
const pathsRequested = () => server.requests.map((request) => new URL(request.url, baseUrl).pathname);

describe('a download server that trickles', () => {
  it('is reported LOADER_DOWNLOAD_STALLED while downloading, retried with backoff, and resumed by Range from the bytes received', async () => {
    server.faults.push({ kind: 'paced-after', bytes: 200_000, chunkBytes: 1, intervalMs: 100 });
    loader.applyDesired({ version: 2, full: true, properties: v2Model() });
    await loader.whenIdle();
    expect(errorsReported()).toEqual([{ state: 'downloading', code: 'LOADER_DOWNLOAD_STALLED' }]);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(server.requests).toHaveLength(2);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(server.requests[1]?.range ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThanOrEqual(200_000);
    expect(JSON.stringify(edge.reported)).not.toContain('SECRET');
  });

  it('is a stall on the chunk path too: a trickling byte range is reported, retried, and the chunks path completes', async () => {
    const list = encodeChunkList(metadataModel);
    server.serve('/ssd-2.chunks', Buffer.from(list));
    server.serve('/ssd-2.model', metadataModel);
    const labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
    const manifest = ssdDeltaManifest({ version: '2', pkg: v2, model: metadataModel, labels, chunks: { list, listUrl: `${baseUrl}/ssd-2.chunks`, modelUrl: `${baseUrl}/ssd-2.model` } });
    server.serve('/ssd-2.delta.json', Buffer.from(JSON.stringify(manifest)));
    // The manifest and the chunk list are served as they are; the first byte range trickles.
    server.faults.push({ kind: 'none' }, { kind: 'none' }, { kind: 'paced-after', bytes: 0, chunkBytes: 1, intervalMs: 100 });
    loader.applyDesired({ version: 2, full: true, properties: v2Model({ delta: { manifestUrl: `${baseUrl}/ssd-2.delta.json` } }) });
    await loader.whenIdle();
    expect(errorsReported()).toEqual([{ state: 'downloading', code: 'LOADER_DOWNLOAD_STALLED' }]);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'chunks' } });
    expect(pathsRequested()).not.toContain('/ssd-2.zip');
  });
});

describe('a download URL that redirects where the loader does not follow', () => {
  for (const [what, location] of [
    ['file://', 'file:///etc/passwd'],
    ['ftp://', 'ftp://127.0.0.1/ssd-2.zip'],
    ['itself (a loop)', '/ssd-2.zip?sig=SECRET'],
  ] as const) {
    it(`fails the version when it redirects to ${what}: LOADER_DOWNLOAD_REDIRECT_REFUSED, not retried, v1 keeps serving`, async () => {
      server.faults.push({ kind: 'redirect', location });
      loader.applyDesired({ version: 2, full: true, properties: v2Model() });
      await loader.whenIdle();
      expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', version: '2', error: { code: 'LOADER_DOWNLOAD_REDIRECT_REFUSED' } }, activeModel: { version: '1' } });
      expect(errorsReported()).toEqual([{ state: 'failed', code: 'LOADER_DOWNLOAD_REDIRECT_REFUSED' }]);
      expect(server.requests).toHaveLength(1);
      expect((await loader.repository.readAnnounced())?.version).toBe('1');
      expect(await readdir(path.join(loader.repository.root, '.staging'))).toEqual([]);
      expect(JSON.stringify(edge.reported)).not.toContain('SECRET');
      // The same desired model delivered again (a reconnect) is not tried again; a new URL is.
      loader.applyDesired({ version: 3, full: true, properties: v2Model() });
      await loader.whenIdle();
      expect(server.requests).toHaveLength(1);
      loader.applyDesired({ version: 4, full: true, properties: v2Model({ url: `${baseUrl}/ssd-2.zip?sig=NEW` }) });
      await loader.whenIdle();
      expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2' } });
    });
  }

  it('falls back to the full package when the delta manifest redirects to file://', async () => {
    server.faults.push({ kind: 'redirect', location: 'file:///etc/passwd' });
    loader.applyDesired({ version: 2, full: true, properties: v2Model({ delta: { manifestUrl: `${baseUrl}/ssd-2.delta.json` } }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(pathsRequested()).toEqual(['/ssd-2.delta.json', '/ssd-2.zip']);
  });
});
