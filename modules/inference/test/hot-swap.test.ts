import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult } from '@edge-ml/contracts';
import type { InferenceService } from '../src/service.js';
import { createStorage, SSD_TFLITE, stageModel, YOLOX_ONNX } from './storage.js';
import { startService } from './service.js';
import { imageFile } from './testdata.js';

/**
 * The two models tell themselves apart on darknet_person.jpg: YOLOX calls the horse a horse,
 * this quantised SSD calls it a sheep. So a response proves which model really produced it.
 */
const SIGNATURE_LABEL: Record<string, string> = { yolox: 'horse', ssd: 'sheep' };

describe('hot swap under load', () => {
  let service: InferenceService;
  let baseUrl: string;
  let storage: string;

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage, { INFERENCE_MAX_QUEUE: '64' });
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, name: 'detector', version: '0' }));
    baseUrl = await service.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => service.close());

  it('swaps 20 times while 8 clients send requests: no failed request, every response names the model it used', async () => {
    const image = await readFile(imageFile('darknet_person.jpg'));
    const announcements = [];
    for (let swap = 1; swap <= 20; swap += 1) {
      // One model name whose versions alternate between the two files.
      const family = swap % 2 === 1 ? SSD_TFLITE : YOLOX_ONNX;
      announcements.push(await stageModel(storage, { ...family, name: 'detector', version: String(swap) }));
    }

    let swapping = true;
    const responses: { status: number; body: DetectionResult | undefined; sentAt: number }[] = [];
    const client = async () => {
      while (swapping) {
        const sentAt = performance.now();
        const response = await fetch(`${baseUrl}/v1/detect`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
        const body = response.ok ? ((await response.json()) as DetectionResult) : undefined;
        if (!response.ok) await response.text();
        responses.push({ status: response.status, body, sentAt });
      }
    };
    const clients = Array.from({ length: 8 }, client);

    const activatedVersions: string[] = [];
    for (const announcement of announcements) {
      const outcome = await service.models.activate(announcement);
      expect(outcome.status).toBe('activated');
      activatedVersions.push(announcement.version);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    swapping = false;
    await Promise.all(clients);

    expect(responses.length).toBeGreaterThan(100);
    expect(responses.filter((response) => response.status !== 200)).toEqual([]);
    for (const { body } of responses) {
      const family = body!.model.family;
      expect(body!.model.name).toBe('detector');
      expect(body!.detections.map((detection) => detection.label)).toContain(SIGNATURE_LABEL[family]);
      // Odd versions are SSD, even ones YOLOX: the version named must be the model that ran.
      expect(Number(body!.model.version) % 2 === 1 ? 'ssd' : 'yolox').toBe(family);
    }
    const versionsSeen = new Set(responses.map((response) => response.body!.model.version));
    expect(versionsSeen.size).toBeGreaterThan(10);
    expect(service.state.snapshot().swapCount).toBe(20);
    expect(service.models.get('detector')?.active?.version).toBe('20');
  }, 120_000);

  it('frees retired models: the workers hold only the active one afterwards', async () => {
    // Unloading happens once the last pinned request finishes; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(text).toMatch(/inference_model_swaps_total\{outcome="swapped"\} 20/);
    expect(service.pool.loadedModelIds()).toEqual([service.models.get('detector')?.active?.id]);
  });
});

describe('overload', () => {
  let service: InferenceService;
  beforeAll(async () => {
    const storage = await createStorage();
    service = await startService(storage, { INFERENCE_WORKERS: '1', INFERENCE_MAX_QUEUE: '2' });
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
  });
  afterAll(() => service.close());

  it('answers 503 with Retry-After beyond the bounded queue, and serves the rest', async () => {
    const image = await readFile(imageFile('darknet_person.jpg'));
    const responses = await Promise.all(
      Array.from({ length: 16 }, () => service.app.inject({ method: 'POST', url: '/v1/detect', payload: image, headers: { 'content-type': 'image/jpeg' } })),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(3);
    const refused = responses.find((response) => response.statusCode === 503);
    expect(refused?.headers['retry-after']).toBe('1');
    expect(refused?.json().error).toBe('OVERLOADED');
  });
});
