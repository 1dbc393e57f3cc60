import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToFrame } from '../src/image/decode-image.js';
import { frameToTensorData } from '../src/pipeline/preprocess.js';
import type { NamedTensor } from '../src/pipeline/tensor-inputs.js';
import type { InferenceService } from '../src/service.js';
import { binaryBody, splitBinaryResponse } from './oip-client.js';
import { startService } from './service.js';
import { createStorage, stageModel, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

describe('raw tensors while the model swaps', () => {
  let service: InferenceService;
  let storage: string;
  let origin: string;
  let input: NamedTensor;

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage, { INFERENCE_MAX_QUEUE: '64' });
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '0' }));
    origin = await service.app.listen({ host: '127.0.0.1', port: 0 });
    const spec = service.models.get('yolox')!.active!.spec;
    const frame = await decodeToFrame(await readFile(imageFile('darknet_person.jpg')), spec.input, { limitPixels: 40_000_000, maxSidePixels: 16_384, colorProfiles: 'ignore' });
    input = { name: 'images', dtype: 'float32', shape: [1, 3, 416, 416], data: frameToTensorData(frame, spec.input) };
  });
  afterAll(() => service.close());

  it('inferTensors keeps the model it started on loaded until it returns, though a newer one activated meanwhile', async () => {
    const before = service.models.get('yolox')!.active!;
    const staged = await stageModel(storage, { ...YOLOX_ONNX, version: '1' });
    // More requests than the workers hold at once: the queued ones run after the swap, on the model they pinned.
    const inFlight = Array.from({ length: 24 }, () => service.models.get('yolox')!.inferTensors([input]));
    const outcome = await service.models.activate(staged);
    expect(outcome.status).toBe('activated');
    const results = await Promise.all(inFlight);
    expect(results.map((result) => result.model.version)).toEqual(results.map(() => before.version));
    expect(results[0]?.outputs.map(({ name, shape }) => ({ name, shape }))).toEqual([{ name: 'output', shape: [1, 3549, 85] }]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.pool.loadedModelIds()).toEqual([service.models.get('yolox')?.active?.id]);
  });

  it('swaps 6 times while 4 clients send binary tensors to /v2: every request answers, with the same bytes, from a version that served', async () => {
    const data = input.data as Float32Array;
    const request = binaryBody(
      { parameters: { binary_data_output: true }, inputs: [{ name: 'images', shape: input.shape, datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] },
      [new Uint8Array(data.buffer, data.byteOffset, data.byteLength)],
    );
    let swapping = true;
    const answers: { status: number; version?: string; bytes?: Buffer }[] = [];
    const client = async () => {
      while (swapping) {
        const response = await fetch(`${origin}/v2/models/yolox/infer`, { method: 'POST', body: request.body, headers: request.headers });
        if (response.status !== 200) {
          answers.push({ status: response.status });
          await response.text();
          continue;
        }
        const { json, binary } = await splitBinaryResponse(response);
        answers.push({ status: 200, version: (json as { model_version: string }).model_version, bytes: binary });
      }
    };
    const clients = Array.from({ length: 4 }, client);
    const versions = ['1'];
    for (let swap = 2; swap <= 7; swap += 1) {
      const outcome = await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: String(swap) }));
      expect(outcome.status).toBe('activated');
      versions.push(String(swap));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    swapping = false;
    await Promise.all(clients);

    expect(answers.filter(({ status }) => status !== 200)).toEqual([]);
    expect(answers.length).toBeGreaterThan(6);
    const [first] = answers;
    for (const answer of answers) {
      expect(versions).toContain(answer.version);
      expect(answer.bytes?.equals(first!.bytes!)).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.pool.loadedModelIds()).toEqual([service.models.get('yolox')?.active?.id]);
  }, 120_000);
});
