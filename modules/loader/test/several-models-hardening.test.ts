import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, LoaderReportedSchema, SERVING_INDEX, ServingIndexSchema, type RichModelMessage } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer } from '@edge-ml/testkit';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient, statusFor } from './recording-edge-client.js';
import { distinctSsdPackages } from './zip-fixtures.js';

// The holes an attack pass on the running system found in the loader (several models): each test fails without its fix.

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const BUDGET = 'MODEL_MEMORY_BUDGET_EXCEEDED';
let packages: Buffer[];
let server: FaultServer;
let baseUrl: string;
let storage: string;
let edge: RecordingEdgeClient;
let loader: Loader;

beforeAll(async () => {
  packages = await distinctSsdPackages(4);
});

async function startLoader() {
  const next = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'several-models-hardening-test', level: (process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0, indexCheckIntervalMs: 50 });
  await next.initialise();
  return next;
}

beforeEach(async () => {
  server = new FaultServer(packages[0]!);
  baseUrl = await server.listen();
  for (const name of ['ssd', 'cls', 'yolox']) packages.forEach((pkg, index) => server.serve(`/${name}-${index}.zip`, pkg));
  storage = await mkdtemp(path.join(tmpdir(), 'loader-hardening-'));
  edge = new RecordingEdgeClient();
  loader = await startLoader();
});
afterEach(async () => {
  await loader.close();
  await server.close();
});

let desiredVersion = 0;
const entry = (name: string, index: number) => ({ version: String(index), url: `${baseUrl}/${name}-${index}.zip?sig=s`, sha256: sha256(packages[index]!) });
const desire = async (properties: Record<string, unknown>) => {
  desiredVersion += 1;
  loader.applyDesired({ version: desiredVersion, full: true, properties });
  await loader.whenIdle();
};
const indexPath = () => path.join(storage, SERVING_INDEX);
const readIndex = async () => ServingIndexSchema.parse(JSON.parse(await readFile(indexPath(), 'utf8')));
const servedVersions = async () => Object.fromEntries(Object.entries((await readIndex()).models).map(([name, served]) => [name, `${served.announced.version}/${served.confirmed?.version ?? '-'}`]));
const reported = () => LoaderReportedSchema.parse(edge.reportedState);
const reportedModels = () => reported().models ?? {};
const announcementsOf = (name: string) => edge.outputs.filter((output) => (output.body as RichModelMessage).name === name).map((output) => (output.body as RichModelMessage).version);
const announcementOf = (name: string, version: string) => edge.outputs.map((output) => output.body as RichModelMessage).find((body) => body.name === name && body.version === version)!;

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const indexServes = (expected: Record<string, string>) => async () => {
  try {
    return isDeepStrictEqual(await servedVersions(), expected);
  } catch {
    return false;
  }
};

describe('the serving index on disk is repaired from the loader state (hole 1)', () => {
  it('rewrites models/serving.json when it is deleted, unparseable, a directory or edited, and the legacy pointers too, reporting nothing alarming', async () => {
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 1) }, defaultModel: 'ssd' });
    const expected = { ssd: '1/1', cls: '1/1' };
    expect(await servedVersions()).toEqual(expected);
    const patches = edge.reported.length;
    await rm(indexPath());
    await waitUntil(indexServes(expected));
    await writeFile(indexPath(), '{"schemaVersion":1,"models":{garbage');
    await waitUntil(indexServes(expected));
    await rm(indexPath());
    await mkdir(path.join(indexPath(), 'inside'), { recursive: true });
    await waitUntil(indexServes(expected));
    const edited = await readIndex();
    delete (edited.models as Record<string, unknown>).cls;
    await writeFile(indexPath(), JSON.stringify(edited));
    await waitUntil(indexServes(expected));
    expect((await readIndex()).defaultModel).toBe('ssd');
    await rm(path.join(storage, ANNOUNCED_MODEL_POINTER));
    await waitUntil(() => existsSync(path.join(storage, ANNOUNCED_MODEL_POINTER)));
    expect((JSON.parse(await readFile(path.join(storage, ANNOUNCED_MODEL_POINTER), 'utf8')) as RichModelMessage).name).toBe('ssd');
    // Repairs change nothing served: no announcement, no report.
    expect(announcementsOf('cls')).toEqual(['1']);
    expect(edge.reported.length).toBe(patches);
    expect(reportedModels()).toMatchObject({ ssd: { state: 'active' }, cls: { state: 'active' } });
  });

  it('rebuilds every entry at start-up from its own state and the repository when the index is corrupt (not only the default from the legacy pointers)', async () => {
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 2) }, defaultModel: 'ssd' });
    await loader.close();
    await writeFile(indexPath(), '{"schemaVersion":1,"models":{garbage');
    loader = await startLoader();
    expect(await servedVersions()).toEqual({ ssd: '1/1', cls: '2/2' });
    expect((await readIndex()).models.cls?.confirmed).toMatchObject({ version: '2', local_model_path: 'models/cls/2/detect.tflite' });
  });
});

