import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, type DetectionResult } from '@edge-ml/contracts';
import { detectionsMessage, parseModelMessage } from '../src/edge/inference-edge.js';
import type { InferenceService } from '../src/service.js';
import { createStorage, SSD_TFLITE, stageModel } from './storage.js';
import { startService } from './service.js';

let service: InferenceService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

describe('start-up', () => {
  it('loads the last announced model from shared storage, in the seed message form too', async () => {
    const storage = await createStorage();
    const staged = await stageModel(storage, { ...SSD_TFLITE, version: '7' });
    await mkdir(path.dirname(path.join(storage, ANNOUNCED_MODEL_POINTER)), { recursive: true });
    await writeFile(path.join(storage, ANNOUNCED_MODEL_POINTER), JSON.stringify({ local_model_path: staged.modelPath, local_labelmap_path: staged.labelsPath }));
    service = await startService(storage);
    expect(service.models.get('ssd')?.active).toMatchObject({ name: 'ssd', version: '7', family: 'ssd', runtime: 'litert' });
    expect(service.models.defaultName()).toBe('ssd');
  });

  it('starts without a model when the pointer is missing or damaged, and serves 503 until one arrives', async () => {
    const storage = await createStorage();
    await mkdir(path.join(storage, 'models'), { recursive: true });
    await writeFile(path.join(storage, ANNOUNCED_MODEL_POINTER), '{"local_model_path": "../x"');
    service = await startService(storage);
    expect(service.models.names()).toEqual([]);
    expect((await service.app.inject({ url: '/health/ready' })).statusCode).toBe(503);
  });
});

describe('edge messages', () => {
  it('parses both DLModelOutput bodies and explains a bad one', () => {
    const seed = parseModelMessage(Buffer.from(JSON.stringify({ local_model_path: 'ssd/detect.tflite', local_labelmap_path: 'ssd/labelmap.txt' })));
    expect(seed).toMatchObject({ ok: true, announcement: { name: 'ssd', format: 'tflite' } });
    expect(parseModelMessage(Buffer.from('not json'))).toEqual({ ok: false, reason: 'the message body is not JSON' });
    expect(parseModelMessage(Buffer.from(JSON.stringify({ local_model_path: '/etc/passwd', local_labelmap_path: 'x' })))).toMatchObject({ ok: false, reason: expect.stringContaining('local_model_path') });
    expect(parseModelMessage(Buffer.from(JSON.stringify({ local_model_path: 'a/model.bin', local_labelmap_path: 'a/l.txt' })))).toMatchObject({ ok: false, reason: expect.stringContaining('.onnx or .tflite') });
  });

  it('answers an image message with a detections message that keeps its correlation', () => {
    const result = { model: { name: 'ssd', version: '2', format: 'tflite', family: 'ssd' }, image: { width: 1, height: 1 }, detections: [], classifications: [], timings: { decodeMs: 0, queueMs: 0, preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, totalMs: 0 } } satisfies DetectionResult;
    const message = detectionsMessage(result, { body: Buffer.alloc(1), properties: { camera: 'gate-3' }, messageId: 'm-1' });
    expect(message).toMatchObject({ correlationId: 'm-1', contentType: 'application/json', properties: { camera: 'gate-3', model: 'ssd@2' } });
    expect(JSON.parse(message.body.toString())).toEqual(result);
  });
});
