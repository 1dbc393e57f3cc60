import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer } from '@edge-ml/testkit';
import { registerLoaderMethods } from '../src/edge/loader-methods.js';
import { InvalidDesiredError } from '../src/errors.js';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { ssdPackage } from './zip-fixtures.js';

let server: FaultServer;
let baseUrl: string;
/** Holds the storage root and, beside it, what a path that climbs out of the root would reach first. */
let sandbox: string;
let storage: string;
let edge: RecordingEdgeClient;
let loader: Loader;
let pkg: Buffer;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Every file and directory under `root` with its size and modification time, except the loader's own scratch areas. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  const walk = async (directory: string) => {
    for (const name of await readdir(directory)) {
      const full = path.join(directory, name);
      const relative = path.relative(root, full);
      if (/(^|\/)storage\/(\.staging|\.loader)(\/|$)/.test(relative)) continue;
      const info = await stat(full);
      entries[relative] = `${info.isDirectory() ? 'dir' : info.size}@${info.mtimeMs}`;
      if (info.isDirectory()) await walk(full);
    }
  };
  await walk(root);
  return entries;
}

function startLoader(): Promise<void> {
  edge = new RecordingEdgeClient();
  loader = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'hostile-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  registerLoaderMethods(edge, loader);
  return loader.initialise();
}

const model = (fields: Record<string, unknown> = {}) => ({ model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg), ...fields } });

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 1600 && !condition(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  pkg = await ssdPackage({ folder: 'ssd' });
  server = new FaultServer(pkg);
  baseUrl = await server.listen();
  sandbox = await mkdtemp(path.join(tmpdir(), 'hostile-'));
  storage = path.join(sandbox, 'storage');
  // What ".." from models/<name>/ or models/ would reach if a name could climb: decoys that must survive untouched.
  await mkdir(path.join(sandbox, 'models', 'ssd'), { recursive: true });
  await writeFile(path.join(sandbox, 'outside.txt'), 'must survive');
  await startLoader();
  loader.applyDesired({ version: 1, full: true, properties: model() });
  await loader.whenIdle();
  expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
});
afterEach(async () => {
  await loader.close();
  await server.close();
});

const HOSTILE_VERSIONS = ['..', '.', '../..', '../../..', '', '.1', '1.', ' 1', '1 ', 'CON', 'nul', 'a/b', 'a\\b', 'a\0b', '1\n', 'x'.repeat(65)];
const HOSTILE_NAMES = ['..', '.', '', 'announced.json', 'confirmed.json', '.staging', 'a/..', 'x'.repeat(129)];

