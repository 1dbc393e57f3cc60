import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@edge-ml/edge-kit';
import { downloadToFile } from '../src/download/http-download.js';
import { Loader } from '../src/reconcile/loader.js';
import { startAzurite, type Azurite } from '@edge-ml/testkit';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { ssdPackage } from './zip-fixtures.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
let azurite: Azurite;
let pkg: Buffer;

beforeAll(async () => {
  azurite = await startAzurite();
  pkg = await ssdPackage();
  await azurite.container.getBlockBlobClient('ssd-1.zip').uploadData(pkg);
}, 60_000);
afterAll(() => azurite.stop());

async function newLoader() {
  const storage = await mkdtemp(path.join(tmpdir(), 'loader-azurite-'));
  const edge = new RecordingEdgeClient();
  const loader = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'azurite-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await loader.initialise();
  return { storage, edge, loader };
}

describe('loader against Azurite', () => {
  it('downloads a model package through a SAS URL and announces it', async () => {
    const { storage, edge, loader } = await newLoader();
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: azurite.sasUrl('ssd-1.zip'), sha256: sha256(pkg), sizeBytes: pkg.length } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active' }, activeModel: { name: 'ssd', version: '1', sha256: 'e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13' } });
    const announced = await loader.repository.readAnnounced();
    expect(sha256(await readFile(path.join(storage, announced!.local_model_path)))).toBe(announced!.sha256);
    expect(JSON.stringify(edge.reported)).not.toMatch(/sig=/);
    await loader.close();
  });

  it('resumes with Range from Azurite after an interruption, and starts over when the blob changed (If-Match → 412)', async () => {
    const partialPath = path.join(await mkdtemp(path.join(tmpdir(), 'partial-')), 'p.partial');
    const url = azurite.sasUrl('ssd-1.zip');
    const controller = new AbortController();
    await downloadToFile({ url, partialPath, signal: controller.signal, onProgress: (bytes) => bytes > 1_000_000 && controller.abort(new Error('link dropped')) }).catch(() => undefined);
    const resumed = await downloadToFile({ url, partialPath });
    expect(resumed.resumedFromBytes).toBeGreaterThan(1_000_000);
    expect(resumed.transferredBytes).toBe(pkg.length - resumed.resumedFromBytes);
    expect(resumed.sha256).toBe(sha256(pkg));

    const other = await ssdPackage({ folder: 'v2' });
    await azurite.container.getBlockBlobClient('changing.zip').uploadData(pkg);
    const changingUrl = azurite.sasUrl('changing.zip');
    const partial2 = path.join(path.dirname(partialPath), 'q.partial');
    const interrupt = new AbortController();
    await downloadToFile({ url: changingUrl, partialPath: partial2, signal: interrupt.signal, onProgress: (bytes) => bytes > 500_000 && interrupt.abort(new Error('link dropped')) }).catch(() => undefined);
    await azurite.container.getBlockBlobClient('changing.zip').uploadData(other);
    const restarted = await downloadToFile({ url: changingUrl, partialPath: partial2 });
    expect(restarted).toMatchObject({ resumedFromBytes: 0, sha256: sha256(other) });
  });

  it('reports an expired SAS, waits, and completes when the twin gets a fresh URL', async () => {
    const { edge, loader } = await newLoader();
    const expired = azurite.sasUrl('ssd-1.zip', { startsOn: new Date(Date.now() - 2 * 3600_000), expiresOn: new Date(Date.now() - 3600_000) });
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: expired, sha256: sha256(pkg) } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'failed', error: { code: 'LOADER_SAS_REJECTED', message: expect.stringContaining('set a new DownloadUrl') } } });
    loader.applyDesired({ version: 2, full: false, properties: { model: { url: azurite.sasUrl('ssd-1.zip') } } });
    await loader.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
    await loader.close();
  });
});
