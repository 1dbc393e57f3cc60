import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer, mountTmpfs, tmpfsUnavailableReason, unmountTmpfs } from '@edge-ml/testkit';
import { registerLoaderMethods } from '../src/edge/loader-methods.js';
import { Loader } from '../src/reconcile/loader.js';
import { freeBytesOf } from '../src/storage/disk-space.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { buildZip, ssdPackage, TESTDATA } from './zip-fixtures.js';

const TMPFS_BYTES = 16 * 1024 * 1024;

const skipReason = await tmpfsUnavailableReason();
if (skipReason) console.log(`disk-full tests skipped: ${skipReason}`);

let mountPoint: string;
let storage: string;
let server: FaultServer;
let baseUrl: string;
let edge: RecordingEdgeClient;
let loader: Loader | undefined;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function startLoader(): Promise<Loader> {
  edge = new RecordingEdgeClient();
  loader = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'disk-full-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await loader.initialise();
  return loader;
}

/** A file that leaves about `leaveBytes` free on the tmpfs. */
async function fillLeaving(leaveBytes: number): Promise<string> {
  const filler = path.join(mountPoint, 'filler');
  await writeFile(filler, Buffer.alloc(Math.max(0, (await freeBytesOf(mountPoint)) - leaveBytes)));
  return filler;
}

const errorCodes = () => edge.reported.map((patch) => (patch.modelUpdate as { error?: { code: string } | null } | undefined)?.error?.code).filter(Boolean);

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 1600 && !condition(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!condition()) throw new Error(`timed out waiting for ${what}; codes so far: ${errorCodes().join(', ')}`);
}

const state = () => edge.reportedState.modelUpdate as { state: string; error: { code: string; message: string } | null };

