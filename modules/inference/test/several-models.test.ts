import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOUNCED_MODEL_POINTER,
  InferenceReportedSchema,
  MODEL_STATUS_OUTPUT,
  type ApiError,
  type DetectionResult,
  type ModelStatusMessage,
  type RichModelMessage,
} from '@edge-ml/contracts';
import type { InferenceService } from '../src/service.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { startService } from './service.js';
import { announcementBody, CLASSIFIER_TFLITE, createStorage, SSD_TFLITE, stageModel, waitFor, writePointer, writeServingIndex, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

const CLASSIFIER = CLASSIFIER_TFLITE;
const writeIndex = writeServingIndex;

const post = (service: InferenceService, url: string, payload: Buffer) => service.app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'image/jpeg' } });

let parrot: Buffer;
let person: Buffer;
beforeAll(async () => {
  parrot = await readFile(imageFile('parrot.jpg'));
  person = await readFile(imageFile('darknet_person.jpg'));
});

describe('a detector and a classifier served side by side from the serving index', () => {
  let storage: string;
  let service: InferenceService;
  let edge: RecordingEdgeClient;
  let detector1: RichModelMessage;
  let classifier1: RichModelMessage;
  /** The detector's version the index names last. */
  let detectorNow: RichModelMessage;

  beforeAll(async () => {
    storage = await createStorage();
    detector1 = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, name: 'detector', version: '1' }));
    classifier1 = await announcementBody(storage, await stageModel(storage, { ...CLASSIFIER, version: '1' }));
    detectorNow = detector1;
    await writeIndex(storage, 'detector', { detector: { announced: detector1, confirmed: detector1 }, classifier: { announced: classifier1, confirmed: classifier1 } });
    // A legacy pointer naming another model: with an index present it is not read.
    const stale = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '9' }));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, stale);
    edge = new RecordingEdgeClient();
    service = await startService(storage, { INFERENCE_MAX_QUEUE: '64', INFERENCE_POINTER_POLL_MS: '600000' }, edge);
    await edge.start();
  }, 60_000);
  afterAll(() => service.close());

  it('loads every entry of the index and nothing else, each answering on its own route, the index default on /v1/detect', async () => {
    expect(service.models.names()).toEqual(['classifier', 'detector']);
    expect(service.models.get('detector')?.active).toMatchObject({ name: 'detector', version: '1', family: 'yolox', runtime: 'onnxruntime' });
    expect(service.models.get('classifier')?.active).toMatchObject({ name: 'classifier', version: '1', family: 'classification', runtime: 'litert' });

    const named = await post(service, '/v1/models/classifier/detect', parrot);
    expect(named.statusCode).toBe(200);
    expect(named.json<DetectionResult>()).toMatchObject({ model: { name: 'classifier', version: '1' }, detections: [], classifications: [expect.objectContaining({ label: 'macaw' })] });
    const byDefault = await post(service, '/v1/detect', person);
    expect(byDefault.json<DetectionResult>().model).toMatchObject({ name: 'detector', version: '1' });
    expect(byDefault.json<DetectionResult>().detections.map((detection) => detection.label).sort()).toEqual(['dog', 'horse', 'person']);
    const rendered = await service.app.inject({ method: 'POST', url: '/v1/models/detector/detect?render=png', payload: person, headers: { 'content-type': 'image/jpeg' } });
    expect(rendered.headers).toMatchObject({ 'content-type': 'image/png', 'x-model-name': 'detector', 'x-detection-count': '3' });
    const seed = await post(service, '/score', person);
    expect(seed.json<{ Class: string }[]>().map((entry) => entry.Class).sort()).toEqual(['dog', 'horse', 'person']);
  });

  it('answers a name no served model has with 404 MODEL_NOT_FOUND, naming those served', async () => {
    const response = await post(service, '/v1/models/ssd/detect', person);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'MODEL_NOT_FOUND', message: 'no model named "ssd" is served; served: classifier, detector (GET /v1/models lists them)', statusCode: 404 });
  });

  it('lists both on /v1/models and /health/ready, reports both, and tells the loader it accepted each', async () => {
    const models = (await service.app.inject({ url: '/v1/models' })).json<{ active: { name: string }; defaultModel: string; models: { name: string; default: boolean; active: { version: string; input: { width: number } }; memoryMB: number }[] }>();
    expect(models.active.name).toBe('detector');
    expect(models.defaultModel).toBe('detector');
    expect(models.models.map(({ name, default: isDefault, active }) => ({ name, isDefault, version: active.version, width: active.input.width }))).toEqual([
      { name: 'classifier', isDefault: false, version: '1', width: 224 },
      { name: 'detector', isDefault: true, version: '1', width: 416 },
    ]);
    expect(models.models.every((entry) => entry.memoryMB > 0)).toBe(true);
    expect((await service.app.inject({ url: '/health/ready' })).json()).toEqual({ status: 'ready', model: 'detector@1', models: ['classifier@1', 'detector@1'] });
    const statuses = await waitFor(() => (edge.sent(MODEL_STATUS_OUTPUT).length >= 2 ? edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT) : undefined), 'both start-up statuses');
    expect(statuses.map((status) => `${status.name}@${status.version} ${status.outcome}`).sort()).toEqual(['classifier@1 accepted', 'detector@1 accepted']);
    const reported = InferenceReportedSchema.parse(edge.reportedState);
    expect(reported).toMatchObject({ defaultModel: 'detector', activeModel: { name: 'detector', version: '1' }, models: { detector: { activeModel: { version: '1' } }, classifier: { activeModel: { version: '1' }, lastActivation: { outcome: 'accepted' } } } });
    const metrics = (await service.app.inject({ url: '/metrics' })).body;
    expect(metrics.match(/^inference_active_model_info\{.*$/gm)?.sort()).toEqual([
      'inference_active_model_info{name="classifier",version="1",family="classification",runtime="litert"} 1',
      'inference_active_model_info{name="detector",version="1",family="yolox",runtime="onnxruntime"} 1',
    ]);
  });

  it('names the model of an image message by its `model` property, the default without it, and answers an unknown name with an error message', async () => {
    await edge.deliver('images', parrot, { model: 'classifier', camera: 'gate-3' }, 'frame-1');
    await edge.deliver('images', person, { camera: 'gate-3' }, 'frame-2');
    await edge.deliver('images', person, { model: 'nope', camera: 'gate-3' }, 'frame-3');
    const [classified, detected, unknown] = edge.outputs.filter((output) => output.outputName === 'detections');
    expect(classified).toMatchObject({ correlationId: 'frame-1', properties: { model: 'classifier@1', camera: 'gate-3' }, body: { model: { name: 'classifier' }, classifications: [expect.objectContaining({ label: 'macaw' })] } });
    expect(detected).toMatchObject({ correlationId: 'frame-2', properties: { model: 'detector@1', camera: 'gate-3' }, body: { model: { name: 'detector' } } });
    expect(unknown).toMatchObject({ correlationId: 'frame-3', properties: { model: 'nope', camera: 'gate-3', error: 'MODEL_NOT_FOUND' } });
    expect(unknown?.body as ApiError).toEqual({ error: 'MODEL_NOT_FOUND', message: expect.stringContaining('"nope"'), statusCode: 404 });
  });

  it('swaps the detector 10 times through the index while every request to the classifier succeeds with an unchanged answer', async () => {
    const baseline = (await post(service, '/v1/models/classifier/detect', parrot)).json<DetectionResult>().classifications;
    const versions: RichModelMessage[] = [];
    for (let swap = 2; swap <= 11; swap += 1) {
      // One model name whose versions alternate between the SSD and YOLOX files.
      const files = swap % 2 === 0 ? SSD_TFLITE : YOLOX_ONNX;
      versions.push(await announcementBody(storage, await stageModel(storage, { ...files, name: 'detector', version: String(swap) })));
    }
    let swapping = true;
    const classifierAnswers: { status: number; classifications?: DetectionResult['classifications']; model?: string }[] = [];
    const detectorAnswers: { status: number; version?: string; family?: string }[] = [];
    const classifierClient = async () => {
      while (swapping) {
        const response = await post(service, '/v1/models/classifier/detect', parrot);
        const body = response.statusCode === 200 ? response.json<DetectionResult>() : undefined;
        classifierAnswers.push({ status: response.statusCode, ...(body ? { classifications: body.classifications, model: `${body.model.name}@${body.model.version}` } : {}) });
      }
    };
    const detectorClient = async () => {
      while (swapping) {
        const response = await post(service, '/v1/models/detector/detect', person);
        const body = response.statusCode === 200 ? response.json<DetectionResult>() : undefined;
        detectorAnswers.push({ status: response.statusCode, ...(body ? { version: body.model.version, family: body.model.family } : {}) });
      }
    };
    const clients = [classifierClient(), classifierClient(), classifierClient(), detectorClient(), detectorClient()];

    let previous = detector1;
    for (const version of versions) {
      await writeIndex(storage, 'detector', { detector: { announced: version, confirmed: previous }, classifier: { announced: classifier1, confirmed: classifier1 } });
      await waitFor(() => (service.models.get('detector')?.active?.version === version.version ? true : undefined), `detector@${version.version} serving`);
      previous = version;
      detectorNow = version;
    }
    swapping = false;
    await Promise.all(clients);

    expect(classifierAnswers.length).toBeGreaterThan(10);
    expect(classifierAnswers.filter((answer) => answer.status !== 200)).toEqual([]);
    for (const answer of classifierAnswers) {
      expect(answer.model).toBe('classifier@1');
      expect(answer.classifications).toEqual(baseline);
    }
    expect(detectorAnswers.filter((answer) => answer.status !== 200)).toEqual([]);
    // Even versions are SSD files, odd ones YOLOX: each answer names the version that ran.
    for (const answer of detectorAnswers) expect(answer.family).toBe(Number(answer.version) % 2 === 0 ? 'ssd' : 'yolox');
    expect(service.state.snapshot().swapCount).toBe(10);
    // Retired versions are freed once their requests are done: the workers hold one version of each name.
    await waitFor(() => (service.pool.loadedModelIds().length === 2 ? true : undefined), 'retired versions freed');
    expect(service.pool.loadedModelIds().sort()).toEqual([service.models.get('classifier')?.active?.id, service.models.get('detector')?.active?.id].sort());
  }, 180_000);

  it('unloads a model that leaves the index once the requests running on it have finished; the other keeps serving', async () => {
    const running = Array.from({ length: 4 }, () => service.models.detect('classifier', parrot));
    await service.models.remove('classifier');
    for (const result of await Promise.all(running)) expect(result.model).toMatchObject({ name: 'classifier', version: '1' });
    await waitFor(() => (service.pool.loadedModelIds().length === 1 ? true : undefined), 'the classifier freed');

    // And through the index: the classifier comes back, then leaves again.
    const current = detectorNow;
    await writeIndex(storage, 'detector', { detector: { announced: current, confirmed: current }, classifier: { announced: classifier1, confirmed: classifier1 } });
    await waitFor(() => (service.models.get('classifier')?.active ? true : undefined), 'the classifier back');
    await writeIndex(storage, 'detector', { detector: { announced: current, confirmed: current } });
    await waitFor(() => (service.models.names().join() === 'detector' ? true : undefined), 'the classifier removed');

    expect((await post(service, '/v1/models/classifier/detect', parrot)).statusCode).toBe(404);
    expect((await post(service, '/v1/models/detector/detect', person)).statusCode).toBe(200);
    await waitFor(() => (service.pool.loadedModelIds().length === 1 ? true : undefined), 'the classifier freed');
    const reported = edge.reportedState as { models?: Record<string, unknown> };
    expect(Object.keys(reported.models ?? {})).toEqual(['detector']);
    expect(InferenceReportedSchema.parse(edge.reportedState).defaultModel).toBe('detector');
    const metrics = (await service.app.inject({ url: '/metrics' })).body;
    expect(metrics.match(/^inference_active_model_info\{name="classifier".*$/gm)).toBeNull();
    expect((await service.app.inject({ url: '/health/ready' })).json()).toMatchObject({ models: [`detector@${current.version}`] });
  }, 60_000);
});

