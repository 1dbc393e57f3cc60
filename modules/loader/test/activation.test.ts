import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, ConfirmedModelPointerSchema, MODEL_STATUS_INPUT, type RichModelMessage } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer } from '@edge-ml/testkit';
import { registerLoaderMethods } from '../src/edge/loader-methods.js';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient, statusFor } from './recording-edge-client.js';
import { distinctSsdPackages } from './zip-fixtures.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
let packages: Buffer[];
let server: FaultServer;
let baseUrl: string;
let storage: string;
let edge: RecordingEdgeClient;
let loader: Loader;

/** Distinct packages: the same SSD model with a different note, so each version has its own bytes and sha256. */
beforeAll(async () => {
  packages = await distinctSsdPackages(5);
});

async function startLoader(root = storage) {
  const next = new Loader({ storageRoot: root, edge, logger: createLogger({ name: 'activation-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await next.initialise();
  registerLoaderMethods(edge, next);
  return next;
}

beforeEach(async () => {
  server = new FaultServer(packages[0]!);
  baseUrl = await server.listen();
  packages.forEach((pkg, index) => server.serve(`/ssd-${index}.zip`, pkg));
  storage = await mkdtemp(path.join(tmpdir(), 'loader-activation-'));
  edge = new RecordingEdgeClient();
  loader = await startLoader();
});
afterEach(async () => {
  await loader.close();
  await server.close();
});

let desiredVersion = 0;
const desire = async (index: number, policy: Record<string, unknown> = {}) => {
  desiredVersion += 1;
  loader.applyDesired({ version: desiredVersion, full: true, properties: { model: { name: 'ssd', version: String(index), url: `${baseUrl}/ssd-${index}.zip?sig=s`, sha256: sha256(packages[index]!) }, policy } });
  await loader.whenIdle();
};
const pointer = async (file: string) => (existsSync(path.join(storage, file)) ? (JSON.parse(await readFile(path.join(storage, file), 'utf8')) as RichModelMessage) : undefined);
const rejectVersion = (version: string, code = 'MODEL_LOAD_FAILED') => (announcement: RichModelMessage) => (announcement.version === version ? { outcome: 'rejected' as const, code } : { outcome: 'accepted' as const });

describe('closed-loop activation', () => {
  it('reports announced while it waits, then active once the inference module accepts, and writes the confirmed pointer', async () => {
    await desire(1);
    expect(edge.states()).toEqual(expect.arrayContaining(['downloading', 'verifying', 'extracting', 'staged', 'announced', 'active']));
    const announcedPatch = edge.reported.find((patch) => (patch.modelUpdate as { state: string } | undefined)?.state === 'announced')!;
    expect(announcedPatch.modelUpdate).toMatchObject({ name: 'ssd', version: '1', confirmDeadline: expect.any(String) });
    // The deadline was sent while announced and removed (null) once active: the hub keeps only what is true.
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' }, activeModel: { name: 'ssd', version: '1' }, LatestAIModelFileName: 'ssd-1.zip' });
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('confirmDeadline');
    const confirmed = ConfirmedModelPointerSchema.parse(await pointer(CONFIRMED_MODEL_POINTER));
    expect(confirmed).toMatchObject({ name: 'ssd', version: '1', sha256: (await pointer(ANNOUNCED_MODEL_POINTER))!.sha256 });
    expect(loader.loaderState).toMatchObject({ entries: { ssd: { awaiting: null } }, confirmations: { ssd: [{ version: '1' }] } });
  });

  it('falls back to the last-known-good when the inference module rejects a version, and never announces it again', async () => {
    await desire(1);
    edge.answer = rejectVersion('2');
    await desire(2);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'rejected', name: 'ssd', version: '2', error: { code: 'MODEL_LOAD_FAILED' } }, activeModel: { version: '1' }, LatestAIModelFileName: 'ssd-1.zip' });
    expect(edge.announcements()).toEqual(['1', '2', '1']);
    expect((await pointer(ANNOUNCED_MODEL_POINTER))?.version).toBe('1');
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('1');
    // The same desired model again (a reconnect delivers the full twin), and a restart: nothing is announced.
    loader.applyDesired({ version: desiredVersion, full: true, properties: { model: { name: 'ssd', version: '2', url: `${baseUrl}/ssd-2.zip?sig=s`, sha256: sha256(packages[2]!) } } });
    await loader.whenIdle();
    await loader.close();
    loader = await startLoader();
    await desire(2);
    expect(edge.announcements()).toEqual(['1', '2', '1']);
    const listed = await edge.methods.get('listModels')!(null);
    expect(listed.payload).toMatchObject({ announced: { version: '1' }, confirmed: { version: '1' }, installed: expect.arrayContaining([{ name: 'ssd', version: '2', verdict: 'rejected', error: { code: 'MODEL_LOAD_FAILED', message: expect.any(String) }, installedAt: expect.any(String), modelSha256: expect.any(String), format: 'tflite' }, expect.objectContaining({ version: '1', verdict: 'confirmed' })]) });
    // A different desired model ends the block: going back to v2 later tries it again.
    edge.answer = () => ({ outcome: 'accepted' });
    await desire(3);
    await desire(2);
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('2');
  });

  it('times out with LOADER_CONFIRMATION_TIMEOUT when no status comes, re-sending the announcement meanwhile', async () => {
    await desire(1);
    edge.answer = (announcement) => (announcement.version === '2' ? 'silent' : { outcome: 'accepted' });
    await desire(2, { confirmTimeoutSeconds: 3, confirmResendSeconds: 1 });
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'rejected', version: '2', error: { code: 'LOADER_CONFIRMATION_TIMEOUT' } }, activeModel: { version: '1' } });
    expect(edge.announcements().filter((version) => version === '2').length).toBeGreaterThanOrEqual(2);
    expect(edge.announcements().at(-1)).toBe('1');
    expect((await pointer(ANNOUNCED_MODEL_POINTER))?.version).toBe('1');
  });

  it('withdraws the pointer when the very first version is rejected: there is nothing good to serve', async () => {
    edge.answer = rejectVersion('1', 'MODEL_FILES_INVALID');
    await desire(1);
    expect(await pointer(ANNOUNCED_MODEL_POINTER)).toBeUndefined();
    expect(await pointer(CONFIRMED_MODEL_POINTER)).toBeUndefined();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'rejected', error: { code: 'MODEL_FILES_INVALID' } } });
    expect(edge.reportedState.activeModel ?? null).toBeNull();
  });

  it('takes the announcement as confirmed with confirmTimeoutSeconds 0 (an inference module that never answers)', async () => {
    edge.answer = () => 'silent';
    await desire(1, { confirmTimeoutSeconds: 0 });
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' }, activeModel: { version: '1' } });
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('1');
  });

  it('ignores an invalid status message and a status for another announcement', async () => {
    edge.answer = () => 'silent';
    const done = desire(1, { confirmTimeoutSeconds: 30, confirmResendSeconds: 30 });
    await waitUntil(() => edge.announcements().length === 1);
    await edge.deliver(MODEL_STATUS_INPUT, { outcome: 'accepted', name: 'ssd' });
    await edge.inputs.get(MODEL_STATUS_INPUT)!({ body: Buffer.from('not json'), properties: {} });
    const announced = edge.outputs[0]!.body as RichModelMessage;
    await edge.deliver(MODEL_STATUS_INPUT, statusFor({ ...announced, sha256: 'f'.repeat(64) }, { outcome: 'accepted' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'announced' } });
    await edge.deliver(MODEL_STATUS_INPUT, statusFor(announced, { outcome: 'accepted' }, 'pointer'));
    await done;
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
  });

  it('resumes waiting after a restart: it sends the awaited announcement again and confirms on the answer', async () => {
    await desire(1);
    edge.answer = () => 'silent';
    const pending = desire(2, { confirmTimeoutSeconds: 60, confirmResendSeconds: 30 });
    await waitUntil(() => edge.announcements().includes('2'));
    await loader.close();
    await pending;
    expect(loader.loaderState.entries.ssd?.awaiting).toMatchObject({ version: '2' });
    edge.answer = () => ({ outcome: 'accepted' });
    loader = await startLoader();
    await desire(2, { confirmTimeoutSeconds: 60, confirmResendSeconds: 30 });
    expect(edge.announcements()).toEqual(['1', '2', '2']);
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('2');
  });
});

