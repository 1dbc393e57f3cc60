/**
 * The chunk path's two-level list through the in-process loader and a loopback blob server that counts what it
 * sends: what is fetched in which round, an accidental block match, and the decision to take the package instead.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chunkBytes, encodeGroupList, type GroupListOptions } from '@edge-ml/delta';
import { createLogger } from '@edge-ml/edge-kit';
import { FaultServer } from '@edge-ml/testkit';
import { Loader } from '../src/reconcile/loader.js';
import { buildZip, ssdDeltaManifest, TESTDATA } from './zip-fixtures.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
let plainModel: Buffer;
let labels: Buffer;
let server: FaultServer | undefined;
afterEach(() => server?.close());

beforeAll(async () => {
  plainModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
  labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
});

/** v1 (`held`) installed, v2 (`next`) published with only a chunk list; lands v2 and returns what was served for it. */
async function land(held: Buffer, next: Buffer, options: GroupListOptions = {}, heldName = 'detect.tflite') {
  const v1 = await buildZip([{ name: heldName, data: held }, { name: 'labelmap.txt', data: labels }]);
  const v2 = await buildZip([{ name: 'detect.tflite', data: next }, { name: 'labelmap.txt', data: labels }]);
  const { blob, listSizeBytes } = encodeGroupList(next, options);
  server = new FaultServer(Buffer.alloc(0));
  const base = await server.listen();
  const manifest = ssdDeltaManifest({ version: '2', pkg: v2, model: next, labels, chunks: { list: blob, listSizeBytes, listUrl: `${base}/ssd-2.chunks`, modelUrl: `${base}/ssd-2.model` } });
  for (const [name, body] of [['ssd-1.zip', v1], ['ssd-2.zip', v2], ['ssd-2.chunks', Buffer.from(blob)], ['ssd-2.model', next], ['ssd-2.delta.json', Buffer.from(JSON.stringify(manifest))]] as const) server.serve(`/${name}`, body);
  const loader = new Loader({ storageRoot: await mkdtemp(path.join(tmpdir(), 'loader-chunks-')), logger: createLogger({ name: 'chunks-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await loader.initialise();
  loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${base}/ssd-1.zip`, sha256: sha256(v1) }, policy: { confirmTimeoutSeconds: 0 } } });
  await loader.whenIdle();
  const sentBefore = server.bytesSent;
  const requestsBefore = server.requests.length;
  loader.applyDesired({ version: 2, full: true, properties: { model: { name: 'ssd', version: '2', url: `${base}/ssd-2.zip`, sha256: sha256(v2), sizeBytes: v2.length, delta: { manifestUrl: `${base}/ssd-2.delta.json` } }, policy: { confirmTimeoutSeconds: 0 } } });
  await loader.whenIdle();
  const installed = await loader.repository.readManifest('ssd', '2');
  const announced = await loader.repository.readAnnounced();
  const model = announced ? await readFile(path.join(loader.repository.root, announced.local_model_path)) : undefined;
  await loader.close();
  const requests = server.requests.slice(requestsBefore).map((request) => `${new URL(request.url, base).pathname} ${request.range ?? 'whole'}`);
  return { delivery: installed?.delivery, served: server.bytesSent - sentBefore, requests, model, v2, listSizeBytes };
}

/** Deterministic bytes for seed `seed`. */
const bytesOf = (seed: number, length: number) => {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length; at += 32) createHash('sha256').update(`${seed}:${at}`).digest().copy(out, at);
  return out;
};

describe('the chunk path with a two-level list', () => {
  it('fetches the list, then the block hashes of the groups it lacks, then the blocks it lacks: one request per round for one change', async () => {
    const next = Buffer.from(plainModel);
    bytesOf(1, 3000).copy(next, 2_000_000);
    const landed = await land(plainModel, next);
    expect(landed.delivery).toMatchObject({ path: 'chunks' });
    expect(landed.delivery?.bytesFetched).toBe(landed.served);
    expect(sha256(landed.model ?? Buffer.alloc(0))).toBe(sha256(next));
    expect(landed.requests).toHaveLength(4);
    expect(landed.requests[0]).toBe('/ssd-2.delta.json whole');
    expect(landed.requests[1]).toBe(`/ssd-2.chunks bytes=0-${landed.listSizeBytes - 1}`);
    expect(landed.requests[2]).toMatch(/^\/ssd-2\.chunks bytes=\d+-\d+$/);
    const [, start, end] = /bytes=(\d+)-(\d+)/.exec(landed.requests[3] ?? '') ?? [];
    expect(landed.requests[3]).toMatch(/^\/ssd-2\.model /);
    // The 3,000 changed bytes and at most a 256-byte block on either side.
    expect(Number(start)).toBeLessThanOrEqual(2_000_000);
    expect(Number(end) + 1).toBeGreaterThanOrEqual(2_003_000);
    expect(Number(end) + 1 - Number(start)).toBeLessThanOrEqual(3000 + 2 * 256);
  }, 60_000);

  it('a block that matches by accident fails its group check, and the group is fetched again whole: the update still lands by chunks', async () => {
    // 1-byte block hashes, and a replaced block whose hash byte equals the one it replaces: the plan copies the old one.
    const groups = chunkBytes(plainModel, 16 * 1024);
    const group = groups.find((candidate) => candidate.offset > 1_000_000 && candidate.length >= 4096)!;
    const at = group.offset + 4 * 256;
    const hashByte = (data: Uint8Array) => createHash('sha256').update(data).digest()[0];
    let next = plainModel;
    for (let seed = 1; ; seed += 1) {
      const block = bytesOf(seed, 256);
      if (hashByte(block) !== hashByte(plainModel.subarray(at, at + 256))) continue;
      next = Buffer.from(plainModel);
      block.copy(next, at);
      // The group must still start where it did, so that the block is compared with the one it replaced.
      if (chunkBytes(next, 16 * 1024).some((candidate) => candidate.offset === group.offset)) break;
    }
    const landed = await land(plainModel, next, { blockHashBytes: 1 });
    expect(landed.delivery).toMatchObject({ path: 'chunks' });
    expect(landed.delivery?.bytesFetched).toBe(landed.served);
    expect(sha256(landed.model ?? Buffer.alloc(0))).toBe(sha256(next));
    const modelRequests = landed.requests.filter((request) => request.startsWith('/ssd-2.model'));
    const newGroup = chunkBytes(next, 16 * 1024).find((candidate) => candidate.offset === group.offset)!;
    expect(modelRequests).toEqual([`/ssd-2.model bytes=${newGroup.offset}-${newGroup.offset + newGroup.length - 1}`]);
  }, 60_000);

  it('takes the full package, fetching no block hashes, when the list shows that nothing it holds lines up', async () => {
    const unrelated = await readFile(path.join(TESTDATA, 'models', 'yolox_nano.onnx'));
    const landed = await land(unrelated, plainModel, {}, 'yolox.onnx');
    expect(landed.delivery).toMatchObject({ path: 'full' });
    expect(landed.requests.filter((request) => request.startsWith('/ssd-2.chunks'))).toHaveLength(1);
    expect(landed.requests.filter((request) => request.startsWith('/ssd-2.model'))).toEqual([]);
    expect(sha256(landed.model ?? Buffer.alloc(0))).toBe(sha256(plainModel));
  }, 60_000);
});
