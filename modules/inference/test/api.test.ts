import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult } from '@edge-ml/contracts';
import type { InferenceService } from '../src/service.js';
import { createStorage, SSD_TFLITE, stageModel, YOLOX_ONNX } from './storage.js';
import { startService } from './service.js';
import { bmpRleBomb } from './fixtures/image-bombs.js';
import { imageFile } from './testdata.js';

function multipartBody(field: string, fileName: string, contentType: string, content: Buffer) {
  const boundary = '----edge-test-boundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${fileName}"\r\nContent-Type: ${contentType}\r\n\r\n`);
  return { payload: Buffer.concat([head, content, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('inference API', () => {
  let storage: string;
  let service: InferenceService;
  let person: Buffer;

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage, { INFERENCE_MAX_BODY_BYTES: '400000' });
    person = await readFile(imageFile('darknet_person.jpg'));
  });
  afterAll(() => service.close());

  describe('before any model is announced', () => {
    it('answers 503 with a message that says how to set a model', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg' } });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ error: 'NO_MODEL', message: expect.stringContaining('desired properties') });
    });
    it('is live but not ready', async () => {
      expect((await service.app.inject({ url: '/health/live' })).statusCode).toBe(200);
      expect((await service.app.inject({ url: '/health/ready' })).statusCode).toBe(503);
    });
  });

  describe('with YOLOX v1 active', () => {
    beforeAll(async () => {
      const outcome = await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
      expect(outcome.status).toBe('activated');
    });

    it('detects the person, dog and horse from raw JPEG bytes, with model, boxes and timings', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg' } });
      expect(response.statusCode).toBe(200);
      const body = response.json<DetectionResult>();
      expect(body.model).toEqual({ name: 'yolox', version: '1', format: 'onnx', family: 'yolox' });
      expect(body.image).toEqual({ width: 640, height: 424 });
      expect(body.detections.map((detection) => detection.label).sort()).toEqual(['dog', 'horse', 'person']);
      for (const detection of body.detections) {
        expect(detection.boxPixels.xmax).toBeCloseTo(detection.box.xmax * 640, 3);
        expect(detection.box.xmin).toBeGreaterThanOrEqual(0);
        expect(detection.box.ymax).toBeLessThanOrEqual(1);
      }
      expect(body.timings.inferenceMs).toBeGreaterThan(0);
      expect(body.timings.totalMs).toBeGreaterThanOrEqual(body.timings.inferenceMs);
    });

    it('accepts multipart/form-data', async () => {
      const form = multipartBody('image', 'dog.jpg', 'image/jpeg', await readFile(imageFile('darknet_dog.jpg')));
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: form.payload, headers: { 'content-type': form.contentType } });
      expect(response.statusCode).toBe(200);
      expect(response.json<DetectionResult>().detections.map((detection) => detection.label)).toEqual(expect.arrayContaining(['dog', 'bicycle']));
    });

    it('answers the seed-compatible endpoint with Class, Score and Location as real JSON', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/score', payload: person, headers: { 'content-type': 'application/octet-stream' } });
      expect(response.statusCode).toBe(200);
      const body = response.json<{ Class: string; Score: number; Location: number[] }[]>();
      expect(body.map((entry) => entry.Class).sort()).toEqual(['dog', 'horse', 'person']);
      expect(body[0]?.Location).toHaveLength(4);
      expect(body.every((entry) => entry.Score > 0.5)).toBe(true);
    });

    it('lets a request lower the threshold', async () => {
      const strict = await service.app.inject({ method: 'POST', url: '/v1/detect?threshold=0.9', payload: person, headers: { 'content-type': 'image/jpeg' } });
      expect(strict.json<DetectionResult>().detections).toHaveLength(0);
      const invalid = await service.app.inject({ method: 'POST', url: '/v1/detect?threshold=2', payload: person, headers: { 'content-type': 'image/jpeg' } });
      expect(invalid.statusCode).toBe(400);
    });

    it('is ready and names the model', async () => {
      expect((await service.app.inject({ url: '/health/ready' })).json()).toEqual({ status: 'ready', model: 'yolox@1', models: ['yolox@1'] });
      const models = (await service.app.inject({ url: '/v1/models' })).json();
      expect(models.active).toMatchObject({ name: 'yolox', version: '1', runtime: 'onnxruntime', input: { width: 416 } });
    });

    it.each([
      ['a wrong content type', { 'content-type': 'text/plain' }, 'hello', 415],
      ['bytes that are no image', { 'content-type': 'image/jpeg' }, Buffer.from('definitely not a jpeg'), 400],
      ['an empty body', { 'content-type': 'image/jpeg' }, Buffer.alloc(0), 400],
    ])('answers %s with a 4xx and a code', async (_name, headers, payload, status) => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload, headers });
      expect(response.statusCode).toBe(status);
      expect(response.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    });

    it('lists every accepted Content-Type in a 415', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: '{}', headers: { 'content-type': 'application/json' } });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toEqual({
        error: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'Content-Type "application/json" is not accepted; send one of: image/jpeg, image/png, image/webp, image/bmp, image/x-ms-bmp, application/octet-stream, multipart/form-data',
        statusCode: 415,
      });
    });

    it('reads a body without a Content-Type by its magic bytes, as Python requests.post(url, data=bytes) sends it', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/score', payload: person, headers: { 'content-length': String(person.length) } });
      expect(response.statusCode).toBe(200);
      expect(response.json<{ Class: string }[]>().map((entry) => entry.Class).sort()).toEqual(['dog', 'horse', 'person']);
    });

    it.each([
      ['without a boundary', 'multipart/form-data', Buffer.from('--x\r\n\r\nhello')],
      ['that ends before its closing boundary', 'multipart/form-data; boundary=abc', Buffer.concat([Buffer.from('--abc\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'), Buffer.alloc(2000, 1)])],
    ])('answers multipart %s with 400 MULTIPART_INVALID, never 500', async (_name, contentType, payload) => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload, headers: { 'content-type': contentType } });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'MULTIPART_INVALID', message: expect.stringContaining('multipart/form-data body is malformed') });
    });

    /** A form with `fields` text fields before its image file. */
    const formWithFields = (fields: number, fieldBytes = 8) => {
      const parts: Buffer[] = Array.from({ length: fields }, (_unused, index) => Buffer.from(`--XX\r\nContent-Disposition: form-data; name="f${index}"\r\n\r\n${'v'.repeat(fieldBytes)}\r\n`));
      parts.push(Buffer.from('--XX\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'), person, Buffer.from('\r\n--XX--\r\n'));
      return Buffer.concat(parts);
    };

    it('takes a complete form with 20 fields before its file (the old limit of 10 answered a false "ends before its closing boundary")', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: formWithFields(20), headers: { 'content-type': 'multipart/form-data; boundary=XX' } });
      expect(response.statusCode).toBe(200);
      expect(response.json<DetectionResult>().detections.map((detection) => detection.label).sort()).toEqual(['dog', 'horse', 'person']);
    });

    it('names the field limit when a form carries more fields than it allows', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: formWithFields(150), headers: { 'content-type': 'multipart/form-data; boundary=XX' } });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'MULTIPART_INVALID', message: expect.stringContaining('more than 100 fields') });
    });

    it('refuses a multipart body that declares more than an image and its form can need, before reading it', async () => {
      const response = await service.app.inject({
        method: 'POST',
        url: '/v1/detect',
        payload: formWithFields(1),
        headers: { 'content-type': 'multipart/form-data; boundary=XX', 'content-length': String(400_000 + 1024 * 1024 + 1) },
      });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ error: 'BODY_TOO_LARGE', message: expect.stringMatching(/declares 1448577 bytes; a form may carry 1448576/) });
    });

    it('gives each image request its slot back when it is answered, so more requests than the limit pass one after another', async () => {
      const statuses = [];
      for (let index = 0; index < 70; index += 1) {
        statuses.push((await service.app.inject({ method: 'POST', url: '/v1/detect', payload: 'x', headers: { 'content-type': 'text/plain' } })).statusCode);
      }
      expect(new Set(statuses)).toEqual(new Set([415]));
    });

    it('answers a 120-byte BMP whose header claims 20000x20000 with 413 before decoding it', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: bmpRleBomb(), headers: { 'content-type': 'image/bmp' } });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ error: 'IMAGE_TOO_LARGE', message: 'the image is 20000x20000 pixels; the limits are 40000000 pixels and 16384 pixels a side' });
    });

    it('answers a truncated JPEG with 400', async () => {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person.subarray(0, 4000), headers: { 'content-type': 'image/jpeg' } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBe('IMAGE_UNDECODABLE');
    });

    it('answers an image with more pixels than the limit with 413 naming its size', async () => {
      const small = await startService(storage, { INFERENCE_MAX_IMAGE_PIXELS: '100000' });
      try {
        await small.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: 'pixels' }));
        for (const [file, type, size] of [['darknet_person.jpg', 'image/jpeg', '640x424'], ['grace_hopper.bmp', 'image/bmp', '512x600']] as const) {
          const response = await small.app.inject({ method: 'POST', url: '/v1/detect', payload: await readFile(imageFile(file)), headers: { 'content-type': type } });
          expect(response.statusCode).toBe(413);
          expect(response.json()).toMatchObject({ error: 'IMAGE_TOO_LARGE', message: `the image is ${size} pixels; the limits are 100000 pixels and 16384 pixels a side` });
        }
      } finally {
        await small.close();
      }
    });

    it('answers a body over the limit with 413, raw or multipart', async () => {
      const big = await readFile(imageFile('coco_000000039769_cats.png'));
      const raw = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: big, headers: { 'content-type': 'image/png' } });
      expect(raw.statusCode).toBe(413);
      const form = multipartBody('image', 'cats.png', 'image/png', big);
      const multipart = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: form.payload, headers: { 'content-type': form.contentType } });
      expect(multipart.statusCode).toBe(413);
    });

    it('exposes Prometheus metrics per stage', async () => {
      const text = (await service.app.inject({ url: '/metrics' })).body;
      expect(text).toMatch(/inference_stage_seconds_bucket\{le="[^"]+",stage="inference",model="yolox",version="1"\}/);
      expect(text).toMatch(/inference_requests_total\{route="\/v1\/detect",status="200",model="yolox",version="1"\} \d+/);
      expect(text).toContain('inference_active_model_info{name="yolox",version="1",family="yolox",runtime="onnxruntime"} 1');
    });
  });

  describe('model activation', () => {
    it('treats a repeated announcement as a no-op', async () => {
      const announcement = await stageModel(storage, { ...YOLOX_ONNX, version: '1' });
      expect((await service.models.activate(announcement)).status).toBe('unchanged');
    });

    it('keeps the old model serving when a new one is corrupt, and says why', async () => {
      const announcement = await stageModel(storage, { ...YOLOX_ONNX, version: 'broken' });
      await writeFile(path.join(storage, announcement.modelPath), Buffer.from('this is not an onnx model'));
      const outcome = await service.models.activate(announcement);
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MODEL_LOAD_FAILED' } });
      const models = (await service.app.inject({ url: '/v1/models' })).json();
      expect(models.active.version).toBe('1');
      expect(models.lastError).toMatchObject({ code: 'MODEL_LOAD_FAILED', version: 'broken' });
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg' } });
      expect(response.json<DetectionResult>().model.version).toBe('1');
    });

    it('refuses a path that leaves the storage root', async () => {
      const outcome = await service.models.activate({ name: 'x', version: '1', format: 'onnx', modelPath: '../../etc/passwd', labelsPath: 'x' });
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MODEL_PATH_OUTSIDE_STORAGE' } });
    });

    it('refuses a model whose sha256 differs from the announcement', async () => {
      const announcement = await stageModel(storage, { ...YOLOX_ONNX, version: '3' });
      const outcome = await service.models.activate({ ...announcement, sha256: '0'.repeat(64) });
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MODEL_CHECKSUM_MISMATCH' } });
    });

    it('refuses a model whose outputs do not fit the family its model.json names', async () => {
      const announcement = await stageModel(storage, { ...YOLOX_ONNX, version: '4', descriptor: { family: 'ssd' } });
      const outcome = await service.models.activate(announcement);
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MODEL_OUTPUT_MISMATCH' } });
    });

    it('lets the newest of several quick announcements win, skipping those in between', async () => {
      // One model name: its versions may be files of any family.
      const a = await stageModel(storage, { ...SSD_TFLITE, name: 'yolox', version: '10' });
      const b = await stageModel(storage, { ...SSD_TFLITE, name: 'yolox', version: '11' });
      const c = await stageModel(storage, { ...YOLOX_ONNX, version: '12' });
      const outcomes = await Promise.all([service.models.activate(a), service.models.activate(b), service.models.activate(c)]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['superseded', 'superseded', 'activated']);
      expect(service.models.get('yolox')?.active?.version).toBe('12');
    });
  });
});
