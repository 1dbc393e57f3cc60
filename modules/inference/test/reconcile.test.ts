import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, InferenceReportedSchema, MODEL_STATUS_OUTPUT, type ModelStatusMessage } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { PointerWatcher } from '../src/serving/pointer-watcher.js';
import type { InferenceService } from '../src/service.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { startService } from './service.js';
import { announcementBody, createStorage, SSD_TFLITE, stageModel, waitFor, writePointer, YOLOX_ONNX } from './storage.js';
import { imageFile, modelFile } from './testdata.js';

let service: InferenceService | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await service?.close();
  service = undefined;
});

const confirmed = <T extends object>(body: T) => ({ ...body, confirmedAt: new Date().toISOString() });

async function truncatedYolox(storage: string, version: string) {
  const bytes = await readFile(modelFile('yolox_nano.onnx'));
  return announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, version, modelBytes: bytes.subarray(0, 1_000_000) }));
}

describe('start-up from the repository', () => {
  it('serves the confirmed version when the announced one is broken, reports the rejection, and never answers NO_MODEL', async () => {
    const storage = await createStorage();
    const good = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    const broken = await truncatedYolox(storage, '2');
    await writePointer(storage, CONFIRMED_MODEL_POINTER, confirmed(good));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, broken);
    let edge = new RecordingEdgeClient();
    // Twice: the restart of a module that already rejected v2 once behaves the same.
    for (let start = 0; start < 2; start += 1) {
      await service?.close();
      edge = new RecordingEdgeClient();
      service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '600000' }, edge);
      expect(service.models.get('yolox')?.active).toMatchObject({ name: 'yolox', version: '1', sha256: good.sha256 });
      const ready = await service.app.inject({ url: '/health/ready' });
      expect(ready.json()).toEqual({ status: 'ready', model: 'yolox@1', models: ['yolox@1'] });
      expect(service.state.reported().lastActivation).toMatchObject({ version: '2', outcome: 'rejected', trigger: 'startup', error: { code: 'MODEL_LOAD_FAILED' } });
    }
    // Statuses wait for the connection; the loader hears about the announced version only (v1 is not what it awaits).
    expect(edge.sent(MODEL_STATUS_OUTPUT)).toEqual([]);
    await edge.start();
    const sent = await waitFor(() => (edge.sent(MODEL_STATUS_OUTPUT).length > 0 ? edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT) : undefined), 'the start-up status');
    expect(sent).toEqual([expect.objectContaining({ name: 'yolox', version: '2', sha256: broken.sha256, outcome: 'rejected', trigger: 'startup', error: expect.objectContaining({ code: 'MODEL_LOAD_FAILED' }) })]);
    expect(InferenceReportedSchema.parse(edge.reportedState)).toMatchObject({ activeModel: { version: '1' }, lastActivation: { version: '2', outcome: 'rejected' } });

    // The watch does not try the rejected pointer again.
    const loads = vi.spyOn(service!.pool, 'loadEverywhere');
    await service!.reconciler.check();
    expect(loads).not.toHaveBeenCalled();
    expect(edge.sent(MODEL_STATUS_OUTPUT)).toHaveLength(1);
  }, 60_000);

  it('serves the confirmed version and, beside it, the announced one of another name (the default); the announced one alone when the confirmed pointer is damaged', async () => {
    const storage = await createStorage();
    const v1 = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    const v2 = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '2' }));
    await writePointer(storage, CONFIRMED_MODEL_POINTER, confirmed(v1));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v2);
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '600000' });
    // The legacy pointers of two names are two entries (servingIndexFromLegacyPointers): the announced one is the default, brought up first.
    expect(service.models.get('ssd')?.active).toMatchObject({ name: 'ssd', version: '2' });
    expect(service.models.get('yolox')?.active).toMatchObject({ name: 'yolox', version: '1' });
    expect(service.models.defaultName()).toBe('ssd');
    expect(service.state.snapshot().activations.map((entry) => `${entry.name}@${entry.version} ${entry.outcome}`)).toEqual(['yolox@1 accepted', 'ssd@2 accepted']);
    await service.close();

    await writeFile(path.join(storage, CONFIRMED_MODEL_POINTER), '{"schemaVersion": 1, "name": "yolox"');
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '600000' });
    expect(service.models.names()).toEqual(['ssd']);
    expect(service.models.get('ssd')?.active).toMatchObject({ name: 'ssd', version: '2' });
  }, 60_000);

  it('tries the announced version when the confirmed one no longer loads', async () => {
    const storage = await createStorage();
    const v1 = await truncatedYolox(storage, '1');
    const v2 = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '2' }));
    await writePointer(storage, CONFIRMED_MODEL_POINTER, confirmed(v1));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v2);
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '600000' });
    expect(service.models.get('ssd')?.active).toMatchObject({ name: 'ssd', version: '2' });
    expect(service.models.get('yolox')?.active).toBeUndefined();
    expect(service.models.defaultName()).toBe('ssd');
  }, 60_000);
});

