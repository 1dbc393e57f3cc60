import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ANNOUNCED_MODEL_POINTER,
  CONFIRMED_MODEL_POINTER,
  InferenceReportedSchema,
  MODEL_STATUS_OUTPUT,
  ModelStatusMessageSchema,
  type DetectionResult,
  type ModelAnnouncement,
  type ModelStatusMessage,
  type RichModelMessage,
} from '@edge-ml/contracts';
import type { InferenceService } from '../src/service.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { startService } from './service.js';
import { announcementBody, createStorage, SSD_TFLITE, stageModel, waitFor, writePointer, YOLOX_ONNX } from './storage.js';
import { imageFile, modelFile } from './testdata.js';

const statuses = (edge: RecordingEdgeClient) => edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).map((body) => ModelStatusMessageSchema.parse(body));
const lastStatus = (edge: RecordingEdgeClient) => statuses(edge).at(-1);

async function detectWith(service: InferenceService): Promise<{ status: number; model?: string }> {
  const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: await readFile(imageFile('darknet_person.jpg')), headers: { 'content-type': 'image/jpeg' } });
  return response.statusCode === 200 ? { status: 200, model: `${response.json<DetectionResult>().model.name}@${response.json<DetectionResult>().model.version}` } : { status: response.statusCode };
}

const blankPng = () => sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();

/** Versions the loader could install but the inference module cannot serve: each must be rejected with its code. */
async function brokenVersions(storage: string): Promise<{ kind: string; code: string; announcement: ModelAnnouncement }[]> {
  const yolox = await readFile(modelFile('yolox_nano.onnx'));
  return [
    { kind: 'a truncated ONNX model', code: 'MODEL_LOAD_FAILED', announcement: await stageModel(storage, { ...YOLOX_ONNX, version: 'truncated', modelBytes: yolox.subarray(0, yolox.length >> 1) }) },
    { kind: 'a junk TFLite model', code: 'MODEL_LOAD_FAILED', announcement: await stageModel(storage, { ...SSD_TFLITE, version: 'junk', modelBytes: Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), Buffer.alloc(4096, 0x5a)]) }) },
    { kind: 'a model of the wrong family', code: 'MODEL_OUTPUT_MISMATCH', announcement: await stageModel(storage, { ...YOLOX_ONNX, version: 'wrong-family', descriptor: { family: 'ssd' } }) },
    { kind: 'an input size of 8192', code: 'MODEL_INPUT_MISMATCH', announcement: await stageModel(storage, { ...YOLOX_ONNX, version: 'huge-input', descriptor: { input: { width: 8192, height: 8192 } } }) },
  ];
}

