import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoaderReportedSchema } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer, mountTmpfs, tmpfsUnavailableReason, unmountTmpfs } from '@edge-ml/testkit';
import { downloadToFile } from '../src/download/http-download.js';
import { DiskFullError } from '../src/errors.js';
import { Loader } from '../src/reconcile/loader.js';
import { freeBytesOf } from '../src/storage/disk-space.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { distinctSsdPackages } from './zip-fixtures.js';

const TMPFS_BYTES = 40 * 1024 * 1024;
/** What the attack pass left free: one 2.8 MB package fits with its extraction (2.2 times its size), two do not. */
const FREE_BYTES = 7_200_000;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
let mountPoint: string;
let storage: string;
let server: FaultServer;
let baseUrl: string;
let edge: RecordingEdgeClient;
let loader: Loader;
let packages: Buffer[];

const entry = (name: string, index: number) => ({ version: String(index), url: `${baseUrl}/${name}-${index}.zip?sig=s`, sha256: sha256(packages[index]!), sizeBytes: packages[index]!.length });
const reportedModels = () => LoaderReportedSchema.parse(edge.reportedState).models ?? {};

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(reportedModels())}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.runIf((await tmpfsUnavailableReason()) === undefined)('two entries updated at once on a nearly full disk (a 40 MiB tmpfs)', () => {
  beforeEach(async () => {
    // Distinct packages the size of the SSD package (2.8 MB deflated, 4.2 MB extracted).
    packages = await distinctSsdPackages(3);
    mountPoint = await mountTmpfs('two-updates-', TMPFS_BYTES);
    storage = path.join(mountPoint, 'storage');
    await mkdir(storage);
    server = new FaultServer(packages[0]!);
    baseUrl = await server.listen();
    for (const name of ['ssd', 'cls']) packages.forEach((pkg, index) => server.serve(`/${name}-${index}.zip`, pkg));
    edge = new RecordingEdgeClient();
    loader = new Loader({ storageRoot: storage, edge, logger: createLogger({ name: 'two-updates-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
    await loader.initialise();
  });
  afterEach(async () => {
    await loader.close();
    await server.close();
    await unmountTmpfs(mountPoint);
  });

  it('lands one while the other waits without holding bytes, then lands the other once there is room: no deadlock', async () => {
    loader.applyDesired({ version: 1, full: true, properties: { models: { ssd: entry('ssd', 1), cls: entry('cls', 1) } } });
    await loader.whenIdle();
    expect(reportedModels()).toMatchObject({ ssd: { state: 'active', version: '1' }, cls: { state: 'active', version: '1' } });
    const filler = path.join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc((await freeBytesOf(mountPoint)) - FREE_BYTES));
    // One update alone fits: 2.2 x 2.8 MB < 7.2 MB; both at once do not.
    expect(packages[2]!.length * 2.2).toBeLessThan(await freeBytesOf(mountPoint));
    expect(packages[2]!.length * 2.2 * 2).toBeGreaterThan(await freeBytesOf(mountPoint));

    loader.applyDesired({ version: 2, full: true, properties: { models: { ssd: entry('ssd', 2), cls: entry('cls', 2) } } });
    const landed = () => Object.entries(reportedModels()).filter(([, model]) => model?.state === 'active' && model.version === '2').map(([name]) => name);
    await waitUntil(() => landed().length === 1, "one of the two updates to land", 15_000);
    const [first] = landed();
    const other = first === 'ssd' ? 'cls' : 'ssd';
    // The other waits: retryable LOADER_DISK_FULL, and nothing of it in staging (its bytes are not held).
    await waitUntil(() => reportedModels()[other]?.error?.code === 'LOADER_DISK_FULL', `${other} to report LOADER_DISK_FULL`);
    expect(reportedModels()[other]).toMatchObject({ state: 'downloading', version: '2' });
    expect(reportedModels()[other]?.error?.message).toMatch(/^not enough free space on shared storage: \d+ bytes needed, \d+ free.*; retrying in/);
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
    expect(server.requests.filter((request) => request.url.startsWith(`/${other}-2.zip`))).toHaveLength(0);

    // Room comes back (here: the filler goes; on a device, another module's files or a collected version): it lands.
    await rm(filler);
    await waitUntil(() => landed().length === 2, 'the other update to land');
    await loader.whenIdle();
    expect(reportedModels()).toMatchObject({ ssd: { state: 'active', version: '2' }, cls: { state: 'active', version: '2' } });
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
  });

  it('breaks the deadlock of two partials that each wait for the room the other holds: the one with less left goes first', async () => {
    // Left by a crash (or by a loader before the ledger): two partials, and room for neither to finish beside the other.
    const staging = path.join(mountPoint, 'staging');
    await mkdir(staging);
    const etag = (body: Buffer) => `"0x${createHash('md5').update(body).digest('hex').slice(0, 16).toUpperCase()}"`;
    const seed = async (name: string, pkg: Buffer, heldBytes: number) => {
      const partialPath = path.join(staging, `${name}.partial`);
      await writeFile(partialPath, pkg.subarray(0, heldBytes));
      await writeFile(`${partialPath}.json`, JSON.stringify({ resource: `${baseUrl}/${name}.zip`, etag: etag(pkg), totalBytes: pkg.length }));
      return { url: `${baseUrl}/${name}.zip?sig=s`, partialPath, expectedSizeBytes: pkg.length, reserveFactor: 2.2 };
    };
    const near = await seed('ssd-1', packages[1]!, 1_000_000);
    const far = await seed('cls-2', packages[2]!, 500_000);
    const needNear = (packages[1]!.length - 1_000_000) * 2.2;
    const needFar = (packages[2]!.length - 500_000) * 2.2;
    await writeFile(path.join(mountPoint, 'filler'), Buffer.alloc((await freeBytesOf(mountPoint)) - Math.round(needNear - 250_000)));
    expect(await freeBytesOf(mountPoint)).toBeLessThan(needNear);
    expect(await freeBytesOf(mountPoint) + 500_000).toBeGreaterThan(needNear);
    expect(needFar).toBeGreaterThan(needNear);

    // The one with less left keeps its bytes and waits; the other gives its bytes back; then the first lands.
    const first = await downloadToFile(near).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(DiskFullError);
    expect((await readdir(staging)).sort()).toEqual(['cls-2.partial', 'cls-2.partial.json', 'ssd-1.partial', 'ssd-1.partial.json']);
    const yielded = await downloadToFile(far).catch((error: unknown) => error);
    expect(yielded).toBeInstanceOf(DiskFullError);
    expect((yielded as Error).message).toMatch(/this download gave its 500000 bytes back so that ssd-1\.partial \(\d+ bytes left to fetch\) can land first/);
    expect((await readdir(staging)).sort()).toEqual(['ssd-1.partial', 'ssd-1.partial.json']);
    const landed = await downloadToFile(near);
    expect(landed).toMatchObject({ sizeBytes: packages[1]!.length, sha256: sha256(packages[1]!), resumedFromBytes: 1_000_000 });
  });
});
