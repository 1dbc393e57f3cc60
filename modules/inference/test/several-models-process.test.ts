import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult, RichModelMessage } from '@edge-ml/contracts';
import { spawnInferenceProcess, type InferenceProcess } from './inference-process.js';
import { announcementBody, CLASSIFIER_TFLITE, createStorage, SSD_TFLITE, stageModel, waitFor, writeServingIndex, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

interface ModelsAnswer {
  defaultModel: string | null;
  models: { name: string; active: { version: string } | null }[];
}

/**
 * The module as it runs on a device (`node dist/main.js`, build first), serving a detector and a classifier from a
 * serving index the test writes as the loader would; HTTP clients on loopback.
 */
describe('several models in the inference process', () => {
  let storage: string;
  let server: InferenceProcess;
  let base: string;
  let parrot: Buffer;
  let person: Buffer;
  let classifier: RichModelMessage;

  const models = async () => (await (await fetch(`${base}/v1/models`)).json()) as ModelsAnswer;
  const versionOf = async (name: string) => (await models()).models.find((entry) => entry.name === name)?.active?.version;
  const post = (route: string, image: Buffer) => fetch(`${base}${route}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });

  beforeAll(async () => {
    storage = await createStorage();
    parrot = await readFile(imageFile('parrot.jpg'));
    person = await readFile(imageFile('darknet_person.jpg'));
    const detector = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, name: 'detector', version: '1' }));
    classifier = await announcementBody(storage, await stageModel(storage, { ...CLASSIFIER_TFLITE, version: '1' }));
    await writeServingIndex(storage, 'detector', { detector: { announced: detector, confirmed: detector }, classifier: { announced: classifier, confirmed: classifier } });
    server = await spawnInferenceProcess(storage, { INFERENCE_WORKERS: '2', INFERENCE_POINTER_POLL_MS: '500' });
    base = `http://127.0.0.1:${server.port}`;
  }, 90_000);
  afterAll(() => server?.stop());

  it('serves both from the index, swaps the detector 10 times under load on both while the classifier answers the same every time, then unloads the classifier', async () => {
    expect(await models()).toMatchObject({ defaultModel: 'detector', models: [{ name: 'classifier', active: { version: '1' } }, { name: 'detector', active: { version: '1' } }] });
    const baseline = ((await (await post('/v1/models/classifier/detect', parrot)).json()) as DetectionResult).classifications;
    expect(baseline[0]?.label).toBe('macaw');

    let swapping = true;
    const failures: string[] = [];
    let classifierAnswers = 0;
    let detectorAnswers = 0;
    const client = async (route: string, image: Buffer, check: (result: DetectionResult) => void) => {
      while (swapping) {
        const response = await post(route, image);
        if (!response.ok) {
          failures.push(`${route} ${response.status} ${await response.text()}`);
          continue;
        }
        check((await response.json()) as DetectionResult);
      }
    };
    const clients = [
      ...Array.from({ length: 2 }, () =>
        client('/v1/models/classifier/detect', parrot, (result) => {
          classifierAnswers += 1;
          if (JSON.stringify(result.classifications) !== JSON.stringify(baseline) || result.model.version !== '1') failures.push(`classifier changed: ${JSON.stringify(result.classifications[0])}`);
        }),
      ),
      ...Array.from({ length: 2 }, () =>
        client('/v1/detect', person, (result) => {
          detectorAnswers += 1;
          if (result.model.name !== 'detector') failures.push(`the default answered as ${result.model.name}`);
        }),
      ),
    ];

    let previous: RichModelMessage | null = null;
    for (let swap = 2; swap <= 11; swap += 1) {
      const files = swap % 2 === 0 ? SSD_TFLITE : YOLOX_ONNX;
      const version = await announcementBody(storage, await stageModel(storage, { ...files, name: 'detector', version: String(swap) }));
      await writeServingIndex(storage, 'detector', { detector: { announced: version, confirmed: previous }, classifier: { announced: classifier, confirmed: classifier } });
      await waitFor(async () => ((await versionOf('detector')) === String(swap) ? true : undefined), `detector@${swap} serving`, 60_000);
      previous = version;
    }
    swapping = false;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(classifierAnswers).toBeGreaterThan(10);
    expect(detectorAnswers).toBeGreaterThan(10);

    // The classifier leaves the index: it is unloaded, its route answers 404, the detector keeps serving.
    await writeServingIndex(storage, 'detector', { detector: { announced: previous!, confirmed: previous } });
    await waitFor(async () => ((await models()).models.length === 1 ? true : undefined), 'the classifier unloaded', 30_000);
    const gone = await post('/v1/models/classifier/detect', parrot);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: 'MODEL_NOT_FOUND' });
    expect(((await (await post('/v1/detect', person)).json()) as DetectionResult).model).toMatchObject({ name: 'detector', version: '11' });
    expect(await (await fetch(`${base}/health/ready`)).json()).toEqual({ status: 'ready', model: 'detector@11', models: ['detector@11'] });
  }, 240_000);
});
