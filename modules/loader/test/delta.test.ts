import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeltaManifestV1, DeltaManifestV2 } from '@edge-ml/contracts';
import { createPatch, encodeChunkList, encodeGroupList } from '@edge-ml/delta';
import { createLogger } from '@edge-ml/edge-kit';
import { startAzurite, type Azurite } from '@edge-ml/testkit';
import { Loader } from '../src/reconcile/loader.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { buildZip, ssdDeltaManifest, TESTDATA } from './zip-fixtures.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
let azurite: Azurite;
let plainModel: Buffer;
let metadataModel: Buffer;
let labels: Buffer;
let v1: Buffer;
let v2: Buffer;
let patch: Uint8Array;

const upload = (name: string, data: Uint8Array) => azurite.container.getBlockBlobClient(name).uploadData(Buffer.from(data));

function manifestFor(patchUrl: string, overrides: Partial<DeltaManifestV2> = {}): DeltaManifestV2 {
  return {
    ...ssdDeltaManifest({ version: '2', pkg: v2, model: metadataModel, labels, patches: [{ fromSha256: sha256(plainModel), url: patchUrl, sha256: sha256(patch), sizeBytes: patch.length }] }),
    ...overrides,
  };
}

async function withV1Installed() {
  const edge = new RecordingEdgeClient();
  const loader = new Loader({ storageRoot: await mkdtemp(path.join(tmpdir(), 'loader-delta-')), edge, logger: createLogger({ name: 'delta-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
  await loader.initialise();
  loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: azurite.sasUrl('ssd-1.zip'), sha256: sha256(v1) } } });
  await loader.whenIdle();
  return { edge, loader };
}

beforeAll(async () => {
  azurite = await startAzurite('models');
  plainModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
  metadataModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_1_metadata_1.tflite'));
  labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
  v1 = await buildZip([{ name: 'detect.tflite', data: plainModel }, { name: 'labelmap.txt', data: labels }]);
  v2 = await buildZip([{ name: 'detect.tflite', data: metadataModel }, { name: 'labelmap.txt', data: labels }]);
  patch = createPatch(plainModel, metadataModel);
  await upload('ssd-1.zip', v1);
  await upload('ssd-2.zip', v2);
  await upload('ssd-1-to-2.patch', patch);
  await upload('ssd-2.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.patch')))));
}, 60_000);
afterAll(() => azurite?.stop());

const desiredV2 = (manifestBlob: string) => ({ model: { name: 'ssd', version: '2', url: azurite.sasUrl('ssd-2.zip'), sha256: sha256(v2), delta: { manifestUrl: azurite.sasUrl(manifestBlob) } } });

