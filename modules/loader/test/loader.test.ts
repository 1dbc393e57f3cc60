import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { Loader } from '../src/reconcile/loader.js';
import { FaultServer } from '@edge-ml/testkit';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { ssdPackage } from './zip-fixtures.js';

let server: FaultServer;
let baseUrl: string;
let storage: string;
let edge: RecordingEdgeClient;
let loader: Loader;
let pkg: Buffer;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

beforeEach(async () => {
  pkg = await ssdPackage({ folder: 'ssd' });
  server = new FaultServer(pkg);
  baseUrl = await server.listen();
  storage = await mkdtemp(path.join(tmpdir(), 'loader-'));
  edge = new RecordingEdgeClient();
  loader = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'loader-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await loader.initialise();
});
afterEach(async () => {
  await loader.close();
  await server.close();
});

describe('Loader', () => {
  it('handles the seed flat form end to end: download, MD5 check, extract, install, announce, report', async () => {
    loader.applyDesired({ version: 2, full: true, properties: { FileName: 'ssd-v1.zip', DownloadUrl: `${baseUrl}/models/ssd-v1.zip?sv=1&sig=SECRET`, ContentMD5: Buffer.from(md5(pkg), 'hex').toString('base64') } });
    await loader.whenIdle();
    const version = `md5-${md5(pkg).slice(0, 12)}`;
    const announced = JSON.parse(await readFile(path.join(storage, ANNOUNCED_MODEL_POINTER), 'utf8'));
    expect(announced).toMatchObject({ name: 'ssd-v1', version, local_model_path: `models/ssd-v1/${version}/ssd/ssd_mobilenet_v1_coco_quant_detect.tflite`, local_labelmap_path: `models/ssd-v1/${version}/ssd/labelmap.txt` });
    expect(edge.outputs).toEqual([{ outputName: 'DLModelOutput', body: announced }]);
    expect(edge.states()).toEqual(expect.arrayContaining(['downloading', 'verifying', 'extracting', 'staged', 'active']));
    expect(edge.reportedState).toMatchObject({ LatestAIModelFileName: 'ssd-v1.zip', activeModel: { name: 'ssd-v1', version }, modelUpdate: { state: 'active' } });
    // Reported properties merge: the error and the download figures of earlier states are removed by sending null.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('bytesDownloaded');
    expect(JSON.stringify(edge.reported)).not.toContain('SECRET');
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });

  it('reports which desired form it follows: the rich model wins and the seed fields beside it are named as ignored', async () => {
    const seed = { FileName: 'ssd-seed.zip', DownloadUrl: `${baseUrl}/models/ssd-seed.zip` };
    loader.applyDesired({ version: 1, full: true, properties: { ...seed, model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ desiredForm: { followed: 'rich', ignored: ['FileName', 'DownloadUrl'] }, activeModel: { name: 'ssd', version: '1' } });
    // Removing the rich model (null in a patch, as the hub sends it) hands over to the seed form.
    loader.applyDesired({ version: 2, full: false, properties: { model: null } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ desiredForm: { followed: 'seed', ignored: [] }, activeModel: { name: 'ssd-seed' } });
  });

  it('reports a dotted model name of the single form under its twin key (ssd%2Ev1), which the hub accepts', async () => {
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd.v1', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    // A key holding "." makes the hub refuse the whole patch: modelUpdate and activeModel would be lost with it.
    expect(edge.refused).toEqual([]);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', name: 'ssd.v1' }, activeModel: { name: 'ssd.v1', version: '1' }, models: { 'ssd%2Ev1': { state: 'active', name: 'ssd.v1', activeVersion: { version: '1' } } } });
    expect(Object.keys(edge.reportedState.models as object)).toEqual(['ssd%2Ev1']);
    expect(await readdir(path.join(storage, 'models'))).toContain('ssd.v1');
  });

  it('rejects a package whose sha256 differs, keeps the old model announced and says why', async () => {
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    loader.applyDesired({ version: 2, full: false, properties: { model: { version: '2', sha256: 'f'.repeat(64) } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', version: '2', error: { code: 'LOADER_CHECKSUM_MISMATCH' } }, activeModel: { version: '1' } });
    expect((await loader.repository.readAnnounced())?.version).toBe('1');
    expect(await readdir(path.join(storage, 'models', 'ssd'))).toEqual(['1']);
    expect(edge.outputs).toHaveLength(1);
  });

  it('waits for a new URL after a 403 instead of hammering, then completes', async () => {
    server.faults.push({ kind: 'status', status: 403 });
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip?sig=expired`, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_SAS_REJECTED' } } });
    expect(server.requests).toHaveLength(1);
    loader.applyDesired({ version: 2, full: false, properties: { model: { url: `${baseUrl}/ssd.zip?sig=fresh` } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
  });

  it('retries dropped connections with backoff and resumes each time', async () => {
    for (let drop = 0; drop < 5; drop += 1) server.faults.push({ kind: 'reset-after', bytes: 400_000 });
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active' } });
    expect(server.requests.slice(1).every((request) => request.range !== undefined)).toBe(true);
    expect(server.bytesSent).toBeLessThan(pkg.length * 1.05);
  });

  it('ignores a repeated or stale desired version, and a repeat of the active model sends nothing new', async () => {
    const properties = { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } };
    loader.applyDesired({ version: 3, full: true, properties });
    await loader.whenIdle();
    loader.applyDesired({ version: 2, full: false, properties: { model: null } });
    loader.applyDesired({ version: 3, full: true, properties });
    await loader.whenIdle();
    expect(edge.outputs).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it('keeps N versions plus the announced one', async () => {
    for (const version of ['1', '2', '3', '4']) {
      loader.applyDesired({ version: Number(version), full: true, properties: { model: { name: 'ssd', version, url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) }, policy: { keepVersions: 1 } } });
      await loader.whenIdle();
    }
    expect((await readdir(path.join(storage, 'models', 'ssd'))).sort()).toEqual(['3', '4']);
  });
});

describe('Loader policy', () => {
  it('caps the bandwidth with policy.maxBytesPerSecond', async () => {
    const small = await ssdPackage();
    const local = new FaultServer(small);
    const url = await local.listen();
    const started = performance.now();
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${url}/ssd.zip`, sha256: sha256(small) }, policy: { maxBytesPerSecond: 8_000_000 } } });
    await loader.whenIdle();
    expect(performance.now() - started).toBeGreaterThan((small.length / 8_000_000) * 1000 * 0.8);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active' } });
    await local.close();
  });
});