describe('version policy per model name', () => {
  it('rolls back to the previous confirmed version of the same name, and a second rollback goes one further', async () => {
    for (const index of [1, 2, 3]) await desire(index, { keepVersions: 5 });
    const rollback = () => edge.methods.get('rollback')!(null);
    expect(await rollback()).toEqual({ status: 202, payload: { accepted: true, name: 'ssd', version: '2' } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2' }, activeModel: { version: '2' }, LatestAIModelFileName: 'ssd-2.zip' });
    expect(await rollback()).toEqual({ status: 202, payload: { accepted: true, name: 'ssd', version: '1' } });
    await loader.whenIdle();
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('1');
    expect(edge.reportedState).toMatchObject({ activeModel: { version: '1' }, LatestAIModelFileName: 'ssd-1.zip' });
    expect(await rollback()).toMatchObject({ status: 409, payload: { error: 'LOADER_NOTHING_TO_ROLL_BACK' } });
    // Nothing was downloaded again: the rollbacks named installed versions.
    expect(server.requests.filter((request) => request.url.startsWith('/ssd-1.zip'))).toHaveLength(1);
  });

  it('does not roll back to a version that was never confirmed, nor to another model', async () => {
    await desire(1, { keepVersions: 5 });
    edge.answer = rejectVersion('2');
    await desire(2, { keepVersions: 5 });
    edge.answer = () => ({ outcome: 'accepted' });
    desiredVersion += 1;
    loader.applyDesired({ version: desiredVersion, full: true, properties: { model: { name: 'other', version: '1', url: `${baseUrl}/ssd-4.zip`, sha256: sha256(packages[4]!) }, policy: { keepVersions: 5 } } });
    await loader.whenIdle();
    expect(await edge.methods.get('rollback')!(null)).toMatchObject({ status: 409 });
    await desire(3, { keepVersions: 5 });
    expect(await edge.methods.get('rollback')!(null)).toEqual({ status: 202, payload: { accepted: true, name: 'ssd', version: '1' } });
  });

  it('keeps N versions of each name besides the last-known-good; rejected versions go first', async () => {
    await desire(1, { keepVersions: 1 });
    await desire(2, { keepVersions: 1 });
    edge.answer = rejectVersion('3');
    await desire(3, { keepVersions: 1 });
    // v2 is the last-known-good; v1 (good) is kept before v3 (rejected).
    expect((await readdir(path.join(storage, 'models', 'ssd'))).sort()).toEqual(['1', '2']);
    edge.answer = () => ({ outcome: 'accepted' });
    await desire(4, { keepVersions: 1 });
    expect((await readdir(path.join(storage, 'models', 'ssd'))).sort()).toEqual(['2', '4']);
  });
});

describe('a last-known-good lost from disk', () => {
  /** v1 and v2 confirmed (v2 the last-known-good), v3 rejected: the device serves v2, then v2's folder disappears. */
  async function loseV2() {
    for (const index of [1, 2]) await desire(index, { keepVersions: 5 });
    edge.answer = rejectVersion('3');
    await desire(3, { keepVersions: 5 });
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('2');
    await rm(path.join(storage, 'models', 'ssd', '2'), { recursive: true });
    return (await pointer(ANNOUNCED_MODEL_POINTER))!;
  }

  it('falls back to the newest earlier confirmed version when the restarted inference module cannot read it, and says so', async () => {
    const announced = await loseV2();
    await edge.deliver(MODEL_STATUS_INPUT, statusFor(announced, { outcome: 'rejected', code: 'MODEL_FILE_UNREADABLE' }, 'startup'));
    await loader.whenIdle();
    expect(edge.announcements()).toEqual(['1', '2', '3', '2', '1']);
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('1');
    expect((await pointer(ANNOUNCED_MODEL_POINTER))?.version).toBe('1');
    expect(edge.reported.map((patch) => patch.modelUpdate)).toContainEqual(expect.objectContaining({ state: 'failed', name: 'ssd', version: '2', error: expect.objectContaining({ code: 'LOADER_CONFIRMED_VERSION_LOST' }) }));
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' }, activeModel: { version: '1' }, LatestAIModelFileName: 'ssd-1.zip' });
  });

  it('notices the loss by itself after a restart, and never reports a version active that is not installed', async () => {
    await loseV2();
    await loader.close();
    const seen = edge.reported.length;
    loader = await startLoader();
    await desire(3, { keepVersions: 5 });
    expect(edge.announcements().at(-1)).toBe('1');
    expect((await pointer(CONFIRMED_MODEL_POINTER))?.version).toBe('1');
    const activeReports = edge.reported.slice(seen).filter((patch) => patch.activeModel !== undefined).map((patch) => (patch.activeModel as { version: string } | null)?.version ?? null);
    expect(activeReports).not.toContain('2');
    expect(activeReports.at(-1)).toBe('1');
    const listed = await edge.methods.get('listModels')!(null);
    expect(listed.payload).toMatchObject({ confirmed: { version: '1' } });
  });
});

describe('state read back from storage', () => {
  it('moves a torn state file aside and starts from the repository', async () => {
    await desire(1);
    await loader.close();
    await writeFile(path.join(storage, '.loader', 'state.json'), '{"failure":null,"awaiting":{"key":');
    loader = await startLoader();
    expect(loader.loaderState).toMatchObject({ entries: {}, verdicts: {} });
    expect((await readdir(path.join(storage, '.loader'))).some((entry) => entry.startsWith('state.json.invalid-'))).toBe(true);
    await desire(1);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
  });

  it('reads a state file written before confirmations existed, dropping a placeholder rollback override', async () => {
    await loader.close();
    await writeFile(path.join(storage, '.loader', 'state.json'), JSON.stringify({ failure: null, messageSentFor: null, override: { desired: { model: { name: 'ssd', version: '1', url: 'https://rollback.invalid/installed', sha256: 'a'.repeat(64) } }, sinceDesiredVersion: 3 } }));
    loader = await startLoader();
    expect(loader.loaderState).toMatchObject({ rejections: [] });
    expect(loader.loaderState.entries.ssd).toMatchObject({ override: null, awaiting: null });
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
