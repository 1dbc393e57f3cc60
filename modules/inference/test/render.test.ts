import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult } from '@edge-ml/contracts';
import { overlayScale } from '../src/render/overlay-svg.js';
import type { InferenceService } from '../src/service.js';
import { startService } from './service.js';
import { createStorage, stageModel, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

async function decodeRaw(bytes: Buffer): Promise<RawImage> {
  const { data, info } = await sharp(bytes).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** The largest difference over the three channels at one pixel. */
function pixelDifference(a: RawImage, b: RawImage, x: number, y: number): number {
  const offset = (Math.round(y) * a.width + Math.round(x)) * a.channels;
  let largest = 0;
  for (let channel = 0; channel < 3; channel += 1) largest = Math.max(largest, Math.abs((a.data[offset + channel] ?? 0) - (b.data[offset + channel] ?? 0)));
  return largest;
}

describe('POST /v1/detect with the detections drawn on the image', () => {
  let service: InferenceService;
  let person: Buffer;
  let json: DetectionResult;

  beforeAll(async () => {
    const storage = await createStorage();
    service = await startService(storage);
    expect((await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }))).status).toBe('activated');
    person = await readFile(imageFile('darknet_person.jpg'));
    json = (await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg' } })).json<DetectionResult>();
  });
  afterAll(() => service.close());

  it('draws on the box edges and leaves pixels far from every box as they were (PNG, lossless)', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect?render=png', payload: person, headers: { 'content-type': 'image/jpeg' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
    const rendered = await decodeRaw(response.rawPayload);
    const original = await decodeRaw(person);
    expect([rendered.width, rendered.height]).toEqual([original.width, original.height]);
    expect(json.detections.map((detection) => detection.label).sort()).toEqual(['dog', 'horse', 'person']);

    // Points along each box's four edges (corners left out: a neighbour's label may cover one).
    const edgePoints = json.detections.flatMap(({ boxPixels: { xmin, ymin, xmax, ymax } }) =>
      [0.25, 0.5, 0.75].flatMap((t) => [
        [xmin + t * (xmax - xmin), ymax],
        [xmin, ymin + t * (ymax - ymin)],
        [xmax, ymin + t * (ymax - ymin)],
      ]),
    );
    const changedOnEdges = edgePoints.filter(([x, y]) => pixelDifference(rendered, original, Math.min(x ?? 0, original.width - 1), Math.min(y ?? 0, original.height - 1)) > 40);
    expect(changedOnEdges.length).toBe(edgePoints.length);

    // Far from a box: more than a line width and a label strip away from every box, and off the label, which may
    // run past the box's right edge (at most 16 em for "person 0.88").
    const { lineWidth, labelHeight, fontSize } = overlayScale(original.width, original.height);
    const margin = lineWidth + labelHeight + 2;
    const nearABox = (x: number, y: number) =>
      json.detections.some(
        ({ boxPixels: box }) =>
          (x > box.xmin - margin && x < box.xmax + margin && y > box.ymin - margin && y < box.ymax + margin) ||
          (x > box.xmin - margin && x < box.xmin + 16 * fontSize && y > box.ymin - margin && y < box.ymin + margin),
      );
    let farPixels = 0;
    let changedFar = 0;
    for (let y = 0; y < original.height; y += 3) {
      for (let x = 0; x < original.width; x += 3) {
        if (nearABox(x, y)) continue;
        farPixels += 1;
        if (pixelDifference(rendered, original, x, y) > 0) changedFar += 1;
      }
    }
    expect(farPixels).toBeGreaterThan(5000);
    expect(changedFar).toBe(0);
  });

  it('answers JPEG with the model that drew it in the headers', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect?render=jpeg&threshold=0.5', payload: person, headers: { 'content-type': 'image/jpeg' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'image/jpeg', 'x-model-name': 'yolox', 'x-model-version': '1', 'x-model-family': 'yolox', 'x-detection-count': '3' });
    const metadata = await sharp(response.rawPayload).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['jpeg', 640, 424]);
    expect((await service.app.inject({ url: '/metrics' })).body).toMatch(/inference_stage_seconds_count\{[^}]*stage="render"[^}]*model="yolox"[^}]*\} [1-9]/);
  });

  it('follows the Accept header when no render parameter is given, and JSON wins a tie or a wildcard', async () => {
    const post = (accept: string) => service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg', accept } });
    expect((await post('image/png')).headers['content-type']).toBe('image/png');
    expect((await post('image/*')).headers['content-type']).toBe('image/jpeg');
    expect((await post('application/json;q=0.5, image/png')).headers['content-type']).toBe('image/png');
    expect((await post('*/*')).headers['content-type']).toMatch(/^application\/json/);
    expect((await post('application/json, image/png')).headers['content-type']).toMatch(/^application\/json/);
  });

  it('keeps the JSON answer as it was: no model headers, the same detections', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg' } });
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['x-model-name']).toBeUndefined();
    expect(response.json<DetectionResult>().detections.map((detection) => detection.label)).toEqual(json.detections.map((detection) => detection.label));
  });

  it('draws in the orientation the detector saw: an EXIF-rotated photo comes back upright, boxes included', async () => {
    // Stored turned a quarter to the left, with the EXIF orientation (6) that turns it upright again.
    const stored = await sharp(person).rotate(270).jpeg({ quality: 95 }).toBuffer();
    const rotated = await sharp(stored).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const detections = (await service.app.inject({ method: 'POST', url: '/v1/detect', payload: rotated, headers: { 'content-type': 'image/jpeg' } })).json<DetectionResult>();
    expect(detections.image).toEqual({ width: 640, height: 424 });
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect?render=png', payload: rotated, headers: { 'content-type': 'image/jpeg' } });
    const rendered = await decodeRaw(response.rawPayload);
    const original = await decodeRaw(rotated);
    expect([rendered.width, rendered.height]).toEqual([640, 424]);
    expect(detections.detections.map((detection) => detection.label).sort()).toEqual(['dog', 'horse', 'person']);
    for (const { boxPixels: box } of detections.detections) {
      expect(pixelDifference(rendered, original, box.xmin, (box.ymin + box.ymax) / 2)).toBeGreaterThan(40);
    }
  });

  it('renders a BMP too', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect?render=png', payload: await readFile(imageFile('grace_hopper.bmp')), headers: { 'content-type': 'image/bmp' } });
    expect(response.statusCode).toBe(200);
    expect((await sharp(response.rawPayload).metadata()).format).toBe('png');
  });

  it('refuses an unknown render format with INVALID_REQUEST', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect?render=gif', payload: person, headers: { 'content-type': 'image/jpeg' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'INVALID_REQUEST' });
  });

  it('documents the image answers and the render parameter in the OpenAPI document', async () => {
    const document = (await service.app.inject({ url: '/openapi.json' })).json();
    const detect = document.paths['/v1/detect'].post;
    expect(Object.keys(detect.responses['200'].content)).toEqual(['application/json', 'image/jpeg', 'image/png']);
    expect(detect.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'render', in: 'query', schema: expect.objectContaining({ enum: ['jpeg', 'png'] }) })]));
  });
});
