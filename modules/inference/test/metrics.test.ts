import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceService } from '../src/service.js';
import { startService } from './service.js';
import { createStorage, stageModel, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

/** The value of one sample line, e.g. sample(text, 'inference_predictions_total{model="yolox",version="1",label="dog"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

describe('Prometheus metrics', () => {
  let storage: string;
  let service: InferenceService;
  let text: string;

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage);
    expect((await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }))).status).toBe('activated');
    const person = await readFile(imageFile('darknet_person.jpg'));
    for (let i = 0; i < 2; i += 1) {
      const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: person, headers: { 'content-type': 'image/jpeg' } });
      expect(response.statusCode).toBe(200);
    }
    expect((await service.app.inject({ method: 'POST', url: '/v1/detect', payload: 'hello', headers: { 'content-type': 'text/plain' } })).statusCode).toBe(415);
    text = (await service.app.inject({ url: '/metrics' })).body;
  });
  afterAll(() => service.close());

  it('labels latency and requests with the model and version that answered, and leaves them empty when none did', () => {
    expect(sample(text, 'inference_stage_seconds_count{stage="total",model="yolox",version="1"}')).toBe(2);
    expect(sample(text, 'inference_requests_total{route="/v1/detect",status="200",model="yolox",version="1"}')).toBe(2);
    expect(sample(text, 'inference_requests_total{route="/v1/detect",status="415",model="",version=""}')).toBe(1);
  });

  it('counts what the model sees, per label, and the distribution of its scores', () => {
    // darknet_person.jpg holds a person, a dog and a horse: YOLOX-nano finds exactly those, once per request.
    for (const label of ['person', 'dog', 'horse']) expect(sample(text, `inference_predictions_total{model="yolox",version="1",label="${label}"}`)).toBe(2);
    expect(text.match(/^inference_predictions_total\{/gm)).toHaveLength(3);
    expect(sample(text, 'inference_prediction_score_count{model="yolox",version="1"}')).toBe(6);
    // Every score of this photo is above 0.8 (see the pipeline tests): none below 0.5.
    expect(sample(text, 'inference_prediction_score_bucket{le="0.5",model="yolox",version="1"}')).toBe(0);
  });

  it('serves no gauge under a counter\'s _total name', () => {
    const gaugesNamedTotal = [...text.matchAll(/^# TYPE (\S+_total) gauge$/gm)].map((match) => match[1]);
    expect(gaugesNamedTotal).toEqual([]);
    expect(text).toMatch(/^# TYPE nodejs_active_handles gauge$/m);
  });

  it.skipIf(!promtool)('passes promtool check metrics on a live scrape', async () => {
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const address = service.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: scraped, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
  if (!promtool) console.log('skipped the promtool check: promtool is not installed (Debian package prometheus; .ci/run installs it)');
});