describe('activation over DLModelInput, answered on DLModelStatus', () => {
  let storage: string;
  let edge: RecordingEdgeClient;
  let service: InferenceService;
  let good: RichModelMessage;

  beforeAll(async () => {
    storage = await createStorage();
    good = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    await writePointer(storage, CONFIRMED_MODEL_POINTER, { ...good, confirmedAt: new Date().toISOString() });
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, good);
    edge = new RecordingEdgeClient();
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '600000' }, edge);
    await edge.start();
  }, 60_000);
  afterAll(() => service.close());
  afterEach(() => vi.restoreAllMocks());

  it('serves the confirmed version at start-up and, once connected, tells the loader it accepted it', async () => {
    expect(service.models.get('yolox')?.active).toMatchObject({ name: 'yolox', version: '1' });
    const sent = await waitFor(() => (statuses(edge).length > 0 ? statuses(edge) : undefined), 'the start-up status');
    expect(sent).toEqual([expect.objectContaining({ outcome: 'accepted', trigger: 'startup', name: 'yolox', version: '1', sha256: good.sha256 })]);
    expect(edge.outputs.find((output) => output.outputName === MODEL_STATUS_OUTPUT)?.properties).toEqual({ model: 'yolox@1', outcome: 'accepted' });
  });

  it('rejects broken versions with their code, and the old model keeps serving', async () => {
    for (const { kind, code, announcement } of await brokenVersions(storage)) {
      const body = await announcementBody(storage, announcement);
      await edge.deliver('DLModelInput', body);
      expect(lastStatus(edge), kind).toMatchObject({ outcome: 'rejected', trigger: 'message', name: announcement.name, version: announcement.version, sha256: body.sha256, error: { code } });
      // A runtime's error names the file it opened: the status leaves without saying where storage is mounted.
      expect(JSON.stringify(lastStatus(edge)), kind).not.toContain(storage);
      expect(service.models.get('yolox')?.active?.version, kind).toBe('1');
      expect(await detectWith(service), kind).toEqual({ status: 200, model: 'yolox@1' });
      const reported = InferenceReportedSchema.parse(edge.reportedState);
      expect(reported.activeModel, kind).toMatchObject({ name: 'yolox', version: '1' });
      // Each name reports its own last activation (the junk TFLite model is named ssd, the others yolox).
      const entry = reported.models?.[announcement.name]?.lastActivation;
      expect(entry, kind).toMatchObject({ outcome: 'rejected', trigger: 'message', version: announcement.version, error: { code } });
      // The hub merges reported patches: figures of an earlier accepted attempt must not linger next to a rejection.
      expect(entry, kind).not.toHaveProperty('loadMs');
      if (announcement.name === 'yolox') expect(reported.lastActivation, kind).toEqual(entry);
    }
  }, 60_000);

  it('runs an activation asked for the moment the one before it resolved (no I/O in between)', async () => {
    const yolox = await readFile(modelFile('yolox_nano.onnx'));
    const first = await stageModel(storage, { ...YOLOX_ONNX, version: 'back-to-back-1', modelBytes: yolox.subarray(0, 1000) });
    const second = await stageModel(storage, { ...YOLOX_ONNX, version: 'back-to-back-2', modelBytes: yolox.subarray(0, 2000) });
    // Awaited directly: any wrapper (a race with a timer) adds turns that hide the fault. The test's timeout catches a hang.
    const firstOutcome = await service.models.activate(first);
    const secondOutcome = await service.models.activate(second);
    expect([firstOutcome.status, secondOutcome.status]).toEqual(['failed', 'failed']);
    expect(service.models.get('yolox')?.active?.version).toBe('1');
  }, 15_000);

  it('answers a repeat of the serving version, or of a rejected one, from what it knows: nothing is loaded again', async () => {
    const loads = vi.spyOn(service.pool, 'loadEverywhere');
    await edge.deliver('DLModelInput', good);
    expect(lastStatus(edge)).toMatchObject({ outcome: 'accepted', trigger: 'message', version: '1', loadMs: service.models.get('yolox')?.active?.loadMs, warmupMs: service.models.get('yolox')?.active?.warmupMs });
    const truncated = await announcementBody(storage, { ...YOLOX_ONNX, version: 'truncated', format: 'onnx', modelPath: 'models/yolox/truncated/yolox_nano.onnx', labelsPath: 'models/yolox/truncated/coco_classes.txt' });
    await edge.deliver('DLModelInput', truncated);
    expect(lastStatus(edge)).toMatchObject({ outcome: 'rejected', trigger: 'message', version: 'truncated', error: { code: 'MODEL_LOAD_FAILED' } });
    expect(loads).not.toHaveBeenCalled();
    // Reported properties do not keep the rejection's error once an accepted attempt follows (the hub merges patches).
    await edge.deliver('DLModelInput', good);
    const reported = InferenceReportedSchema.parse(edge.reportedState).lastActivation;
    expect(reported).toMatchObject({ outcome: 'accepted', loadMs: expect.any(Number) });
    expect(reported).not.toHaveProperty('error');
  });

  it('keeps the statuses it could not send while disconnected, and sends them after reconnecting', async () => {
    const before = statuses(edge).length;
    edge.connected = false;
    const ssd = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '2' }));
    await edge.deliver('DLModelInput', ssd);
    // Another name: served beside yolox, which stays the default.
    expect(service.models.get('ssd')?.active).toMatchObject({ name: 'ssd', version: '2' });
    expect(service.models.defaultName()).toBe('yolox');
    expect(statuses(edge)).toHaveLength(before);
    await edge.connect();
    const sent = await waitFor(() => (statuses(edge).length > before ? statuses(edge).slice(before) : undefined), 'the deferred status');
    expect(sent).toEqual([expect.objectContaining({ outcome: 'accepted', trigger: 'message', name: 'ssd', version: '2', sha256: ssd.sha256 })]);
  }, 60_000);

  it('runs acceptance samples after warm-up: a package whose samples pass serves, with the figures reported', async () => {
    const person = await readFile(imageFile('darknet_person.jpg'));
    const dog = await readFile(imageFile('darknet_dog.jpg'));
    const acceptance = { samples: [{ image: 'person.jpg', labels: ['person', 'dog', 'horse'] }, { image: 'samples/dog.jpg', labels: ['dog', 'bicycle'], minScore: 0.5 }] };
    const staged = await stageModel(storage, { ...YOLOX_ONNX, version: '3', descriptor: { acceptance }, files: { 'person.jpg': person, 'samples/dog.jpg': dog } });
    await edge.deliver('DLModelInput', await announcementBody(storage, staged));
    expect(lastStatus(edge)).toMatchObject({ outcome: 'accepted', version: '3', acceptance: { samples: 2, passed: 2 } });
    expect(service.models.get('yolox')?.active).toMatchObject({ version: '3', acceptance: { samples: 2, passed: 2 } });
  }, 60_000);

  it('rejects a model that does not see what its samples show with MODEL_ACCEPTANCE_FAILED, naming the sample and what was missing', async () => {
    const cases: { version: string; files: Record<string, Buffer>; sample: { image: string; labels: string[] }; message: RegExp }[] = [
      { version: '4', files: { 'blank.png': await blankPng() }, sample: { image: 'blank.png', labels: ['person'] }, message: /acceptance sample "blank\.png" failed: expected person, but it found nothing/ },
      { version: '6', files: {}, sample: { image: 'gone.jpg', labels: ['person'] }, message: /acceptance sample "gone\.jpg" failed: it is not in the package/ },
      { version: '5', files: { 'dog.jpg': await readFile(imageFile('darknet_dog.jpg')) }, sample: { image: 'dog.jpg', labels: ['dog', 'giraffe'] }, message: /acceptance sample "dog\.jpg" failed: expected giraffe, but it found .*dog \d\.\d\d/ },
    ];
    for (const { version, files, sample, message } of cases) {
      const staged = await stageModel(storage, { ...YOLOX_ONNX, version, descriptor: { acceptance: { samples: [sample] } }, files });
      await edge.deliver('DLModelInput', await announcementBody(storage, staged));
      const status = lastStatus(edge);
      expect(status).toMatchObject({ outcome: 'rejected', version, error: { code: 'MODEL_ACCEPTANCE_FAILED' } });
      expect(status?.outcome === 'rejected' ? status.error.message : '').toMatch(message);
      expect(await detectWith(service)).toEqual({ status: 200, model: 'yolox@3' });
    }
    expect(service.pool.loadedModelIds().sort()).toEqual([service.models.get('yolox')?.active?.id, service.models.get('ssd')?.active?.id].sort());
  }, 60_000);

  it('shows the last activations with their outcomes on /v1/models, as in reported properties', async () => {
    const models = (await service.app.inject({ url: '/v1/models' })).json<{ active: { version: string }; lastActivation: unknown; activations: { version: string; outcome: string; trigger: string; error?: { code: string } }[] }>();
    expect(models.active.version).toBe('3');
    expect(models.activations.slice(0, 4)).toEqual([
      expect.objectContaining({ version: '5', outcome: 'rejected', trigger: 'message', error: expect.objectContaining({ code: 'MODEL_ACCEPTANCE_FAILED' }) }),
      expect.objectContaining({ version: '6', outcome: 'rejected' }),
      expect.objectContaining({ version: '4', outcome: 'rejected' }),
      expect.objectContaining({ version: '3', outcome: 'accepted', acceptance: { samples: 2, passed: 2 } }),
    ]);
    const metrics = (await service.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/inference_model_activations_total\{outcome="rejected",trigger="message"\} \d+/);
    expect(metrics).toMatch(/inference_model_activations_total\{outcome="accepted",trigger="startup"\} 1/);
    const reported = InferenceReportedSchema.parse(edge.reportedState);
    expect(models.lastActivation).toEqual(expect.objectContaining({ name: reported.lastActivation?.name, version: reported.lastActivation?.version, outcome: reported.lastActivation?.outcome, at: reported.lastActivation?.at }));
  });
});