describe('delta updates through a patch', () => {
  it('builds v2 from the installed v1 and a patch of a few KiB, installs it like a download, and reports the path', async () => {
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredV2('ssd-2.delta.json') });
    await loader.whenIdle();
    const report = edge.reportedState.modelUpdate as { state: string; path: string; bytesFetched: number; bytesReused: number };
    expect(report).toMatchObject({ state: 'active', path: 'patch' });
    expect(report.bytesFetched).toBeLessThan(patch.length + 4_000);
    expect(report.bytesReused).toBeGreaterThan(metadataModel.length * 0.99);
    const announced = await loader.repository.readAnnounced();
    expect(announced).toMatchObject({ version: '2', sha256: sha256(metadataModel) });
    expect(sha256(await readFile(path.join(loader.repository.root, announced!.local_model_path)))).toBe(sha256(metadataModel));
    expect(await readFile(path.join(loader.repository.root, announced!.local_labelmap_path))).toEqual(labels);
    await loader.close();
  });

  it('reads schema-1 manifests (labels in base64), which publishers wrote before schema 2', async () => {
    const { schemaVersion: _schema, files: _files, ...rest } = manifestFor(azurite.sasUrl('ssd-1-to-2.patch'));
    const v1Manifest: DeltaManifestV1 = { ...rest, schemaVersion: 1, files: { 'labelmap.txt': labels.toString('base64') } };
    await upload('ssd-2.schema-1.delta.json', Buffer.from(JSON.stringify(v1Manifest)));
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredV2('ssd-2.schema-1.delta.json') });
    await loader.whenIdle();
    expect(edge.reportedState.modelUpdate).toMatchObject({ state: 'active', version: '2', path: 'patch' });
    const announced = await loader.repository.readAnnounced();
    expect(await readFile(path.join(loader.repository.root, announced!.local_labelmap_path))).toEqual(labels);
    await loader.close();
  });

  it('falls back to the full package when the manifest names labels no installed version holds', async () => {
    await upload('ssd-2.new-labels.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.patch'), { files: { 'labelmap.txt': { sha256: 'c'.repeat(64), sizeBytes: 12 } } }))));
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredV2('ssd-2.new-labels.delta.json') });
    await loader.whenIdle();
    expect(edge.reportedState.modelUpdate).toMatchObject({ state: 'active', version: '2', path: 'full' });
    await loader.close();
  });

  it('falls back to the full package when the patch is corrupt', async () => {
    const corrupt = Buffer.from(patch);
    corrupt[corrupt.length - 20] = (corrupt[corrupt.length - 20] ?? 0) ^ 0xff;
    await upload('ssd-1-to-2.corrupt.patch', corrupt);
    await upload('ssd-2.corrupt.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.corrupt.patch'), { patches: [{ fromSha256: sha256(plainModel), url: azurite.sasUrl('ssd-1-to-2.corrupt.patch'), sha256: sha256(corrupt), sizeBytes: corrupt.length }] }))));
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredV2('ssd-2.corrupt.delta.json') });
    await loader.whenIdle();
    expect(edge.reportedState.modelUpdate).toMatchObject({ state: 'active', version: '2', path: 'full' });
    expect((await loader.repository.readAnnounced())?.sha256).toBe(sha256(metadataModel));
    await loader.close();
  });

  it('falls back to the full package when the patch blob is gone (HTTP 404) or answers with another size', async () => {
    await upload('ssd-2.missing-patch.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.deleted.patch')))));
    await upload('ssd-2.short-patch.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.patch'), { patches: [{ fromSha256: sha256(plainModel), url: azurite.sasUrl('ssd-1-to-2.patch'), sha256: sha256(patch), sizeBytes: patch.length + 10 }] }))));
    for (const manifestBlob of ['ssd-2.missing-patch.delta.json', 'ssd-2.short-patch.delta.json']) {
      const { edge, loader } = await withV1Installed();
      loader.applyDesired({ version: 2, full: true, properties: desiredV2(manifestBlob) });
      await loader.whenIdle();
      expect(edge.reportedState.modelUpdate).toMatchObject({ state: 'active', version: '2', path: 'full' });
      expect((await loader.repository.readAnnounced())?.sha256).toBe(sha256(metadataModel));
      await loader.close();
    }
  });

  it('falls back to the full package when no patch starts from what the device holds, or the manifest is for another package', async () => {
    await upload('ssd-2.other-base.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.patch'), { patches: [{ fromSha256: 'e'.repeat(64), url: azurite.sasUrl('ssd-1-to-2.patch'), sha256: sha256(patch), sizeBytes: patch.length }] }))));
    await upload('ssd-2.wrong-package.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.patch'), { package: { sha256: 'd'.repeat(64), sizeBytes: 10 } }))));
    for (const manifest of ['ssd-2.other-base.delta.json', 'ssd-2.wrong-package.delta.json', 'missing.delta.json']) {
      const { edge, loader } = await withV1Installed();
      loader.applyDesired({ version: 2, full: true, properties: desiredV2(manifest) });
      await loader.whenIdle();
      expect(edge.reportedState.modelUpdate, manifest).toMatchObject({ state: 'active', version: '2', path: 'full' });
      await loader.close();
    }
  });
});

/** The blob a publisher uploads for each list format, and the bytes of it the manifest names as the list. */
const listFormats = {
  'a two-level list (EMCG, what edge-model delta writes)': (model: Uint8Array) => {
    const { blob, listSizeBytes } = encodeGroupList(model);
    return { blob, list: blob.subarray(0, listSizeBytes) };
  },
  'a single-level list (EMCL, what publishers wrote before)': (model: Uint8Array) => {
    const blob = encodeChunkList(model);
    return { blob, list: blob };
  },
};