describe('Loader direct methods and free space', () => {
  it('updates by method, lists versions, and rolls back to the previous one until a newer desired version', async () => {
    const { registerLoaderMethods } = await import('../src/edge/loader-methods.js');
    registerLoaderMethods(edge, loader);
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    const update = await edge.methods.get('updateModel')!({ name: 'ssd', url: `${baseUrl}/ssd.zip?sig=m`, version: '2', sha256: sha256(pkg) });
    expect(update).toEqual({ status: 202, payload: { accepted: true, name: 'ssd', version: '2' } });
    await loader.whenIdle();
    expect((await loader.repository.readAnnounced())?.version).toBe('2');
    const listed = await edge.methods.get('listModels')!(null);
    expect(listed.payload).toMatchObject({ announced: { name: 'ssd', version: '2' }, installed: [{ version: '2' }, { version: '1' }] });
    expect(await edge.methods.get('rollback')!(null)).toEqual({ status: 202, payload: { accepted: true, name: 'ssd', version: '1' } });
    await loader.whenIdle();
    expect((await loader.repository.readAnnounced())?.version).toBe('1');
    expect(server.requests).toHaveLength(2);
    expect((await edge.methods.get('updateModel')!({ url: 'not a url', version: '3' })).status).toBe(400);
    // A newer desired version ends the rollback.
    loader.applyDesired({ version: 2, full: false, properties: { model: { version: '2' } } });
    await loader.whenIdle();
    expect((await loader.repository.readAnnounced())?.version).toBe('2');
  });

  it('refuses to start a download that the shared storage cannot hold, and says so', async () => {
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'huge', version: '1', url: `${baseUrl}/huge.zip`, sha256: sha256(pkg), sizeBytes: 2 ** 52 } } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(edge.reportedState).toMatchObject({ modelUpdate: { error: { code: 'LOADER_DISK_FULL', message: expect.stringContaining('not enough free space') } } });
    expect(server.requests).toHaveLength(0);
  });
});