describe('hostile desired properties', () => {
  it('refuses every hostile version with LOADER_DESIRED_INVALID; nothing inside or outside the root changes and v1 keeps serving', async () => {
    const before = await snapshot(sandbox);
    let desiredVersion = 2;
    for (const version of HOSTILE_VERSIONS) {
      loader.applyDesired({ version: desiredVersion++, full: true, properties: model({ version }) });
      await loader.whenIdle();
      expect(edge.reportedState, JSON.stringify(version)).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_DESIRED_INVALID' } } });
    }
    for (const name of HOSTILE_NAMES) {
      loader.applyDesired({ version: desiredVersion++, full: true, properties: model({ name }) });
      await loader.whenIdle();
      expect(edge.reportedState, JSON.stringify(name)).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_DESIRED_INVALID' } } });
    }
    for (const FileName of ['..', '...zip', '../ssd.zip', 'a/b.zip', 'CON.zip']) {
      loader.applyDesired({ version: desiredVersion++, full: true, properties: { FileName, DownloadUrl: `${baseUrl}/ssd.zip` } });
      await loader.whenIdle();
      expect(edge.reportedState, FileName).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_DESIRED_INVALID' } } });
    }
    expect(await snapshot(sandbox)).toEqual(before);
    expect((await loader.repository.readAnnounced())?.version).toBe('1');
    expect(edge.outputs).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it('names a package after a URL whose last segment decodes to ".." or a slash as "package", and installs it inside the root', async () => {
    const before = await snapshot(path.join(sandbox, 'models'));
    loader.applyDesired({ version: 2, full: true, properties: { FileName: 'x%2F..%2F..zip', DownloadUrl: `${baseUrl}/%2E%2E` } });
    await loader.whenIdle();
    loader.applyDesired({ version: 3, full: true, properties: model({ version: '2', url: `${baseUrl}/..%2F..%2Fevil.zip` }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2' }, LatestAIModelFileName: 'package' });
    expect(await snapshot(path.join(sandbox, 'models'))).toEqual(before);
    expect(await readFile(path.join(sandbox, 'outside.txt'), 'utf8')).toBe('must survive');
  });
});

describe('hostile direct-method payloads', () => {
  it('answers 400 LOADER_DESIRED_INVALID to every hostile name or version, sets no target and touches nothing', async () => {
    const before = await snapshot(sandbox);
    const update = edge.methods.get('updateModel')!;
    const payloads = [
      ...HOSTILE_VERSIONS.map((version) => ({ name: 'ssd', version, url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) })),
      ...HOSTILE_NAMES.map((name) => ({ name, version: '2', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) })),
      // No name: the URL's last segment would name the model ("%2E%2E"); refused rather than guessed at.
      { version: '2', url: `${baseUrl}/%2E%2E.zip`, sha256: sha256(pkg) },
      { version: '2', url: 'not a url', sha256: sha256(pkg) },
      { name: 7, version: '2', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) },
      null,
    ];
    for (const payload of payloads) {
      const answer = await update(payload);
      expect(answer, JSON.stringify(payload)).toMatchObject({ status: 400, payload: { error: 'LOADER_DESIRED_INVALID', message: expect.stringContaining('the desired properties are invalid') } });
    }
    await loader.whenIdle();
    expect(await snapshot(sandbox)).toEqual(before);
    expect((await loader.repository.readAnnounced())?.version).toBe('1');
    expect(server.requests).toHaveLength(1);
  });
});

describe('the repository, whatever it is handed', () => {
  it('refuses to compute a version directory outside models/', () => {
    for (const [name, version] of [['..', 'x'], ['ssd', '..'], ['ssd', '../..'], ['.', '.'], ['ssd', ''], ['ssd', '/etc']] as const) {
      expect(() => loader.repository.versionDirectory(name, version), `${name}/${version}`).toThrow(InvalidDesiredError);
    }
  });

  it('refuses to install a manifest whose version climbs out, and leaves staging to be cleaned', async () => {
    const before = await snapshot(sandbox);
    const staging = await loader.repository.createStagingDirectory('evil');
    await writeFile(path.join(staging, 'm.tflite'), 'x');
    const manifest = { name: 'ssd', version: '..', format: 'tflite' as const, modelFile: 'm.tflite', labelsFile: 'l.txt', modelSha256: 'a'.repeat(64), packageSha256: 'b'.repeat(64), installedAt: new Date().toISOString() };
    await expect(loader.repository.install(staging, manifest)).rejects.toBeInstanceOf(InvalidDesiredError);
    expect(await snapshot(sandbox)).toEqual(before);
  });

  it('ignores a manifest on disk that names another directory, so garbage collection cannot be steered by it', async () => {
    const version1 = path.join(storage, 'models', 'ssd', '1');
    const forged = JSON.parse(await readFile(path.join(version1, '.installed.json'), 'utf8'));
    await mkdir(path.join(storage, 'models', 'ssd', '0'));
    await writeFile(path.join(storage, 'models', 'ssd', '0', '.installed.json'), JSON.stringify({ ...forged, version: '..', installedAt: '2000-01-01T00:00:00.000Z' }));
    const before = await snapshot(sandbox);
    // The planner removes only what listInstalled shows, and the forged manifest is not listed.
    expect((await loader.repository.listInstalled()).map((entry) => entry.version)).toEqual(['1']);
    await expect(loader.repository.removeVersions([{ name: 'ssd', version: '..' }])).rejects.toBeInstanceOf(InvalidDesiredError);
    expect(await snapshot(sandbox)).toEqual(before);
  });
});

describe('a symbolic link planted in the repository', () => {
  it('cannot steer garbage collection or an install outside the storage root', async () => {
    // models/evil points at a directory outside the root that looks like an installed model.
    const outside = path.join(sandbox, 'outside-models');
    await mkdir(path.join(outside, '1'), { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(storage, 'models', 'ssd', '1', '.installed.json'), 'utf8'));
    await writeFile(path.join(outside, '1', '.installed.json'), JSON.stringify({ ...manifest, name: 'evil', installedAt: '2000-01-01T00:00:00.000Z' }));
    await symlink(outside, path.join(storage, 'models', 'evil'));
    const before = await snapshot(sandbox);
    await expect(loader.repository.removeVersions([{ name: 'evil', version: '1' }])).rejects.toBeInstanceOf(InvalidDesiredError);
    loader.applyDesired({ version: 2, full: true, properties: model({ name: 'evil', version: '2' }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_DESIRED_INVALID', message: expect.stringContaining('symbolic link') } } });
    expect(await snapshot(sandbox)).toEqual(before);
    expect((await loader.repository.readAnnounced())?.version).toBe('1');
  });
});

describe('permanent failures', () => {
  it('holds a permanent failure for that exact desired model only: correcting sizeBytes retries at the same URL', async () => {
    loader.applyDesired({ version: 2, full: true, properties: model({ version: '2', sizeBytes: pkg.length + 1 }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', version: '2', error: { code: 'LOADER_SIZE_MISMATCH' } } });
    loader.applyDesired({ version: 3, full: true, properties: model({ version: '2', sizeBytes: pkg.length + 1, format: 'zip' }) });
    await loader.whenIdle();
    const requestsWhileFailed = server.requests.length;
    loader.applyDesired({ version: 4, full: true, properties: model({ version: '2', sizeBytes: pkg.length }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2' } });
    // The hub drops a reported property set to null: the earlier error is gone.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
    expect(server.requests.length).toBe(requestsWhileFailed + 1);
  });

  it('stops an endless body at the desired size and keeps nothing of it', async () => {
    server.faults.push({ kind: 'endless' });
    loader.applyDesired({ version: 2, full: true, properties: model({ version: '2', sizeBytes: pkg.length }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_SIZE_MISMATCH' } }, activeModel: { version: '1' } });
    const downloaded = edge.reported.map((patch) => (patch.modelUpdate as { bytesDownloaded?: number } | undefined)?.bytesDownloaded ?? 0);
    expect(Math.max(...downloaded)).toBeLessThanOrEqual(pkg.length);
    console.log(`endless body through the loader: desired ${pkg.length} bytes, at most ${Math.max(...downloaded)} written, ${server.bytesSent} sent before the loader hung up`);
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });
});

describe('a delta manifest that never ends', () => {
  it('is cut off at 2 MiB and the full package is downloaded instead', async () => {
    server.faults.push({ kind: 'endless' });
    loader.applyDesired({ version: 2, full: true, properties: model({ version: '2', delta: { manifestUrl: `${baseUrl}/ssd-2.delta.json` } }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2', path: 'full' } });
    expect(server.requests.map((request) => new URL(request.url, baseUrl).pathname)).toEqual(['/ssd.zip', '/ssd-2.delta.json', '/ssd.zip']);
  });
});

describe('the staging budget', () => {
  it('removes partial downloads no desired model refers to at start, and keeps the one it does', async () => {
    await loader.close();
    const staging = path.join(storage, '.staging');
    const abandoned = ['0123456789abcdef01234567.partial', '0123456789abcdef01234567.partial.json', '0123456789abcdef01234567.partial.patch', '0123456789abcdef01234567.partial.patch.json', '0123456789abcdef01234567.package', '0123456789abcdef01234567.package.json'];
    for (const file of abandoned) await writeFile(path.join(staging, file), Buffer.alloc(100_000));
    await mkdir(path.join(staging, '0123456789abcdef01234567.partial.chunks'));
    await startLoader();
    // An interrupted download of the next desired model: resumed after the restart, not removed.
    server.faults.push({ kind: 'reset-after', bytes: 1_000_000 }, { kind: 'status', status: 503 });
    loader.applyDesired({ version: 2, full: true, properties: model({ version: '2' }) });
    await waitFor(() => server.requests.length >= 3, 'two download attempts');
    await loader.close();
    expect((await readdir(staging)).filter((entry) => entry.startsWith('0123456789abcdef01234567'))).toEqual([]);
    expect((await readdir(staging)).filter((entry) => entry.endsWith('.partial'))).toHaveLength(1);
    await startLoader();
    loader.applyDesired({ version: 2, full: true, properties: model({ version: '2' }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '2' } });
    expect(server.requests.at(-1)?.range).toMatch(/^bytes=\d+-$/);
    expect(await readdir(staging)).toEqual([]);
  });

  it('removes the partial of an abandoned target after a permanent failure', async () => {
    server.faults.push({ kind: 'reset-after', bytes: 1_000_000 }, { kind: 'status', status: 503 });
    loader.applyDesired({ version: 2, full: true, properties: model({ version: '2' }) });
    await waitFor(() => server.requests.length >= 3, 'two download attempts');
    expect((await readdir(path.join(storage, '.staging'))).some((entry) => entry.endsWith('.partial'))).toBe(true);
    loader.applyDesired({ version: 3, full: true, properties: model({ version: '3', sha256: 'f'.repeat(64) }) });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', version: '3', error: { code: 'LOADER_CHECKSUM_MISMATCH' } } });
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });
});

describe('messages that leave the device', () => {
  it('carry storage paths relative to the storage root', async () => {
    // models/other is a file where the loader needs a directory: every install fails with the path in the error.
    await writeFile(path.join(storage, 'models', 'other'), 'not a directory');
    loader.applyDesired({ version: 2, full: true, properties: model({ name: 'other' }) });
    await waitFor(() => JSON.stringify(edge.reportedState).includes('LOADER_INTERNAL'), 'an internal error to be reported');
    const message = (edge.reportedState.modelUpdate as { error: { message: string } }).error.message;
    expect(message).toContain('models/other');
    expect(JSON.stringify(edge.reported)).not.toContain(storage);
    await rm(path.join(storage, 'models', 'other'));
  }, 60_000);
});