describe.each(Object.entries(listFormats))('delta updates through chunk reuse, by %s', (format, encode) => {
  const slug = format.includes('EMCG') ? 'groups' : 'chunks';
  let list: Uint8Array;
  let manifestBytes: number;
  const chunked = (modelBlob: string, overrides: Partial<DeltaManifestV2> = {}) =>
    manifestFor(azurite.sasUrl('ssd-1-to-2.patch'), {
      patches: [],
      chunks: { listUrl: azurite.sasUrl(`ssd-2.${slug}`), listSha256: sha256(list), listSizeBytes: list.length, modelUrl: azurite.sasUrl(modelBlob) },
      ...overrides,
    });
  const desiredChunked = (manifestBlob: string) => ({ model: { ...desiredV2(manifestBlob).model, sizeBytes: v2.length } });

  beforeAll(async () => {
    const encoded = encode(metadataModel);
    list = encoded.list;
    await upload(`ssd-2.${slug}`, encoded.blob);
    await upload('ssd-2.model', metadataModel);
    const manifest = Buffer.from(JSON.stringify(chunked('ssd-2.model')));
    manifestBytes = manifest.length;
    await upload(`ssd-2.${slug}.delta.json`, manifest);
  });

  it('reuses the chunks of the installed model and fetches only the missing ranges when no patch applies', async () => {
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredChunked(`ssd-2.${slug}.delta.json`) });
    await loader.whenIdle();
    const report = edge.reportedState.modelUpdate as { state: string; path: string; bytesFetched: number; bytesReused: number };
    expect(report).toMatchObject({ state: 'active', version: '2', path: 'chunks' });
    expect(report.bytesFetched / metadataModel.length).toBeLessThan(0.05);
    expect(report.bytesReused / metadataModel.length).toBeGreaterThan(0.95);
    const announced = await loader.repository.readAnnounced();
    expect(sha256(await readFile(path.join(loader.repository.root, announced!.local_model_path)))).toBe(sha256(metadataModel));
    await loader.close();
  });

  it('falls back to the full package when fetched bytes do not match their chunks', async () => {
    const tampered = Buffer.from(metadataModel);
    for (let index = 0; index < tampered.length; index += 4096) tampered[index] = (tampered[index] ?? 0) ^ 0x01;
    await upload(`ssd-2.${slug}.tampered.model`, tampered);
    await upload(`ssd-2.${slug}.tampered.delta.json`, Buffer.from(JSON.stringify(chunked(`ssd-2.${slug}.tampered.model`))));
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredChunked(`ssd-2.${slug}.tampered.delta.json`) });
    await loader.whenIdle();
    expect(edge.reportedState.modelUpdate).toMatchObject({ state: 'active', version: '2', path: 'full' });
    expect((await loader.repository.readAnnounced())?.sha256).toBe(sha256(metadataModel));
    await loader.close();
  });

  it('falls back to the full package when the list does not match the manifest', async () => {
    await upload(`ssd-2.${slug}.wrong-list.delta.json`, Buffer.from(JSON.stringify(chunked('ssd-2.model', { chunks: { listUrl: azurite.sasUrl(`ssd-2.${slug}`), listSha256: 'a'.repeat(64), listSizeBytes: list.length, modelUrl: azurite.sasUrl('ssd-2.model') } }))));
    const { edge, loader } = await withV1Installed();
    loader.applyDesired({ version: 2, full: true, properties: desiredChunked(`ssd-2.${slug}.wrong-list.delta.json`) });
    await loader.whenIdle();
    expect(edge.reportedState.modelUpdate).toMatchObject({ state: 'active', version: '2', path: 'full' });
    await loader.close();
  });

  it('downloads the full package when the chunks it lacks would cost more (a device holding an unrelated model)', async () => {
    const yolox = await buildZip([{ name: 'yolox.onnx', data: await readFile(path.join(TESTDATA, 'models', 'yolox_nano.onnx')) }, { name: 'coco_classes.txt', data: await readFile(path.join(TESTDATA, 'models', 'coco_classes.txt')) }]);
    await upload('yolox-1.zip', yolox);
    const edge = new RecordingEdgeClient();
    const loader = new Loader({ storageRoot: await mkdtemp(path.join(tmpdir(), 'loader-delta-')), edge, logger: createLogger({ name: 'delta-test', level: 'silent' }), progressIntervalMs: 0 });
    await loader.initialise();
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: azurite.sasUrl('yolox-1.zip'), sha256: sha256(yolox) } } });
    await loader.whenIdle();
    loader.applyDesired({ version: 2, full: true, properties: desiredChunked(`ssd-2.${slug}.delta.json`) });
    await loader.whenIdle();
    const report = edge.reportedState.modelUpdate as { state: string; path: string; bytesFetched: number };
    expect(report).toMatchObject({ state: 'active', version: '2', path: 'full' });
    // The manifest was fetched to decide (the labels it names are not held, so no list): counted with the package.
    expect(report.bytesFetched).toBe(v2.length + manifestBytes);
    await loader.close();
  });
});

describe('delta updates of several models', () => {
  it('patches two entries at once, each from its own installed version, and reports the path of each', async () => {
    await upload('cls-2.delta.json', Buffer.from(JSON.stringify(manifestFor(azurite.sasUrl('ssd-1-to-2.patch'), { name: 'cls' }))));
    const edge = new RecordingEdgeClient();
    const loader = new Loader({ storageRoot: await mkdtemp(path.join(tmpdir(), 'loader-delta-several-')), edge, logger: createLogger({ name: 'delta-test', level: 'silent' }), backoff: { initialDelayMs: 20, maxDelayMs: 100 }, progressIntervalMs: 0 });
    await loader.initialise();
    const at1 = { version: '1', url: azurite.sasUrl('ssd-1.zip'), sha256: sha256(v1) };
    loader.applyDesired({ version: 1, full: true, properties: { models: { ssd: at1, cls: at1 } } });
    await loader.whenIdle();
    const at2 = (manifestBlob: string) => ({ version: '2', url: azurite.sasUrl('ssd-2.zip'), sha256: sha256(v2), delta: { manifestUrl: azurite.sasUrl(manifestBlob) } });
    loader.applyDesired({ version: 2, full: true, properties: { models: { ssd: at2('ssd-2.delta.json'), cls: at2('cls-2.delta.json') } } });
    await loader.whenIdle();
    const models = edge.reportedState.models as Record<string, { state: string; version: string; path: string; bytesFetched: number }>;
    for (const name of ['ssd', 'cls']) {
      expect(models[name], name).toMatchObject({ state: 'active', version: '2', path: 'patch' });
      expect(models[name]!.bytesFetched).toBeLessThan(patch.length + 4_000);
      const manifest = JSON.parse(await readFile(path.join(loader.repository.root, 'models', name, '2', '.installed.json'), 'utf8')) as { modelSha256: string };
      expect(manifest.modelSha256).toBe(sha256(metadataModel));
    }
    await loader.close();
  });
});
