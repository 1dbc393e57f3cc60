import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ROOT } from '../src/http/routes/console-routes.js';
import type { InferenceService } from '../src/service.js';
import { startService } from './service.js';
import { createStorage, stageModel, YOLOX_ONNX } from './storage.js';

describe('the web console, served by the module', () => {
  let storage: string;
  let service: InferenceService;
  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage, { INFERENCE_WORKERS: '1' });
  });
  afterAll(() => service.close());

  it('serves its page at / with a policy that allows only the module itself', async () => {
    const page = await service.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script type="module" src="console.js"></script>');
    expect(page.body).not.toMatch(/https?:\/\//);
  });

  it('serves every file of its folder, scripts as JavaScript, and nothing else', async () => {
    const files = await readdir(CONSOLE_ROOT);
    expect(files.sort()).toEqual(['activations.js', 'console.css', 'console.js', 'index.html', 'prometheus.js']);
    for (const file of files) {
      const response = await service.app.inject({ url: `/${file}` });
      expect(response.statusCode, file).toBe(200);
      if (file.endsWith('.js')) expect(response.headers['content-type'], file).toMatch(/^(text|application)\/javascript/);
      expect(response.body, file).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    }
    const missing = await service.app.inject({ url: '/missing.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'NOT_FOUND' });
    expect((await service.app.inject({ url: '/../package.json' })).statusCode).toBe(404);
  });

  it('keeps its files out of the OpenAPI document', async () => {
    const paths = Object.keys((await service.app.inject({ url: '/openapi.json' })).json().paths);
    expect(paths.filter((route) => route === '/' || /\.(js|css|html)$/.test(route))).toEqual([]);
  });

  it('finds in /v1/models what it shows of the active model: load and warm-up time, threshold', async () => {
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    const { active } = (await service.app.inject({ url: '/v1/models' })).json();
    expect(active).toMatchObject({ name: 'yolox', version: '1', family: 'yolox', runtime: 'onnxruntime', activatedAt: expect.any(String) });
    expect(active.loadMs).toBeGreaterThan(0);
    expect(active.warmupMs).toBeGreaterThan(0);
    expect(active.scoreThreshold).toBeGreaterThan(0);
  });
});

describe('INFERENCE_CONSOLE=off', () => {
  let service: InferenceService;
  beforeAll(async () => {
    service = await startService(await createStorage(), { INFERENCE_WORKERS: '1', INFERENCE_CONSOLE: 'off' });
  });
  afterAll(() => service.close());

  it('leaves / and the console files a 404, and the API as it was', async () => {
    for (const url of ['/', '/index.html', '/console.js']) expect((await service.app.inject({ url })).statusCode, url).toBe(404);
    expect((await service.app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });
});
