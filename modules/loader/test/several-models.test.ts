import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, LoaderReportedSchema, SERVING_INDEX, ServingIndexSchema, type RichModelMessage } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer } from '@edge-ml/testkit';
import { registerLoaderMethods } from '../src/edge/loader-methods.js';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { distinctSsdPackages } from './zip-fixtures.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
let packages: Buffer[];
let server: FaultServer;
let slowServer: FaultServer;
let baseUrl: string;
let slowUrl: string;
let storage: string;
let edge: RecordingEdgeClient;
let loader: Loader;

/** Distinct packages (the SSD model padded differently), served under /<name>-<index>.zip for any name. */
beforeAll(async () => {
  packages = await distinctSsdPackages(4);
});

async function startLoader(options: { idleTimeoutMs?: number } = {}) {
  const next = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'several-models-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0, ...options });
  await next.initialise();
  registerLoaderMethods(edge, next);
  return next;
}

beforeEach(async () => {
  server = new FaultServer(packages[0]!);
  slowServer = new FaultServer(packages[0]!);
  baseUrl = await server.listen();
  slowUrl = await slowServer.listen();
  for (const name of ['ssd', 'cls', 'yolox']) packages.forEach((pkg, index) => server.serve(`/${name}-${index}.zip`, pkg));
  packages.forEach((pkg, index) => slowServer.serve(`/cls-${index}.zip`, pkg));
  storage = await mkdtemp(path.join(tmpdir(), 'loader-several-'));
  edge = new RecordingEdgeClient();
  loader = await startLoader();
});
afterEach(async () => {
  await loader.close();
  await server.close();
  await slowServer.close();
});