describe('the default model', () => {
  let service: InferenceService | undefined;
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  it('is INFERENCE_DEFAULT_MODEL when it serves, else the index default when it serves, else the first serving by name', async () => {
    const storage = await createStorage();
    const detector = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, name: 'detector', version: '1' }));
    const classifier = await announcementBody(storage, await stageModel(storage, { ...CLASSIFIER, version: '1' }));
    const broken = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, name: 'broken', version: '1', modelBytes: Buffer.from('not a model') }));
    await writeIndex(storage, 'detector', { detector: { announced: detector, confirmed: detector }, classifier: { announced: classifier, confirmed: null } });
    service = await startService(storage, { INFERENCE_DEFAULT_MODEL: 'classifier', INFERENCE_POINTER_POLL_MS: '600000' });
    expect(service.models.defaultName()).toBe('classifier');
    expect((await post(service, '/v1/detect', parrot)).json<DetectionResult>().model.name).toBe('classifier');

    // The configured model leaves: the index's default answers.
    await writeIndex(storage, 'detector', { detector: { announced: detector, confirmed: detector } });
    await service.reconciler.check();
    expect(service.models.defaultName()).toBe('detector');
    expect((await post(service, '/v1/detect', person)).json<DetectionResult>().model.name).toBe('detector');

    // The index's default serves nothing (its only version is broken): the first model serving by name answers.
    await writeIndex(storage, 'broken', { detector: { announced: detector, confirmed: detector }, broken: { announced: broken, confirmed: null } });
    await service.reconciler.check();
    expect(service.models.get('broken')?.active).toBeUndefined();
    expect(service.models.defaultName()).toBe('detector');
    expect((await service.app.inject({ url: '/v1/models' })).json()).toMatchObject({ defaultModel: 'detector', models: [{ name: 'broken', active: null, lastActivation: { outcome: 'rejected' } }, { name: 'detector', default: true }] });
    expect((await post(service, '/v1/models/broken/detect', person)).json()).toMatchObject({ error: 'NO_MODEL', statusCode: 503 });
  }, 60_000);
});