describe('a refusal for lack of memory is not a verdict on the version (hole 2)', () => {
  it('keeps the last-known-good announced, records and deletes nothing, reports the refusal, and retries once memory may have freed', async () => {
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 1) }, policy: { keepVersions: 1 } });
    edge.answer = (announcement) => (announcement.name === 'cls' ? { outcome: 'rejected', code: BUDGET, message: 'cls@2 needs 400 MB; 120 MB of the budget left' } : { outcome: 'accepted' });
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 2) }, policy: { keepVersions: 1 } });
    expect(await servedVersions()).toEqual({ ssd: '1/1', cls: '1/1' });
    expect(reportedModels().cls).toMatchObject({ state: 'rejected', version: '2', error: { code: BUDGET, message: expect.stringContaining('400 MB') }, activeVersion: { version: '1' } });
    const cls2 = announcementOf('cls', '2');
    expect(loader.loaderState.verdicts[`cls@2#${cls2.sha256}`]).toBeUndefined();
    expect(loader.loaderState.rejections).toEqual([]);
    // The last-known-good refused at a restart of the inference module for lack of memory is not lost: no cascade.
    await edge.deliver('DLModelStatusInput', statusFor(announcementOf('cls', '1'), { outcome: 'rejected', code: BUDGET }, 'startup'));
    await loader.whenIdle();
    expect(await servedVersions()).toEqual({ ssd: '1/1', cls: '1/1' });
    expect((await readdir(path.join(storage, 'models', 'cls'))).sort()).toEqual(['1', '2']);
    expect(Object.values(loader.loaderState.verdicts).filter((record) => record.verdict === 'rejected')).toEqual([]);
    // The inference module restarts with memory to spare: the deferred version is tried again and lands.
    edge.answer = () => ({ outcome: 'accepted' });
    await edge.deliver('DLModelStatusInput', statusFor(announcementOf('ssd', '1'), { outcome: 'accepted' }, 'startup'));
    await waitUntil(indexServes({ ssd: '1/1', cls: '2/2' }));
    await loader.whenIdle();
    expect(reportedModels().cls).toMatchObject({ state: 'active', version: '2' });
    expect(reportedModels().cls).not.toHaveProperty('error');
  });
});

