import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '@edge-ml/local-run';
import { buildModelPackage } from '@edge-ml/local-run';
import { packages, photo, root, startSystem } from './activation-helpers.js';

const parrot = path.join(root, 'testdata', 'images', 'parrot.jpg');
const models = path.join(root, 'testdata', 'models');
const classifierPackage = () => buildModelPackage([{ path: path.join(models, 'mobilenet_v2_1.0_224_quant.tflite') }, { path: path.join(models, 'imagenet_labels.txt') }]);

interface ModelEntryReport {
  state: string;
  version?: string | null;
  activeVersion?: { version: string } | null;
  error?: { code: string } | null;
}
interface ServedModel {
  name: string;
  version: string;
}

/**
 * Several models on one device with real processes: a detector and a classifier side by side, each updated on its
 * own through the loader twin's `models` map; the detector swaps ten times under load on both while every request
 * succeeds and the classifier's answers do not change; then the classifier is removed.
 */
describe('several models end to end: a detector and a classifier, each updated on its own', () => {
  let system: LocalSystem;
  const logs: string[] = [];
  const figures: Record<string, number | string> = {};
  const policy = { keepVersions: 2, confirmTimeoutSeconds: 60, confirmResendSeconds: 5 };
  let detectorImage: Buffer;
  let classifierImage: Buffer;

  const loaderModels = async () => ((await system.reported('loader')).models ?? {}) as Record<string, ModelEntryReport | null>;
  const served = async (): Promise<ServedModel[]> => {
    const response = await fetch(`${system.inferenceUrl}/v1/models`).catch(() => undefined);
    if (!response?.ok) return [];
    const { models } = (await response.json()) as { models: { name: string; active: { version: string } | null }[] };
    return models.flatMap((entry) => (entry.active ? [{ name: entry.name, version: entry.active.version }] : []));
  };
  /** Resolves once the loader reports `name` active at `version` and the inference module serves that version. */
  const settled = (name: string, version: string) => async () => {
    const entry = (await loaderModels())[name];
    if (entry?.state !== 'active' || entry.version !== version) return undefined;
    return (await served()).some((model) => model.name === name && model.version === version) ? entry : undefined;
  };
  const post = async (route: string, image: Buffer) => {
    const response = await fetch(`${system.inferenceUrl}${route}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
    const body = response.ok ? ((await response.json()) as { model: ServedModel; detections: { label: string }[]; classifications: { label: string; score: number }[] }) : undefined;
    return { status: response.status, body };
  };

  beforeAll(async () => {
    detectorImage = await readFile(photo);
    classifierImage = await readFile(parrot);
    system = await startSystem('e2e-multi-', logs, 2000);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    if (process.env.E2E_PRINT_LOGS) console.log(logs.join('\n'));
    console.log(`several models figures: ${JSON.stringify(figures)}`);
  });

  it('serves a detector and a classifier side by side, each on its own route', async () => {
    const detector = await system.publish('detector-1.zip', 'detector', '1', await packages.ssd());
    const classifier = await system.publish('classifier-1.zip', 'classifier', '1', await classifierPackage());
    const started = performance.now();
    await system.setDesired('loader', { models: { detector, classifier }, defaultModel: 'detector', policy });
    await system.waitFor(settled('detector', '1'), 120_000, 'detector v1 served');
    await system.waitFor(settled('classifier', '1'), 120_000, 'classifier v1 served');
    figures.bothServedS = Math.round((performance.now() - started) / 100) / 10;

    const detected = await post('/v1/models/detector/detect', detectorImage);
    expect(detected.status).toBe(200);
    expect(detected.body?.model).toMatchObject({ name: 'detector', version: '1' });
    expect(detected.body?.detections.map((detection) => detection.label)).toEqual(expect.arrayContaining(['person', 'sheep']));
    const classified = await post('/v1/models/classifier/detect', classifierImage);
    expect(classified.body?.model).toMatchObject({ name: 'classifier', version: '1' });
    expect(classified.body?.classifications[0]?.label).toBe('macaw');
    // SSD calls the horse in the photo a sheep (as e2e/activation.test.ts notes); the default model answers /v1/detect.
    expect((await post('/v1/detect', detectorImage)).body?.model.name).toBe('detector');
  }, 300_000);

  it('swaps the detector ten times under load on both models: every request succeeds, the classifier answers the same', async () => {
    const baseline = (await post('/v1/models/classifier/detect', classifierImage)).body?.classifications;
    expect(baseline?.[0]?.label).toBe('macaw');
    const counts = { detector: 0, classifier: 0, failed: [] as string[], changed: 0, detectorVersions: new Set<string>() };
    let running = true;
    const client = async (route: string, image: Buffer, kind: 'detector' | 'classifier') => {
      while (running) {
        const { status, body } = await post(route, image).catch((error: unknown) => ({ status: 0, body: undefined, error }));
        counts[kind] += 1;
        if (status !== 200) counts.failed.push(`${kind} ${status}`);
        else if (kind === 'classifier' && JSON.stringify(body?.classifications) !== JSON.stringify(baseline)) counts.changed += 1;
        else if (kind === 'detector' && body) counts.detectorVersions.add(body.model.version);
      }
    };
    const load = [client('/v1/models/detector/detect', detectorImage, 'detector'), client('/v1/models/detector/detect', detectorImage, 'detector'), client('/v1/models/classifier/detect', classifierImage, 'classifier'), client('/v1/models/classifier/detect', classifierImage, 'classifier')];
    const started = performance.now();
    try {
      for (let swap = 2; swap <= 11; swap += 1) {
        const version = String(swap);
        const built = swap % 2 === 0 ? await packages.yolox() : await packages.ssd();
        const detector = await system.publish(`detector-${version}.zip`, 'detector', version, built);
        // A merge patch naming one entry: the classifier's entry stays as it is.
        await system.setDesired('loader', { models: { detector } });
        await system.waitFor(settled('detector', version), 120_000, `detector v${version} served`);
      }
    } finally {
      running = false;
      await Promise.all(load);
    }
    figures.tenSwapsS = Math.round((performance.now() - started) / 100) / 10;
    figures.detectorRequests = counts.detector;
    figures.classifierRequests = counts.classifier;
    expect(counts.failed).toEqual([]);
    expect(counts.changed).toBe(0);
    expect(counts.classifier).toBeGreaterThan(10);
    expect(counts.detectorVersions.size).toBeGreaterThan(1);
    const classifier = (await loaderModels()).classifier;
    expect(classifier).toMatchObject({ state: 'active', version: '1' });
  }, 900_000);

  it('removes the classifier: it is unloaded and its route answers 404, the detector keeps serving', async () => {
    await system.setDesired('loader', { models: { classifier: null } });
    const listed = async () => ((await (await fetch(`${system.inferenceUrl}/v1/models`)).json()) as { models: { name: string }[] }).models.map((entry) => entry.name);
    await system.waitFor(async () => ((await listed()).includes('classifier') ? undefined : true), 60_000, 'classifier unloaded');
    expect(await listed()).toEqual(['detector']);
    const gone = await post('/v1/models/classifier/detect', classifierImage);
    expect(gone.status).toBe(404);
    expect((await loaderModels()).classifier?.state ?? 'removed').toBe('removed');
    const detected = await post('/v1/detect', detectorImage);
    expect(detected).toMatchObject({ status: 200, body: { model: { name: 'detector', version: '11' } } });
  }, 120_000);
});
