/**
 * Each fine-tune pair lands through the real loader: published with `edge-model delta` (from the previous package),
 * served by a loopback blob server that counts the body bytes it sends, fetched, rebuilt and installed by the loader.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaManifestSchema } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { Loader } from '@edge-ml/loader';
import { buildModelPackage, deltaCommand } from '@edge-ml/model-cli';
import { FaultServer } from '@edge-ml/testkit';
import { groupPath, REQUEST_OVERHEAD_BYTES } from './chunk-path-options.js';
import { fineTunePairs, testModel } from './fixtures/finetune-pairs.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const labelsFor = (model: string) => (model.startsWith('yolox') ? 'coco_classes.txt' : model.startsWith('mobilenet') ? 'imagenet_labels.txt' : 'labelmap.txt');
let server: FaultServer;
let baseUrl: string;

beforeAll(async () => {
  server = new FaultServer(Buffer.alloc(0));
  baseUrl = await server.listen();
});
afterAll(() => server?.close());

/** Publishes v1 and v2 of a pair (v2's manifest made by `edge-model delta --from v1.zip`) and serves every file. */
async function publish(label: string, from: string, next: Buffer) {
  const directory = await mkdtemp(path.join(tmpdir(), 'delta-landing-'));
  const modelName = `model${path.extname(from)}`;
  const nextPath = path.join(directory, `next${path.extname(from)}`);
  await writeFile(nextPath, next);
  const labels = testModel(labelsFor(from));
  const v1 = (await buildModelPackage([{ path: testModel(from), name: modelName }, { path: labels }])).bytes;
  const v2 = (await buildModelPackage([{ path: nextPath, name: modelName }, { path: labels }])).bytes;
  const slug = label.replace(/\W+/g, '-').toLowerCase();
  await writeFile(path.join(directory, `${slug}-1.zip`), v1);
  await writeFile(path.join(directory, `${slug}-2.zip`), v2);
  await deltaCommand([path.join(directory, `${slug}-2.zip`), '--name', slug, '--version', '2', '--from', path.join(directory, `${slug}-1.zip`), '--url-prefix', `${baseUrl}/models/`], () => undefined, () => undefined);
  for (const file of await readdir(directory)) server.serve(`/models/${file}`, await readFile(path.join(directory, file)));
  const manifestBytes = await readFile(path.join(directory, `${slug}-2.delta.json`));
  const manifest = DeltaManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  // The same manifest without patches: what a device holding an unlisted version would use.
  const chunksOnly = Buffer.from(JSON.stringify({ ...manifest, patches: [] }));
  server.serve(`/models/${slug}-2.chunks-only.delta.json`, chunksOnly);
  return { slug, v1, v2, manifest, manifestBytes, chunksOnly, labels: await readFile(labels) };
}

async function landV2(published: Awaited<ReturnType<typeof publish>>, manifestFile: string) {
  const { slug, v1, v2 } = published;
  const loader = new Loader({ storageRoot: await mkdtemp(path.join(tmpdir(), 'delta-landing-loader-')), logger: createLogger({ name: 'delta-landing', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await loader.initialise();
  loader.applyDesired({ version: 1, full: true, properties: { model: { name: slug, version: '1', url: `${baseUrl}/models/${slug}-1.zip`, sha256: sha256(v1) }, policy: { confirmTimeoutSeconds: 0 } } });
  await loader.whenIdle();
  const sentBefore = server.bytesSent;
  loader.applyDesired({ version: 2, full: true, properties: { model: { name: slug, version: '2', url: `${baseUrl}/models/${slug}-2.zip`, sha256: sha256(v2), sizeBytes: v2.length, delta: { manifestUrl: `${baseUrl}/models/${manifestFile}` } }, policy: { confirmTimeoutSeconds: 0 } } });
  await loader.whenIdle();
  const installed = await loader.repository.readManifest(slug, '2');
  const announced = await loader.repository.readAnnounced();
  const files = announced && { model: await readFile(path.join(loader.repository.root, announced.local_model_path)), labels: await readFile(path.join(loader.repository.root, announced.local_labelmap_path)) };
  await loader.close();
  return { delivery: installed?.delivery, served: server.bytesSent - sentBefore, files };
}

describe('fine-tune pairs land through the real loader', () => {
  for (const [label, make] of Object.entries(fineTunePairs)) {
    it(`${label}: the patch path fetches the manifest and the patch, and the labels come from v1`, async () => {
      const pair = await make();
      const published = await publish(label, pair.from, pair.bytes);
      const patch = published.manifest.patches[0];
      expect(patch).toBeDefined();
      expect(published.manifest.files[labelsFor(pair.from)]).not.toHaveProperty('base64');
      const landed = await landV2(published, `${published.slug}-2.delta.json`);
      expect(landed.delivery).toMatchObject({ path: 'patch' });
      expect(landed.delivery?.bytesFetched).toBe(landed.served);
      expect(landed.served).toBe((patch?.sizeBytes ?? 0) + published.manifestBytes.length);
      expect(sha256(landed.files?.model ?? Buffer.alloc(0))).toBe(sha256(pair.bytes));
      expect(landed.files?.labels).toEqual(published.labels);
    }, 120_000);
  }

  it('SSD with ten replaced regions: the chunk path fetches the list, the block hashes and the missing ranges its plan names, and nothing else', async () => {
    const pair = await fineTunePairs['SSD: 10 sparse 4 KiB regions replaced']();
    const published = await publish('SSD sparse chunks', pair.from, pair.bytes);
    const requestsBefore = server.requests.length;
    const landed = await landV2(published, `${published.slug}-2.chunks-only.delta.json`);
    expect(landed.delivery).toMatchObject({ path: 'chunks' });
    expect(landed.delivery?.bytesFetched).toBe(landed.served);
    expect(sha256(landed.files?.model ?? Buffer.alloc(0))).toBe(sha256(pair.bytes));
    // The plan the bench reports, from the same planning code: the loader fetched exactly its bytes, in its requests.
    const planned = groupPath(await readFile(testModel(pair.from)), pair.bytes);
    const rangeRequests = server.requests.slice(requestsBefore).filter((request) => request.range !== undefined);
    expect(rangeRequests).toHaveLength(1 + planned.requests);
    expect(landed.served).toBe(published.chunksOnly.length + planned.list + planned.hashes + planned.missing);
    expect(planned.groupsRefetched).toBe(0);
    // The target: at most 1.5 × the best tool's 41,259 bytes (xdelta3 -9, as npm run bench:delta measures it), 600 bytes per range request after the list's.
    expect(planned.total).toBe(landed.served - published.chunksOnly.length + planned.requests * REQUEST_OVERHEAD_BYTES);
    expect(planned.total).toBeLessThanOrEqual(1.5 * 41_259);
  }, 120_000);
});
