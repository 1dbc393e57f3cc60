import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult } from '@edge-ml/contracts';
import { decodeToFrame } from '../src/image/decode-image.js';
import { frameToTensorData } from '../src/pipeline/preprocess.js';
import type { Tensor } from '../src/pipeline/signature.js';
import { LiteRtModelRuntime } from '../src/runtimes/litert-runtime.js';
import type { ModelRuntime } from '../src/runtimes/model-runtime.js';
import { OnnxModelRuntime } from '../src/runtimes/onnx-runtime.js';
import type { InferenceService } from '../src/service.js';
import { binaryBody, bytesElement, oipSchemaValidator, splitBinaryResponse } from './oip-client.js';
import { defaultActive, startService } from './service.js';
import { createStorage, SSD_TFLITE, stageModel, YOLOX_ONNX } from './storage.js';
import { imageFile, modelFile } from './testdata.js';

const schemas = oipSchemaValidator();
const DECODE = { limitPixels: 40_000_000, maxSidePixels: 16_384, colorProfiles: 'ignore' as const };

/** Asserts that a value is valid under a component of the protocol's schema, and says why when it is not. */
function expectValid(validate: ReturnType<typeof schemas.oip>, value: unknown): void {
  const valid = validate(value);
  expect(validate.errors ?? [], JSON.stringify(value).slice(0, 300)).toEqual([]);
  expect(valid).toBe(true);
}

interface ResponseOutput { name: string; shape: number[]; datatype: string; data?: (number | string | boolean)[]; parameters?: { binary_data_size?: number } }
interface InferenceResponse { model_name: string; model_version?: string; id?: string; outputs: ResponseOutput[] }

/** Starts a real service (two workers, one thread each) on loopback with one model active. */
async function serve(staged: typeof YOLOX_ONNX | typeof SSD_TFLITE, version: string) {
  const storage = await createStorage();
  const service = await startService(storage, { INFERENCE_THREADS_PER_WORKER: '1', INFERENCE_MAX_BODY_BYTES: String(8 * 1024 * 1024) });
  const announcement = await stageModel(storage, { ...staged, version });
  const outcome = await service.models.activate(announcement);
  expect(outcome.status).toBe('activated');
  const origin = await service.app.listen({ host: '127.0.0.1', port: 0 });
  const runtime: ModelRuntime = staged.model.endsWith('.onnx')
    ? await OnnxModelRuntime.load(modelFile(staged.model), { executionProviders: ['cpu'], threads: 1 })
    : await LiteRtModelRuntime.load(modelFile(staged.model), { executionProviders: [], threads: 1 });
  return { service, origin, runtime };
}

/** The model's own input tensor for a photo, preprocessed in this process as the module's pipeline does it. */
async function preprocessedPhoto(service: InferenceService, photo: string): Promise<Tensor> {
  const model = defaultActive(service);
  if (!model) throw new Error('no model');
  const { width, height, layout } = model.spec.input;
  const frame = await decodeToFrame(await readFile(imageFile(photo)), model.spec.input, DECODE);
  return { data: frameToTensorData(frame, model.spec.input), shape: layout === 'nchw' ? [1, 3, height, width] : [1, height, width, 3] };
}

async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

/** Asserts an error answer: its status, its protocol shape ({ error }) and the module's code. */
async function expectError(response: Response, status: number, code: string, validate = schemas.oip('inference_error_response')): Promise<string> {
  const body = (await response.json()) as { error: string; code: string };
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expectValid(validate, body);
  expect(body.error.length).toBeGreaterThan(10);
  return body.error;
}

describe('the schema validator of the conformance test', () => {
  it("holds every component of the protocol's YAML, and only the three the text adds besides", async () => {
    const spec = path.join(import.meta.dirname, '..', 'src', 'oip', 'spec');
    const yaml = await readFile(path.join(spec, 'open_inference_rest.yaml'), 'utf8');
    const fromYaml = [...yaml.slice(yaml.indexOf('\ncomponents:\n  schemas:\n')).matchAll(/^ {4}(\w+):$/gm)].map(([, name]) => name);
    const json = JSON.parse(await readFile(path.join(spec, 'open-inference-rest.schema.json'), 'utf8')) as { components: { schemas: Record<string, { 'x-source'?: string }> } };
    const fromText = Object.entries(json.components.schemas).filter(([, schema]) => schema['x-source']).map(([name]) => name);
    expect(fromYaml.length).toBe(13);
    expect(Object.keys(json.components.schemas)).toEqual([...fromYaml, ...fromText]);
    expect(fromText).toEqual(['live_server_response', 'ready_server_response', 'ready_model_response']);
  });


  it('refuses what the protocol refuses: a response without model_name, an input without data, a binary input with data', () => {
    expect(schemas.oip('inference_response')({ outputs: [] })).toBe(false);
    expect(schemas.oip('inference_request')({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32' }] })).toBe(false);
    expect(schemas.binary('inference_request')({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 }, data: [1] }] })).toBe(false);
    expect(schemas.binary('inference_request')({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 } }] })).toBe(true);
    expect(schemas.oip('metadata_tensor')({ name: 'x', datatype: 'FP32' })).toBe(false);
  });
});