describe('the memory budget', () => {
  let service: InferenceService | undefined;
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  it('refuses a model, or a swap, that would take the loaded models past it, with MODEL_MEMORY_BUDGET_EXCEEDED sent to the loader; what serves keeps serving', async () => {
    const storage = await createStorage();
    const detector = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, name: 'detector', version: '1' }));
    await writeIndex(storage, 'detector', { detector: { announced: detector, confirmed: detector } });
    const edge = new RecordingEdgeClient();
    // Two workers: YOLOX-nano is estimated at 52 MiB for ONNX Runtime and 2 x 20 MiB for the model (memory-budget.ts).
    service = await startService(storage, { INFERENCE_MEMORY_BUDGET_MB: '120', INFERENCE_POINTER_POLL_MS: '600000' }, edge);
    await edge.start();
    expect(service.models.get('detector')?.active?.version).toBe('1');
    const estimated = service.memory.reservedBytes / 2 ** 20;
    expect(estimated).toBeGreaterThan(60);
    expect(estimated).toBeLessThan(120);

    // A classifier on another runtime does not fit beside it.
    const classifier = await announcementBody(storage, await stageModel(storage, { ...CLASSIFIER, version: '1' }));
    // A second version of the detector does not fit beside the first, which a swap keeps loaded until it is done.
    const detector2 = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, name: 'detector', version: '2' }));
    // As the loader does: the index lists the versions before the messages announce them (the watch may try them too).
    await writeIndex(storage, 'detector', { detector: { announced: detector2, confirmed: detector }, classifier: { announced: classifier, confirmed: null } });
    await edge.deliver('DLModelInput', classifier);
    await edge.deliver('DLModelInput', detector2);

    const rejected = edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).filter((status) => status.outcome === 'rejected');
    expect([...new Set(rejected.map((status) => `${status.name}@${status.version}`))].sort()).toEqual(['classifier@1', 'detector@2']);
    for (const status of rejected) {
      expect(status).toMatchObject({ error: { code: 'MODEL_MEMORY_BUDGET_EXCEEDED', message: expect.stringMatching(/would take an estimated \d+ MiB in all workers, and loaded models already take \d+ MiB of the 120 MiB memory budget/) } });
    }
    expect(service.models.get('classifier')?.active).toBeUndefined();
    expect(service.models.get('detector')?.active?.version).toBe('1');
    expect(service.memory.reservedBytes / 2 ** 20).toBe(estimated);
    expect((await post(service, '/v1/detect', person)).json<DetectionResult>().model).toMatchObject({ name: 'detector', version: '1' });
    expect((await service.app.inject({ url: '/v1/models' })).json()).toMatchObject({ memory: { budgetMB: 120, estimatedMB: estimated } });
  }, 60_000);
});