describe.skipIf(skipReason !== undefined)('a full disk (a 16 MiB tmpfs)', () => {
  let pkg: Buffer;
  beforeEach(async () => {
    mountPoint = await mountTmpfs('disk-full-', TMPFS_BYTES);
    storage = path.join(mountPoint, 'storage');
    await mkdir(storage);
    pkg = await ssdPackage({ folder: 'ssd' });
    server = new FaultServer(pkg);
    baseUrl = await server.listen();
  });
  afterEach(async () => {
    await loader?.close();
    loader = undefined;
    await server.close();
    await unmountTmpfs(mountPoint);
  });

  it('refuses to start a download that does not fit, and lands the update on the next retry once space is freed', async () => {
    await startLoader();
    const filler = await fillLeaving(3 * 1024 * 1024);
    loader!.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg), sizeBytes: pkg.length } } });
    await waitFor(() => state()?.error?.code === 'LOADER_DISK_FULL', 'LOADER_DISK_FULL');
    expect(state().error?.message).toMatch(/not enough free space on shared storage: \d+ bytes needed, \d+ free; retrying in/);
    expect(server.requests).toHaveLength(0);
    await rm(filler);
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
    // The hub drops a reported property set to null: the earlier error is gone.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });

  it('checks the free space against Content-Length before the first byte when the twin declares no size', async () => {
    await startLoader();
    const filler = await fillLeaving(3 * 1024 * 1024);
    loader!.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await waitFor(() => state()?.error?.code === 'LOADER_DISK_FULL', 'LOADER_DISK_FULL');
    expect(state().error?.message).toMatch(/bytes needed/);
    const written = edge.reported.map((patch) => (patch.modelUpdate as { bytesDownloaded?: number } | undefined)?.bytesDownloaded ?? 0);
    expect(Math.max(...written)).toBe(0);
    const partials = (await readdir(path.join(storage, '.staging'))).filter((entry) => entry.endsWith('.partial'));
    expect(partials).toEqual([]);
    await rm(filler);
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
    // The hub drops a reported property set to null: the earlier error is gone.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
  });

  it('stops an endless body of undeclared size before it fills the disk (LOADER_DISK_FULL), gives the space back, and lands once the server behaves', async () => {
    await startLoader();
    server.faults.push({ kind: 'endless' });
    const freeAtStart = await freeBytesOf(mountPoint);
    let leastFree = freeAtStart;
    const sampler = setInterval(() => void freeBytesOf(mountPoint).then((free) => (leastFree = Math.min(leastFree, free))), 2);
    loader!.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) } } });
    await loader!.whenIdle();
    clearInterval(sampler);
    expect(errorCodes()).toContain('LOADER_DISK_FULL');
    expect(errorCodes()).not.toContain('LOADER_INTERNAL');
    const message = edge.reported.map((patch) => (patch.modelUpdate as { error?: { message: string } | null } | undefined)?.error?.message).find((text) => text?.includes('not declared'));
    expect(message).toMatch(/the package's size is not declared .* grew past \d+ bytes, the most that \d+ bytes free leave room to download and extract/);
    // The attempt stops at the room it may take (free / 2.2, room to extract too): the shared disk is never filled.
    expect(leastFree).toBeGreaterThan(freeAtStart * 0.5);
    console.log(`endless body of undeclared size on a ${TMPFS_BYTES}-byte tmpfs: ${server.bytesSent} bytes sent, least free ${leastFree} of ${freeAtStart} bytes`);
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
    // The hub drops a reported property set to null: the earlier error is gone.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });

  it('reports a zip that inflates past the free space as LOADER_DISK_FULL (retryable), keeps the package, and installs it once space is freed', async () => {
    // Eight 900 KiB runs of zeros: 7 MiB more when inflated, a few KiB compressed, each entry under the ratio check's 1 MiB.
    const padding = Array.from({ length: 8 }, (_, index) => ({ name: `ssd/padding-${index}.bin`, data: Buffer.alloc(900 * 1024) }));
    const inflating = await buildZip([
      { name: 'ssd/ssd_mobilenet_v1_coco_quant_detect.tflite', data: await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite')) },
      { name: 'ssd/labelmap.txt', data: await readFile(path.join(TESTDATA, 'models', 'labelmap.txt')) },
      ...padding,
    ]);
    server.setBody(inflating);
    await startLoader();
    // Room for the download check (2.2 × the package) but not for the package plus its inflated files.
    const filler = await fillLeaving(Math.ceil(inflating.length * 2.2) + 512 * 1024);
    loader!.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(inflating), sizeBytes: inflating.length } } });
    await waitFor(() => state()?.error?.code === 'LOADER_DISK_FULL', 'LOADER_DISK_FULL while extracting');
    expect(errorCodes()).not.toContain('LOADER_PACKAGE_INVALID');
    expect((await readdir(path.join(storage, '.staging'))).filter((entry) => entry.endsWith('.package'))).toHaveLength(1);
    await rm(filler);
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
    // The hub drops a reported property set to null: the earlier error is gone.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
    expect(server.requests).toHaveLength(1);
  });

  it('answers a direct method that cannot write its state on a full disk with 507 LOADER_DISK_FULL and no absolute path', async () => {
    await startLoader();
    registerLoaderMethods(edge, loader!);
    const filler = await fillLeaving(0);
    const answer = await edge.methods.get('updateModel')!({ name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg) });
    expect(answer).toMatchObject({ status: 507, payload: { error: 'LOADER_DISK_FULL', message: expect.stringContaining('ran out of space') } });
    expect(JSON.stringify(answer)).not.toContain(mountPoint);
    await rm(filler);
  });

  it('removes abandoned partial downloads that fill the disk at start, and the update lands', async () => {
    await mkdir(path.join(storage, '.staging'), { recursive: true });
    await writeFile(path.join(storage, '.staging', '0123456789abcdef01234567.partial'), Buffer.alloc(10 * 1024 * 1024));
    await writeFile(path.join(storage, '.staging', '0123456789abcdef01234567.partial.json'), '{"resource":"http://127.0.0.1/gone.zip","etag":"x"}');
    await startLoader();
    loader!.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${baseUrl}/ssd.zip`, sha256: sha256(pkg), sizeBytes: pkg.length } } });
    await loader!.whenIdle();
    expect(edge.reportedState).toMatchObject({ modelUpdate: { state: 'active', version: '1' } });
    // The hub drops a reported property set to null: the earlier error is gone.
    expect(edge.reportedState.modelUpdate).not.toHaveProperty('error');
    expect(errorCodes()).not.toContain('LOADER_DISK_FULL');
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });
});