describe('Open Inference Protocol REST, YOLOX (ONNX Runtime)', () => {
  let service: InferenceService;
  let origin: string;
  let runtime: ModelRuntime;
  let input: Tensor;
  let expected: Tensor[];

  beforeAll(async () => {
    ({ service, origin, runtime } = await serve(YOLOX_ONNX, '3'));
    input = await preprocessedPhoto(service, 'darknet_person.jpg');
    expected = await runtime.run([input]);
  });
  afterAll(async () => {
    await runtime?.dispose();
    await service?.close();
  });

  it('GET /v2 is the server metadata, listing the binary tensor data extension', async () => {
    for (const route of ['/v2', '/v2/']) {
      const response = await fetch(`${origin}${route}`);
      expect(response.status).toBe(200);
      const body = await response.json();
      expectValid(schemas.oip('metadata_server_response'), body);
      const pkg = JSON.parse(await readFile(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { name: string; version: string };
      expect(body).toEqual({ name: pkg.name, version: pkg.version, extensions: ['binary_tensor_data'] });
    }
  });

  it('GET /v2/health/live and /v2/health/ready answer 200 with the protocol objects', async () => {
    const live = await fetch(`${origin}/v2/health/live`);
    expect(live.status).toBe(200);
    expectValid(schemas.oip('live_server_response'), await live.json());
    const ready = await fetch(`${origin}/v2/health/ready`);
    expect(ready.status).toBe(200);
    const body = await ready.json();
    expectValid(schemas.oip('ready_server_response'), body);
    expect(body).toEqual({ live: true, ready: true });
  });

  it("GET /v2/models/yolox[/versions/3] is the model metadata: the runtime's inputs and outputs, with datatype and shape", async () => {
    for (const route of ['/v2/models/yolox', '/v2/models/yolox/versions/3']) {
      const response = await fetch(`${origin}${route}`);
      expect(response.status).toBe(200);
      const body = await response.json();
      expectValid(schemas.oip('metadata_model_response'), body);
      expect(body).toEqual({
        name: 'yolox',
        versions: ['3'],
        platform: 'onnx_onnxv1',
        inputs: runtime.signature.inputs.map((info) => ({ name: info.name, datatype: 'FP32', shape: info.shape })),
        outputs: runtime.signature.outputs.map((info) => ({ name: info.name, datatype: 'FP32', shape: info.shape })),
      });
    }
    expect(runtime.signature.inputs[0]?.shape).toEqual([1, 3, 416, 416]);
  });

  it('GET /v2/models/yolox[/versions/3]/ready answers 200 { name, ready: true }', async () => {
    for (const route of ['/v2/models/yolox/ready', '/v2/models/yolox/versions/3/ready']) {
      const response = await fetch(`${origin}${route}`);
      expect(response.status).toBe(200);
      const body = await response.json();
      expectValid(schemas.oip('ready_model_response'), body);
      expect(body).toEqual({ name: 'yolox', ready: true });
    }
  });

  it('an unknown model or version gets 404 in the protocol\'s error shape on every model route', async () => {
    for (const route of ['/v2/models/nope', '/v2/models/nope/ready', '/v2/models/yolox/versions/2', '/v2/models/yolox/versions/2/ready']) {
      const response = await fetch(`${origin}${route}`);
      await expectError(response, 404, route.includes('nope') ? 'MODEL_NOT_FOUND' : 'MODEL_VERSION_NOT_SERVED', schemas.oip('metadata_model_error_response'));
    }
    const request = { inputs: [{ name: 'images', shape: [1], datatype: 'FP32', data: [0] }] };
    await expectError(await postJson(`${origin}/v2/models/nope/infer`, request), 404, 'MODEL_NOT_FOUND');
    const message = await expectError(await postJson(`${origin}/v2/models/yolox/versions/2/infer`, request), 404, 'MODEL_VERSION_NOT_SERVED');
    expect(message).toContain('"3"');
    await expectError(await fetch(`${origin}/v2/nothing`), 404, 'NOT_FOUND');
  });

  it('a JSON tensor (the preprocessed photo, flat) gets the raw output, identical to the runtime in-process', async () => {
    const request = { id: 'photo-1', inputs: [{ name: 'images', shape: input.shape, datatype: 'FP32', data: Array.from(input.data as Float32Array) }] };
    expectValid(schemas.oip('inference_request'), request);
    const response = await postJson(`${origin}/v2/models/yolox/infer`, request);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as InferenceResponse;
    expectValid(schemas.oip('inference_response'), body);
    const [output] = body.outputs;
    expect({ model_name: body.model_name, model_version: body.model_version, id: body.id, name: output?.name, datatype: output?.datatype, shape: output?.shape })
      .toEqual({ model_name: 'yolox', model_version: '3', id: 'photo-1', name: 'output', datatype: 'FP32', shape: expected[0]?.shape });
    expect(Float32Array.from(output?.data as number[])).toEqual(expected[0]?.data);
  });

  it('nested JSON data (as the shape, row-major) is the same tensor as flat data', async () => {
    const tiny = { name: 'images', shape: [1, 3, 416, 416] };
    const flat = Array.from(input.data as Float32Array);
    const nested = [[0, 1, 2].map((channel) => Array.from({ length: 416 }, (_row, y) => flat.slice(channel * 416 * 416 + y * 416, channel * 416 * 416 + (y + 1) * 416)))];
    const request = { inputs: [{ ...tiny, datatype: 'FP32', data: nested }] };
    expectValid(schemas.oip('inference_request'), request);
    const body = (await (await postJson(`${origin}/v2/models/yolox/infer`, request)).json()) as InferenceResponse;
    expect(Float32Array.from(body.outputs[0]?.data as number[])).toEqual(expected[0]?.data);
  });

  it('binary tensor data both ways: the input after the JSON, the output returned as bytes equal to the runtime\'s', async () => {
    const data = input.data as Float32Array;
    const json = { inputs: [{ name: 'images', shape: input.shape, datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }], outputs: [{ name: 'output', parameters: { binary_data: true } }] };
    expectValid(schemas.binary('inference_request'), json);
    const { body, headers } = binaryBody(json, [new Uint8Array(data.buffer)]);
    const response = await fetch(`${origin}/v2/models/yolox/versions/3/infer`, { method: 'POST', body, headers });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    const split = await splitBinaryResponse(response);
    expectValid(schemas.binary('inference_response'), split.json);
    const outputs = (split.json as InferenceResponse).outputs;
    const want = expected[0]?.data as Float32Array;
    expect(outputs).toEqual([{ name: 'output', datatype: 'FP32', shape: expected[0]?.shape, parameters: { binary_data_size: want.byteLength } }]);
    expect(split.binary.equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
  });

  it('binary_data_output on the request returns every output as binary data; a JSON input may still be binary-answered', async () => {
    const request = { parameters: { binary_data_output: true }, inputs: [{ name: 'images', shape: input.shape, datatype: 'FP32', data: Array.from(input.data as Float32Array) }] };
    expectValid(schemas.binary('inference_request'), request);
    const split = await splitBinaryResponse(await postJson(`${origin}/v2/models/yolox/infer`, request));
    expectValid(schemas.binary('inference_response'), split.json);
    const want = expected[0]?.data as Float32Array;
    expect(split.binary.equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
  });

  it('an image as a BYTES input (binary) gets the same detections as /v1/detect on the same photo', async () => {
    const photo = await readFile(imageFile('darknet_person.jpg'));
    const detect = (await (await fetch(`${origin}/v1/detect`, { method: 'POST', body: photo, headers: { 'content-type': 'image/jpeg' } })).json()) as DetectionResult;
    const element = bytesElement(photo);
    const json = { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: element.length } }] };
    expectValid(schemas.binary('inference_request'), json);
    const { body, headers } = binaryBody(json, [element]);
    const response = await fetch(`${origin}/v2/models/yolox/infer`, { method: 'POST', body, headers });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as InferenceResponse;
    expectValid(schemas.oip('inference_response'), answer);
    const count = detect.detections.length;
    expect(count).toBeGreaterThan(0);
    expect(answer.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape }))).toEqual([
      { name: 'boxes', datatype: 'FP32', shape: [count, 4] },
      { name: 'scores', datatype: 'FP32', shape: [count] },
      { name: 'labels', datatype: 'BYTES', shape: [count] },
    ]);
    const [boxes, scores, labels] = answer.outputs;
    expect(boxes?.data).toEqual(Array.from(Float32Array.from(detect.detections.flatMap(({ box }) => [box.xmin, box.ymin, box.xmax, box.ymax]))));
    expect(scores?.data).toEqual(Array.from(Float32Array.from(detect.detections.map(({ score }) => score))));
    expect(labels?.data).toEqual(detect.detections.map(({ label }) => label));
  });

  it('an image as base64 JSON BYTES, with score_threshold and binary labels, answers the same rows', async () => {
    const photo = await readFile(imageFile('darknet_dog.jpg'));
    const detect = (await (await fetch(`${origin}/v1/detect?threshold=0.5`, { method: 'POST', body: photo, headers: { 'content-type': 'image/jpeg' } })).json()) as DetectionResult;
    const request = {
      parameters: { score_threshold: 0.5 },
      inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [photo.toString('base64')] }],
      outputs: [{ name: 'labels', parameters: { binary_data: true } }, { name: 'scores' }],
    };
    expectValid(schemas.binary('inference_request'), request);
    const split = await splitBinaryResponse(await postJson(`${origin}/v2/models/yolox/infer`, request));
    expectValid(schemas.binary('inference_response'), split.json);
    const [labels, scores] = (split.json as InferenceResponse).outputs;
    expect(labels?.name).toBe('labels');
    expect(split.binary.equals(Buffer.concat(detect.detections.map(({ label }) => bytesElement(Buffer.from(label)))))).toBe(true);
    expect(scores?.data).toEqual(Array.from(Float32Array.from(detect.detections.map(({ score }) => score))));
    expect(detect.detections.map(({ label }) => label)).toEqual(expect.arrayContaining(['dog', 'bicycle']));
  });

  describe('a hostile or careless client gets a clear 400 in the protocol shape, and the server keeps serving', () => {
    const images = (extra: Record<string, unknown>) => ({ inputs: [{ name: 'images', shape: [1, 3, 416, 416], datatype: 'FP32', ...extra }] });
    const post = (body: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(`${origin}/v2/models/yolox/infer`, { method: 'POST', body, headers });

    it('Inference-Header-Content-Length past the body, zero, or not a number', async () => {
      const json = JSON.stringify(images({ parameters: { binary_data_size: 4 } }));
      for (const length of [String(json.length + 100), '0', '-5', '12abc', '1e3']) {
        const message = await expectError(await post(Buffer.concat([Buffer.from(json), Buffer.alloc(4)]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': length }), 400, 'OIP_HEADER_LENGTH_INVALID');
        expect(message).toContain('Inference-Header-Content-Length');
      }
    });

    it('binary sizes that do not add up: more declared than sent, bytes left over, a size that is not the shape\'s', async () => {
      const one = (size: number, sent: number) => binaryBody(images({ parameters: { binary_data_size: size } }), [new Uint8Array(sent)]);
      const tooMuch = one(1_000_000_000, 16);
      await expectError(await post(tooMuch.body, tooMuch.headers), 400, 'OIP_BINARY_SIZE_MISMATCH');
      const leftOver = one(16, 32);
      await expectError(await post(leftOver.body, leftOver.headers), 400, 'OIP_BINARY_SIZE_MISMATCH');
      const wrongSize = one(16, 16);
      expect(await expectError(await post(wrongSize.body, wrongSize.headers), 400, 'OIP_BINARY_SIZE_MISMATCH')).toContain('2076672 bytes');
      const noHeader = JSON.stringify(images({ parameters: { binary_data_size: 16 } }));
      expect(await expectError(await post(noHeader), 400, 'OIP_BINARY_SIZE_MISMATCH')).toContain('Inference-Header-Content-Length');
    });

    it('a huge declared shape is refused before anything is allocated', async () => {
      const huge = { inputs: [{ name: 'images', shape: [1_000_000_000, 1_000_000_000, 1_000_000_000], datatype: 'FP32', parameters: { binary_data_size: 0 } }] };
      const { body, headers } = binaryBody(huge, []);
      await expectError(await post(body, { ...headers, 'inference-header-content-length': String(body.length) }), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [2 ** 40, 2 ** 40], datatype: 'FP32', data: [1, 2] }] })), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: Array(9).fill(1), datatype: 'FP32', data: [1] }] })), 400, 'OIP_REQUEST_INVALID');
    });

    it('data that does not fit its shape or datatype, nesting that contradicts the shape', async () => {
      await expectError(await post(JSON.stringify(images({ data: [1, 2, 3] }))), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3]] }] })), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [2], datatype: 'INT32', data: [1, 2.5] }] })), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [2], datatype: 'UINT8', data: [1, 256] }] })), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [1], datatype: 'BOOL', data: ['yes'] }] })), 400, 'OIP_TENSOR_DATA_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [1], datatype: 'UINT32', data: [1] }] })), 400, 'OIP_DATATYPE_UNSUPPORTED');
      const bool = binaryBody({ inputs: [{ name: 'images', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] }, [Uint8Array.of(1, 2)]);
      await expectError(await post(bool.body, bool.headers), 400, 'OIP_TENSOR_DATA_INVALID');
    });

    it("tensors that do not fit the model: datatype, shape, unknown or missing input, unknown output", async () => {
      const zeros = (count: number) => Array(count).fill(0) as number[];
      expect(await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [1, 3], datatype: 'INT32', data: [1, 2, 3] }] })), 400, 'TENSOR_DATATYPE_MISMATCH')).toContain('float32 [1, 3, 416, 416]');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] })), 400, 'TENSOR_SHAPE_MISMATCH');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'pixels', shape: [1], datatype: 'FP32', data: [1] }] })), 400, 'TENSOR_INPUT_UNKNOWN');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [1], datatype: 'FP32', data: [1] }, { name: 'images', shape: [1], datatype: 'FP32', data: [1] }] })), 400, 'TENSOR_INPUT_DUPLICATE');
      const request = { ...images({ data: zeros(3 * 416 * 416) }), outputs: [{ name: 'logits' }] };
      expect(await expectError(await post(JSON.stringify(request)), 400, 'TENSOR_OUTPUT_UNKNOWN')).toContain('"output"');
    });

    it('not JSON, no inputs, an unknown datatype, a BYTES input that is not one image, a bad image', async () => {
      await expectError(await post('{"inputs": ['), 400, 'OIP_JSON_INVALID');
      await expectError(await post(''), 400, 'OIP_JSON_INVALID');
      await expectError(await fetch(`${origin}/v2/models/yolox/infer`, { method: 'POST' }), 400, 'OIP_JSON_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [] })), 400, 'OIP_REQUEST_INVALID');
      expect(await expectError(await post(JSON.stringify({ inputs: [{ name: 'images', shape: [1], datatype: 'FP8', data: [1] }] })), 400, 'OIP_REQUEST_INVALID')).toContain('datatype');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: ['a', 'b'] }] })), 400, 'OIP_IMAGE_INPUT_INVALID');
      await expectError(await post(JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['not an image'] }] })), 400, 'IMAGE_UNDECODABLE');
      const truncated = binaryBody({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 6 } }] }, [Uint8Array.of(100, 0, 0, 0, 1, 2)]);
      await expectError(await post(truncated.body, truncated.headers), 400, 'OIP_TENSOR_DATA_INVALID');
    });

    it('a body over the module\'s limit gets 413 in the protocol shape', async () => {
      await expectError(await post(Buffer.alloc(8 * 1024 * 1024 + 1, 0x20)), 413, 'BODY_TOO_LARGE');
    });

    it('still answers a good request afterwards', async () => {
      const response = await postJson(`${origin}/v2/models/yolox/infer`, { inputs: [{ name: 'images', shape: input.shape, datatype: 'FP32', data: Array.from(input.data as Float32Array) }] });
      expect(response.status).toBe(200);
    });
  });
});