describe('a model whose name holds a dot', () => {
  let storage: string;
  let service: InferenceService;
  let edge: RecordingEdgeClient;

  beforeAll(async () => {
    storage = await createStorage();
    const dotted = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, name: 'ssd.v1', version: '1' }));
    const plain = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '1' }));
    await writeIndex(storage, 'ssd.v1', { 'ssd.v1': { announced: dotted, confirmed: dotted }, ssd: { announced: plain, confirmed: plain } });
    edge = new RecordingEdgeClient();
    service = await startService(storage, { INFERENCE_POINTER_POLL_MS: '600000' }, edge);
    await edge.start();
  }, 60_000);
  afterAll(() => service.close());

  it('is reported under its twin key (ssd%2Ev1), which the hub accepts, and nulled there when it leaves', async () => {
    expect(service.models.names()).toEqual(['ssd', 'ssd.v1']);
    expect((await post(service, '/v1/models/ssd.v1/detect', person)).statusCode).toBe(200);
    const reported = await waitFor(() => {
      const parsed = InferenceReportedSchema.safeParse(edge.reportedState);
      return parsed.success && parsed.data.models?.['ssd%2Ev1']?.activeModel ? parsed.data : undefined;
    }, 'ssd.v1 reported');
    // A key holding "." makes the hub refuse the whole patch, so activeModel and defaultModel would be lost with it.
    expect(edge.refused).toEqual([]);
    expect(Object.keys(reported.models ?? {}).sort()).toEqual(['ssd', 'ssd%2Ev1']);
    expect(reported).toMatchObject({ defaultModel: 'ssd.v1', activeModel: { name: 'ssd.v1', version: '1' }, models: { 'ssd%2Ev1': { activeModel: { name: 'ssd.v1' }, lastActivation: { name: 'ssd.v1', outcome: 'accepted' } } } });

    await service.models.remove('ssd.v1');
    await waitFor(() => (Object.keys((edge.reportedState as { models?: object }).models ?? {}).join() === 'ssd' ? true : undefined), 'ssd.v1 nulled');
    expect(edge.refused).toEqual([]);
  }, 60_000);
});