describe('a confirmed version whose files were deleted', () => {
  it('starts with no model, and serves the version once its files are back (its rejection is not remembered: storage, not the model)', async () => {
    const storage = await createStorage();
    const v1 = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    await writePointer(storage, CONFIRMED_MODEL_POINTER, confirmed(v1));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v1);
    const hidden = path.join(storage, 'hidden-v1');
    await rename(path.join(storage, 'models', 'yolox', '1'), hidden);
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '100' });
    expect(service.models.get('yolox')?.active).toBeUndefined();
    expect(service.state.reported().lastActivation).toMatchObject({ version: '1', outcome: 'rejected', error: { code: 'MODEL_FILE_UNREADABLE' } });
    // The loader downloads the version again (here: the files come back); the poll must try it, not skip it as known-bad.
    await rename(hidden, path.join(storage, 'models', 'yolox', '1'));
    await waitFor(() => (service?.models.get('yolox')?.active?.version === '1' ? true : undefined), 'v1 serving once its files are back');
    expect(service.state.reported().lastActivation).toMatchObject({ version: '1', outcome: 'accepted', trigger: 'pointer' });
  }, 60_000);
});

describe('a pointer change without any message', () => {
  it('is picked up by the watch on models/ (legacy pointers): the new version serves and the loader is told (trigger pointer); a broken one is rejected once', async () => {
    const storage = await createStorage();
    const v1 = await announcementBody(storage, await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v1);
    await writePointer(storage, CONFIRMED_MODEL_POINTER, confirmed(v1));
    const edge = new RecordingEdgeClient();
    // The poll is out of the picture: only fs.watch can notice the change within the test.
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '600000' }, edge);
    await edge.start();
    const v2 = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '2' }));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v2);
    await waitFor(() => (service?.models.get('ssd')?.active?.version === '2' ? true : undefined), 'v2 serving');
    const pointerStatus = await waitFor(() => edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).find((status) => status.version === '2'), 'the v2 status');
    expect(pointerStatus).toMatchObject({ outcome: 'accepted', trigger: 'pointer', name: 'ssd', sha256: v2.sha256 });
    // The loader confirms v2: the confirmed pointer names ssd, and yolox, in neither pointer, is unloaded.
    await writePointer(storage, CONFIRMED_MODEL_POINTER, confirmed(v2));
    await waitFor(() => (service?.models.names().join() === 'ssd' ? true : undefined), 'yolox unloaded');

    const v3 = await truncatedYolox(storage, '3');
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v3);
    const rejected = await waitFor(() => edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).find((status) => status.version === '3'), 'the v3 status');
    expect(rejected).toMatchObject({ outcome: 'rejected', trigger: 'pointer', error: { code: 'MODEL_LOAD_FAILED' } });
    expect(service.models.get('ssd')?.active?.version).toBe('2');
    expect(service.models.defaultName()).toBe('ssd');
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: await readFile(imageFile('darknet_person.jpg')), headers: { 'content-type': 'image/jpeg' } });
    expect(response.statusCode).toBe(200);

    const loads = vi.spyOn(service.pool, 'loadEverywhere');
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, { ...v3, announcedAt: new Date().toISOString() });
    await service.reconciler.check();
    expect(loads).not.toHaveBeenCalled();
    expect(edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).filter((status) => status.version === '3')).toHaveLength(1);
  }, 60_000);

  it('is picked up by the poll when models/ appears only after start-up', async () => {
    const storage = await createStorage();
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_POINTER_POLL_MS: '100' });
    expect(service.models.names()).toEqual([]);
    const v1 = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '1' }));
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, v1);
    await waitFor(() => (service?.models.get('ssd')?.active?.version === '1' ? true : undefined), 'v1 serving');
    expect(service.state.reported().lastActivation).toMatchObject({ version: '1', outcome: 'accepted', trigger: 'pointer' });
  }, 60_000);
});

describe('PointerWatcher', () => {
  const logger = createLogger({ name: 'pointer-test', level: 'silent' });

  it('checks on a rename in the directory, and keeps polling a directory that does not exist yet', async () => {
    const storage = await createStorage();
    const directory = path.join(storage, 'models');
    let checks = 0;
    const polled = new PointerWatcher({ directory, fileNames: ['announced.json'], pollMs: 20, check: async () => void (checks += 1), logger });
    polled.start();
    await waitFor(() => (checks >= 3 ? true : undefined), 'three polls');
    await polled.stop();

    await mkdir(directory);
    let watched = 0;
    const watcher = new PointerWatcher({ directory, fileNames: ['announced.json'], pollMs: 600_000, check: async () => void (watched += 1), logger });
    watcher.start();
    await writeFile(path.join(directory, 'other.json'), '{}');
    await writePointer(storage, ANNOUNCED_MODEL_POINTER, {});
    await waitFor(() => (watched > 0 ? true : undefined), 'a check after the rename');
    await watcher.stop();
    await rm(storage, { recursive: true, force: true });
  });
});