describe('Open Inference Protocol REST, SSD MobileNet (LiteRT, quantised)', () => {
  let service: InferenceService;
  let origin: string;
  let runtime: ModelRuntime;
  let input: Tensor;
  let expected: Tensor[];

  beforeAll(async () => {
    ({ service, origin, runtime } = await serve(SSD_TFLITE, '1'));
    input = await preprocessedPhoto(service, 'coco_000000001584_bus.jpg');
    expected = await runtime.run([input]);
  });
  afterAll(async () => {
    await runtime?.dispose();
    await service?.close();
  });

  it("is described with the runtime's UINT8 input and its four outputs, on the platform litert_tflite", async () => {
    const body = await (await fetch(`${origin}/v2/models/ssd`)).json();
    expectValid(schemas.oip('metadata_model_response'), body);
    expect(body).toMatchObject({ name: 'ssd', versions: ['1'], platform: 'litert_tflite', inputs: [{ datatype: 'UINT8', shape: [1, 300, 300, 3] }] });
    expect((body as { outputs: unknown[] }).outputs).toHaveLength(4);
  });

  it('a binary UINT8 tensor gets every output as the runtime in-process gives it', async () => {
    const [info] = runtime.signature.inputs;
    const data = input.data as Uint8Array;
    const json = { inputs: [{ name: info?.name, shape: input.shape, datatype: 'UINT8', parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } };
    expectValid(schemas.binary('inference_request'), json);
    const { body, headers } = binaryBody(json, [data]);
    const split = await splitBinaryResponse(await fetch(`${origin}/v2/models/ssd/infer`, { method: 'POST', body, headers }));
    expectValid(schemas.binary('inference_response'), split.json);
    const outputs = (split.json as InferenceResponse).outputs;
    expect(outputs.map(({ name }) => name)).toEqual(runtime.signature.outputs.map(({ name }) => name));
    const bytes = expected.map(({ data: out }) => Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    expect(outputs.map(({ shape }) => shape)).toEqual(expected.map(({ shape }) => shape));
    expect(split.binary.equals(Buffer.concat(bytes))).toBe(true);
  });

  it('outputs asked for by name come back in that order, as JSON equal to the runtime\'s', async () => {
    const names = runtime.signature.outputs.map(({ name }) => name);
    const [first, , third] = names;
    const request = { inputs: [{ name: runtime.signature.inputs[0]?.name, shape: input.shape, datatype: 'UINT8', data: Array.from(input.data as Uint8Array) }], outputs: [{ name: third }, { name: first }] };
    expectValid(schemas.oip('inference_request'), request);
    const response = await postJson(`${origin}/v2/models/ssd/infer`, request);
    expect(response.status).toBe(200);
    const body = (await response.json()) as InferenceResponse;
    expectValid(schemas.oip('inference_response'), body);
    expect(body.outputs.map(({ name }) => name)).toEqual([third, first]);
    expect(body.outputs[0]?.data).toEqual(Array.from(expected[2]?.data as Float32Array));
    expect(body.outputs[1]?.data).toEqual(Array.from(expected[0]?.data as Float32Array));
  });

  it('an image as BYTES gets the detections /v1/detect gives', async () => {
    const photo = await readFile(imageFile('coco_000000001584_bus.jpg'));
    const detect = (await (await fetch(`${origin}/v1/detect`, { method: 'POST', body: photo, headers: { 'content-type': 'image/jpeg' } })).json()) as DetectionResult;
    const element = bytesElement(photo);
    const { body, headers } = binaryBody({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: element.length } }] }, [element]);
    const answer = (await (await fetch(`${origin}/v2/models/ssd/infer`, { method: 'POST', body, headers })).json()) as InferenceResponse;
    expectValid(schemas.oip('inference_response'), answer);
    expect(answer.outputs.find(({ name }) => name === 'labels')?.data).toEqual(detect.detections.map(({ label }) => label));
    expect(answer.outputs.find(({ name }) => name === 'boxes')?.data).toEqual(Array.from(Float32Array.from(detect.detections.flatMap(({ box }) => [box.xmin, box.ymin, box.xmax, box.ymax]))));
    expect(detect.detections.map(({ label }) => label)).toContain('bus');
  });
});

describe('Open Inference Protocol REST before any model serves', () => {
  let service: InferenceService;
  let origin: string;

  beforeAll(async () => {
    service = await startService(await createStorage());
    origin = await service.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => service?.close());

  it('is live, not ready (503 with ready: false), and knows no model', async () => {
    expectValid(schemas.oip('live_server_response'), await (await fetch(`${origin}/v2/health/live`)).json());
    const ready = await fetch(`${origin}/v2/health/ready`);
    expect(ready.status).toBe(503);
    const body = await ready.json();
    expectValid(schemas.oip('ready_server_response'), body);
    expect(body).toEqual({ live: true, ready: false });
    expect(await expectError(await fetch(`${origin}/v2/models/yolox`), 404, 'MODEL_NOT_FOUND', schemas.oip('metadata_model_error_response'))).toContain('none is loaded yet');
  });
});