describe('the desired models map is validated entry by entry (hole 4)', () => {
  it('updates the valid entries while an invalid one keeps serving and is reported under its name, naming the field', async () => {
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 1) } });
    await desire({ models: { ssd: entry('ssd', 2), cls: { version: '2', url: 'ftp://x/cls.zip', sha256: 'zz' }, 'a%2Fb': entry('ssd', 3) } });
    expect(await servedVersions()).toEqual({ ssd: '2/2', cls: '1/1' });
    expect(reportedModels().ssd).toMatchObject({ state: 'active', version: '2' });
    expect(reportedModels().cls).toMatchObject({ state: 'failed', name: 'cls', error: { code: 'LOADER_DESIRED_INVALID', message: expect.stringMatching(/models\.cls: url: .*sha256: /) }, activeVersion: { version: '1' } });
    expect(reported().desiredForm?.warnings).toEqual([expect.stringContaining('models["a%2Fb"] ignored')]);
    expect(reported().modelUpdate).toMatchObject({ state: 'active', name: 'ssd', version: '2' });
    // Fixed: it updates, and the warnings clear.
    await desire({ models: { ssd: entry('ssd', 2), cls: entry('cls', 2) } });
    expect(await servedVersions()).toEqual({ ssd: '2/2', cls: '2/2' });
    expect(reportedModels().cls).toMatchObject({ state: 'active', version: '2' });
    expect(reportedModels().cls).not.toHaveProperty('error');
    expect(reported().desiredForm?.warnings).toEqual([]);
  });

  it('refuses a map of too many entries as a whole, and clears the top-level error once the document is valid again', async () => {
    await desire({ models: { ssd: entry('ssd', 1) } });
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`m${index}`, entry('ssd', 1)]));
    await desire({ models: many });
    expect(reported().modelUpdate).toMatchObject({ state: 'failed', error: { code: 'LOADER_DESIRED_INVALID' } });
    expect(await servedVersions()).toEqual({ ssd: '1/1' });
    await desire({ models: { ssd: entry('ssd', 1) } });
    expect(reported().modelUpdate).toMatchObject({ state: 'active', name: 'ssd', version: '1' });
    expect(reported().modelUpdate).not.toHaveProperty('error');
  });
});

describe('a re-added entry (hole 6)', () => {
  it('is reported with its real state at once, not removed', async () => {
    await desire({ model: { name: 'ssd', ...entry('ssd', 1) } });
    edge.answer = (announcement) => (announcement.name === 'yolox' ? { outcome: 'rejected', code: 'MODEL_LOAD_FAILED' } : { outcome: 'accepted' });
    await desire({ model: { name: 'yolox', ...entry('yolox', 1) } });
    expect(reportedModels().ssd).toMatchObject({ state: 'removed' });
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 1) } });
    expect(reportedModels().ssd).toMatchObject({ state: 'active', version: '1', activeVersion: { version: '1' } });
    expect(reportedModels().ssd).not.toHaveProperty('removeAfter');
  });
});

describe('smaller holes (hole 7)', () => {
  it('warns of a defaultModel that names no entry and keeps the previous default in the index', async () => {
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 1) }, defaultModel: 'ssd' });
    await desire({ models: { ssd: entry('ssd', 1), cls: entry('cls', 1) }, defaultModel: 'nope' });
    expect((await readIndex()).defaultModel).toBe('ssd');
    expect(reported().desiredForm?.warnings).toEqual(['defaultModel "nope" names no entry of models; "ssd" stays the default']);
    await desire({ models: { cls: entry('cls', 1) }, defaultModel: 'nope' });
    expect((await readIndex()).defaultModel).toBeNull();
  });

  it('reports installed versions after every garbage collection and keeps no state of deleted versions', async () => {
    for (const index of [1, 2, 3]) await desire({ models: { ssd: entry('ssd', index) }, policy: { keepVersions: 1 } });
    expect(await readdir(path.join(storage, 'models', 'ssd'))).toEqual(['2', '3']);
    expect(reportedModels().ssd?.installedVersions).toEqual(['3', '2']);
    expect(reported().installedVersions).toEqual(['ssd@3', 'ssd@2']);
    expect(Object.keys(loader.loaderState.verdicts).map((key) => key.slice(0, key.indexOf('#')))).toEqual(['ssd@2', 'ssd@3']);
    expect(loader.loaderState.confirmations.ssd?.map((confirmation) => confirmation.version)).toEqual(['2', '3']);
    const persisted = JSON.parse(await readFile(path.join(storage, '.loader', 'state.json'), 'utf8')) as { verdicts: Record<string, unknown> };
    expect(Object.keys(persisted.verdicts)).toHaveLength(2);
  });
});