let desiredVersion = 0;
const entry = (name: string, index: number, url = baseUrl) => ({ version: String(index), url: `${url}/${name}-${index}.zip?sig=s`, sha256: sha256(packages[index]!) });
const desireModels = async (models: Record<string, object | null>, extra: Record<string, unknown> = {}, wait = true) => {
  desiredVersion += 1;
  loader.applyDesired({ version: desiredVersion, full: true, properties: { models, ...extra } });
  if (wait) await loader.whenIdle();
};
const readIndex = async () => ServingIndexSchema.parse(JSON.parse(await readFile(path.join(storage, SERVING_INDEX), 'utf8')));
const servedVersions = async () => Object.fromEntries(Object.entries((await readIndex()).models).map(([name, served]) => [name, `${served.announced.version}/${served.confirmed?.version ?? '-'}`]));
const pointer = async (file: string) => (existsSync(path.join(storage, file)) ? (JSON.parse(await readFile(path.join(storage, file), 'utf8')) as RichModelMessage) : undefined);
const reportedModels = () => LoaderReportedSchema.parse(edge.reportedState).models ?? {};
const announcementsOf = (name: string) => edge.outputs.filter((output) => (output.body as RichModelMessage).name === name).map((output) => (output.body as RichModelMessage).version);

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('several models', () => {
  it('delivers and confirms each entry on its own, reports each, and mirrors the default entry into the legacy pointers', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 2) }, { defaultModel: 'ssd' });
    expect(await servedVersions()).toEqual({ ssd: '1/1', cls: '2/2' });
    expect((await readIndex()).defaultModel).toBe('ssd');
    expect(reportedModels()).toMatchObject({ ssd: { state: 'active', version: '1', activeVersion: { version: '1' }, installedVersions: ['1'] }, cls: { state: 'active', version: '2', activeVersion: { version: '2' }, installedVersions: ['2'] } });
    // The default entry keeps the single-model fields, and the legacy pointers name it.
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', name: 'ssd' }, activeModel: { name: 'ssd', version: '1' }, LatestAIModelFileName: 'ssd-1.zip' });
    expect((await pointer(ANNOUNCED_MODEL_POINTER))?.name).toBe('ssd');
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.name).toBe('ssd');
    expect(loader.loaderState.confirmations).toMatchObject({ ssd: [{ version: '1' }], cls: [{ version: '2' }] });
    const listed = await edge.methods.get('listModels')!(null);
    expect(listed.payload).toMatchObject({ defaultModel: 'ssd', confirmed: { name: 'ssd' }, models: { ssd: { desired: true, confirmed: { version: '1' } }, cls: { desired: true, confirmed: { version: '2' }, installed: [{ name: 'cls', version: '2', verdict: 'confirmed' }] } } });
  });

  it('rejects and falls back within one entry, leaving the other serving untouched', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 1) });
    edge.answer = (announcement) => (announcement.name === 'cls' && announcement.version === '2' ? { outcome: 'rejected', code: 'MODEL_LOAD_FAILED' } : { outcome: 'accepted' });
    await desireModels({ ssd: entry('ssd', 2), cls: entry('cls', 2) });
    expect(await servedVersions()).toEqual({ ssd: '2/2', cls: '1/1' });
    expect(reportedModels()).toMatchObject({ ssd: { state: 'active', version: '2' }, cls: { state: 'rejected', version: '2', error: { code: 'MODEL_LOAD_FAILED' }, activeVersion: { version: '1' } } });
    expect(announcementsOf('cls')).toEqual(['1', '2', '1']);
    expect(announcementsOf('ssd')).toEqual(['1', '2']);
  });

  it("never holds one entry up with another's stalled download or wait for confirmation", async () => {
    await loader.close();
    loader = await startLoader({ idleTimeoutMs: 1_000 });
    // cls's download stalls (then times out and resumes); ssd's inference module answers only when told.
    slowServer.faults.push({ kind: 'stall-after', bytes: 1_000 });
    edge.answer = (announcement) => (announcement.name === 'ssd' ? 'silent' : { outcome: 'accepted' });
    await desireModels({ ssd: entry('ssd', 1), yolox: entry('yolox', 1), cls: entry('cls', 1, slowUrl) }, { policy: { confirmTimeoutSeconds: 60, confirmResendSeconds: 30 } }, false);
    await waitUntil(() => reportedModels().yolox?.state === 'active');
    expect(reportedModels().ssd?.state).toBe('announced');
    await waitUntil(() => reportedModels().cls?.state === 'active');
    expect(reportedModels().ssd?.state).toBe('announced');
    expect(slowServer.requests.length).toBeGreaterThanOrEqual(2);
    const ssd = edge.outputs.find((output) => (output.body as RichModelMessage).name === 'ssd')!.body as RichModelMessage;
    edge.answer = () => ({ outcome: 'accepted' });
    loader.receiveStatus({ schemaVersion: 1, name: 'ssd', version: '1', sha256: ssd.sha256, trigger: 'message', at: new Date().toISOString(), outcome: 'accepted', loadMs: 1, warmupMs: 1 });
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ ssd: '1/1', yolox: '1/1', cls: '1/1' });
  });

  it('keeps a removed entry in the index until the others are settled and confirmed, then deletes it after the grace period', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 1) }, { policy: { removeGraceSeconds: 3600 } });
    edge.answer = (announcement) => (announcement.name === 'ssd' && announcement.version === '2' ? 'silent' : { outcome: 'accepted' });
    await desireModels({ ssd: entry('ssd', 2) }, { policy: { removeGraceSeconds: 3600, confirmTimeoutSeconds: 60 } }, false);
    await waitUntil(() => reportedModels().ssd?.state === 'announced');
    // ssd@2 is on trial: cls keeps serving (never dark), reported removed.
    expect(Object.keys((await readIndex()).models).sort()).toEqual(['cls', 'ssd']);
    expect(reportedModels().cls).toMatchObject({ state: 'removed', removeAfter: expect.any(String) });
    const ssd = edge.outputs.at(-1)!.body as RichModelMessage;
    loader.receiveStatus({ schemaVersion: 1, name: 'ssd', version: '2', sha256: ssd.sha256, trigger: 'message', at: new Date().toISOString(), outcome: 'accepted', loadMs: 1, warmupMs: 1 });
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ ssd: '2/2' });
    // Within the grace period its versions stay: re-adding it serves from disk, without a download.
    expect(await readdir(path.join(storage, 'models', 'cls'))).toEqual(['1']);
    const clsRequests = server.requests.filter((request) => request.url.startsWith('/cls-')).length;
    await desireModels({ ssd: entry('ssd', 2), cls: entry('cls', 1) });
    expect(await servedVersions()).toEqual({ ssd: '2/2', cls: '1/1' });
    expect(server.requests.filter((request) => request.url.startsWith('/cls-')).length).toBe(clsRequests);
    expect(reportedModels().cls).toMatchObject({ state: 'active' });
    // The hub drops a reported property set to null: the removal's deadline is gone.
    expect(reportedModels().cls).not.toHaveProperty('removeAfter');
    // Removed with no grace: out of the index and off the disk at once, its report gone.
    await desireModels({ ssd: entry('ssd', 2) }, { policy: { removeGraceSeconds: 0 } });
    expect(await servedVersions()).toEqual({ ssd: '2/2' });
    expect(existsSync(path.join(storage, 'models', 'cls', '1'))).toBe(false);
    expect(reportedModels()).not.toHaveProperty('cls');
    expect(loader.loaderState.entries).not.toHaveProperty('cls');
  });

  it('keeps the removed entry when its replacement is rejected: a change of model name in the single form never goes dark', async () => {
    desiredVersion += 1;
    loader.applyDesired({ version: desiredVersion, full: true, properties: { model: { name: 'ssd', ...entry('ssd', 1) } } });
    await loader.whenIdle();
    edge.answer = (announcement) => (announcement.name === 'yolox' ? { outcome: 'rejected', code: 'MODEL_LOAD_FAILED' } : { outcome: 'accepted' });
    desiredVersion += 1;
    loader.applyDesired({ version: desiredVersion, full: true, properties: { model: { name: 'yolox', ...entry('yolox', 1) } } });
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ ssd: '1/1' });
    expect((await pointer(ANNOUNCED_MODEL_POINTER))?.name).toBe('ssd');
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'rejected', name: 'yolox' }, activeModel: { name: 'ssd', version: '1' } });
    // Accepted this time: yolox serves, then ssd leaves the index.
    edge.answer = () => ({ outcome: 'accepted' });
    desiredVersion += 1;
    loader.applyDesired({ version: desiredVersion, full: true, properties: { model: { name: 'yolox', ...entry('yolox', 2) } } });
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ yolox: '2/2' });
    expect(edge.reportedState).toMatchObject({ activeModel: { name: 'yolox', version: '2' } });
  });

  it('reads a dotted model name from its twin key (ssd%2Ev1), reports it under that key, and removes it there', async () => {
    await desireModels({ 'ssd%2Ev1': entry('ssd', 1), cls: entry('cls', 1) }, { defaultModel: 'ssd.v1', policy: { removeGraceSeconds: 0 } });
    expect(await servedVersions()).toEqual({ 'ssd.v1': '1/1', cls: '1/1' });
    expect((await pointer(ANNOUNCED_MODEL_POINTER))?.name).toBe('ssd.v1');
    expect(reportedModels()['ssd%2Ev1']).toMatchObject({ state: 'active', name: 'ssd.v1', activeVersion: { version: '1' } });
    await desireModels({ cls: entry('cls', 1) }, { policy: { removeGraceSeconds: 0 } });
    expect(await servedVersions()).toEqual({ cls: '1/1' });
    expect(reportedModels()).not.toHaveProperty('ssd%2Ev1');
    expect(existsSync(path.join(storage, 'models', 'ssd.v1', '1'))).toBe(false);
    expect(edge.refused).toEqual([]);
  });

  it('deletes a removed entry by itself once its grace period ends', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 1) });
    await desireModels({ ssd: entry('ssd', 1) }, { policy: { removeGraceSeconds: 1 } });
    expect(await servedVersions()).toEqual({ ssd: '1/1' });
    expect(existsSync(path.join(storage, 'models', 'cls', '1'))).toBe(true);
    await waitUntil(() => !existsSync(path.join(storage, 'models', 'cls', '1')) && reportedModels().cls === undefined);
    expect(loader.loaderState.entries).not.toHaveProperty('cls');
  });

  it('removes nothing when the desired properties name no model at all', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 1) });
    desiredVersion += 1;
    loader.applyDesired({ version: desiredVersion, full: true, properties: { model: null } });
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ ssd: '1/1', cls: '1/1' });
    expect(reportedModels().cls?.state).toBe('active');
  });

  it('abandons a version on trial with its entry: the removed entry serves its last-known-good until it leaves', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 1) });
    edge.answer = (announcement) => (announcement.version === '2' ? 'silent' : { outcome: 'accepted' });
    await desireModels({ ssd: entry('ssd', 2), cls: entry('cls', 2) }, { policy: { confirmTimeoutSeconds: 60 } }, false);
    await waitUntil(() => reportedModels().cls?.state === 'announced' && reportedModels().ssd?.state === 'announced');
    await desireModels({ ssd: entry('ssd', 2) }, { policy: { confirmTimeoutSeconds: 60 } }, false);
    await waitUntil(() => reportedModels().cls?.state === 'removed');
    // ssd@2 is still on trial: cls stays, back on its last-known-good.
    expect(await servedVersions()).toEqual({ ssd: '2/1', cls: '1/1' });
    await desireModels({ ssd: entry('ssd', 1) });
    expect(await servedVersions()).toEqual({ ssd: '1/1' });
  });

  it('empties the index when the operator empties the models map', async () => {
    await desireModels({ ssd: entry('ssd', 1), cls: entry('cls', 1) });
    await desireModels({});
    expect(await servedVersions()).toEqual({});
    expect(await pointer(ANNOUNCED_MODEL_POINTER)).toBeUndefined();
  });

  it('rolls back the model it is asked for, and asks which when several are desired', async () => {
    for (const index of [1, 2]) await desireModels({ ssd: entry('ssd', index), cls: entry('cls', index) }, { policy: { keepVersions: 5 } });
    const rollback = edge.methods.get('rollback')!;
    expect(await rollback(null)).toMatchObject({ status: 400, payload: { error: 'LOADER_MODEL_NAME_REQUIRED' } });
    expect(await rollback({ name: 'nope' })).toMatchObject({ status: 404, payload: { error: 'LOADER_MODEL_NOT_DESIRED' } });
    expect(await rollback({ name: 'cls' })).toEqual({ status: 202, payload: { accepted: true, name: 'cls', version: '1' } });
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ ssd: '2/2', cls: '1/1' });
  });
});

describe('the serving index on disk', () => {
  it('is written from the legacy pointers at start-up (migration), and a state file from before several models is read into entries', async () => {
    await desireModels({ ssd: entry('ssd', 1) });
    await loader.close();
    await rm(path.join(storage, SERVING_INDEX));
    const awaiting = { key: `ssd@9#${'a'.repeat(64)}`, name: 'ssd', version: '9', announcedAt: new Date().toISOString(), deadline: new Date().toISOString() };
    await writeFile(path.join(storage, '.loader', 'state.json'), JSON.stringify({ failure: null, messageSentFor: null, awaiting, verdicts: {}, rejections: [], confirmations: {} }));
    loader = await startLoader();
    expect(await servedVersions()).toEqual({ ssd: '1/1' });
    expect((await readIndex()).defaultModel).toBe('ssd');
    expect(loader.loaderState.entries.ssd?.awaiting).toMatchObject({ version: '9' });
  });
});
