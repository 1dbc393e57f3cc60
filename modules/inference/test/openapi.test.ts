import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectionResultSchema, type DetectionResult } from '@edge-ml/contracts';
import { toSeedDetections } from '../src/http/routes/detect-routes.js';
import type { InferenceService } from '../src/service.js';
import { createStorage, stageModel, YOLOX_ONNX } from './storage.js';
import { startService } from './service.js';
import { imageFile, TESTDATA } from './testdata.js';

interface Operation {
  operationId?: string;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
}
type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, Operation>> };

const MODULE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REDOCLY_CLI = path.join(MODULE_ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

interface RedoclyReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

/** `redocly lint` of a document with the module's redocly.yaml (the recommended rules), as its JSON report. */
async function redoclyLint(document: unknown): Promise<RedoclyReport> {
  const directory = await mkdtemp(path.join(tmpdir(), 'openapi-'));
  try {
    const file = path.join(directory, 'openapi.json');
    await writeFile(file, JSON.stringify(document, null, 2));
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
    const args = [REDOCLY_CLI, 'lint', file, '--config', path.join(MODULE_ROOT, 'redocly.yaml'), '--format=json'];
    // It exits 1 when it finds errors; the report on stdout says which.
    const stdout = await promisify(execFile)(process.execPath, args, { env }).then(
      (result) => result.stdout,
      (error: { stdout?: string }) => error.stdout ?? '',
    );
    return JSON.parse(stdout) as RedoclyReport;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

const IMAGE_BODY_TYPES = ['application/octet-stream', 'image/jpeg', 'image/png', 'image/webp', 'image/bmp', 'multipart/form-data'];

/** Every place in a schema tree where `visit` says something is wrong, as JSON pointers. */
function findInTree(value: unknown, visit: (node: Record<string, unknown>) => string | undefined, pointer = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  const node = value as Record<string, unknown>;
  const own = visit(node);
  const nested = Object.entries(node).flatMap(([key, child]) => findInTree(child, visit, `${pointer}/${key}`));
  return own ? [`${pointer}: ${own}`, ...nested] : nested;
}

const operationsOf = (document: OpenApiDocument) =>
  Object.entries(document.paths).flatMap(([route, methods]) => Object.entries(methods).map(([method, operation]) => ({ route, method, operation })));

describe('the served OpenAPI document', () => {
  let storage: string;
  let service: InferenceService;
  let document: OpenApiDocument;

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage);
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    const response = await service.app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json<OpenApiDocument>();
  });
  afterAll(() => service.close());

  it('is valid OpenAPI 3.0 for swagger-parser', async () => {
    expect(document.openapi).toMatch(/^3\.0\./);
    // validate() throws on the first error and dereferences in place, hence the copy.
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeTruthy();
  });

  it('swagger-parser rejects the draft-7 tuple the document once carried', async () => {
    const broken = structuredClone(document) as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: { items: { properties: Record<string, unknown> } } }> }> }>> };
    const score = broken.paths['/score']?.post?.responses['200']?.content['application/json']?.schema;
    if (!score) throw new Error('POST /score has no JSON 200 response');
    score.items.properties.Location = { type: 'array', items: [{ type: 'number' }, { type: 'number' }, { type: 'number' }, { type: 'number' }], additionalItems: false };
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow(/Location/);
  });

  it.skipIf(!existsSync(REDOCLY_CLI))('passes `redocly lint` with the recommended rules, without errors or warnings (skipped when @redocly/cli is not installed)', async () => {
    const report = await redoclyLint(document);
    expect(report.problems.map(({ ruleId, message, location }) => `${ruleId} at ${location[0]?.pointer}: ${message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it.skipIf(!existsSync(REDOCLY_CLI))('redocly lint is able to fail: a document without security or servers has errors', async () => {
    const { security: _security, servers: _servers, ...careless } = document as OpenApiDocument & { security?: unknown; servers?: unknown };
    const report = await redoclyLint(careless);
    expect(report.totals.errors).toBeGreaterThan(0);
    expect(report.problems.map(({ ruleId }) => ruleId)).toEqual(expect.arrayContaining(['no-empty-servers', 'security-defined']));
  });

  it('uses no JSON Schema that OpenAPI 3.0 lacks (type arrays, null types, tuples)', () => {
    const problems = findInTree(document, (node) => {
      if (Array.isArray(node.type)) return `type is an array (${JSON.stringify(node.type)}); OpenAPI 3.0 uses nullable`;
      if (node.type === 'null') return 'type null; OpenAPI 3.0 uses nullable';
      if ('additionalItems' in node || Array.isArray(node.items) || 'prefixItems' in node) return 'a tuple';
      if ('$schema' in node) return '$schema';
      return undefined;
    });
    expect(problems).toEqual([]);
  });

  it('names every operation with a unique operationId and declares a 500 for each', () => {
    const operations = operationsOf(document);
    expect(operations.map(({ method, route }) => `${method} ${route}`).sort()).toEqual(
      [
        'get /health/live', 'get /health/ready', 'get /metrics', 'get /openapi.json', 'get /v1/models', 'get /v2', 'get /v2/health/live', 'get /v2/health/ready',
        'get /v2/models/{name}', 'get /v2/models/{name}/ready', 'get /v2/models/{name}/versions/{version}', 'get /v2/models/{name}/versions/{version}/ready',
        'post /score', 'post /v1/detect', 'post /v1/models/{name}/detect', 'post /v2/models/{name}/infer', 'post /v2/models/{name}/versions/{version}/infer',
      ],
    );
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { operation } of operations) expect(Object.keys(operation.responses)).toContain('500');
  });

  it('declares the image body of every POST outside the Open Inference Protocol: raw image types and a form with one file', () => {
    for (const { route, method, operation } of operationsOf(document).filter(({ method, route }) => method === 'post' && !route.startsWith('/v2/'))) {
      expect(Object.keys(operation.requestBody?.content ?? {}), `${method} ${route}`).toEqual(expect.arrayContaining(IMAGE_BODY_TYPES));
      expect(operation.requestBody?.content['image/jpeg']?.schema).toEqual({ type: 'string', format: 'binary' });
      expect(operation.requestBody?.content['multipart/form-data']?.schema).toMatchObject({ type: 'object', required: ['image'] });
      // Only a route that names its model can answer 404 MODEL_NOT_FOUND.
      const named = route.includes('{name}') ? ['404'] : [];
      expect(Object.keys(operation.responses).sort(), `${method} ${route}`).toEqual(['200', '400', ...named, '408', '413', '415', '500', '503']);
    }
  });

  it('declares the Open Inference Protocol infer body as JSON or JSON followed by binary tensors, its errors in the protocol shape', () => {
    for (const route of ['/v2/models/{name}/infer', '/v2/models/{name}/versions/{version}/infer']) {
      const infer = document.paths[route]?.post as Operation & { responses: Record<string, { content: Record<string, { schema: { required?: string[] } }> }> };
      expect(Object.keys(infer.requestBody?.content ?? {}).sort()).toEqual(['application/json', 'application/octet-stream']);
      expect(infer.requestBody?.content['application/json']?.schema).toMatchObject({ type: 'object', required: ['inputs'] });
      expect(Object.keys(infer.responses).sort()).toEqual(['200', '400', '404', '408', '413', '500', '503']);
      expect(Object.keys(infer.responses['200']?.content ?? {}).sort()).toEqual(['application/json', 'application/octet-stream']);
      expect(infer.responses['400']?.content['application/json']?.schema.required).toEqual(['error', 'code']);
    }
  });

  it('documents the query of both detect routes (threshold in 0..1, render jpeg or png), the model name in the path of the named one, and their 200 as JSON or the drawn image', () => {
    const query = [
      expect.objectContaining({ in: 'query', name: 'threshold', required: false, schema: { type: 'number', minimum: 0, maximum: 1 } }),
      expect.objectContaining({ in: 'query', name: 'render', required: false, schema: { type: 'string', enum: ['jpeg', 'png'] } }),
    ];
    for (const [route, path] of [['/v1/detect', []], ['/v1/models/{name}/detect', [expect.objectContaining({ in: 'path', name: 'name', required: true, schema: { type: 'string', minLength: 1 } })]]] as const) {
      const detect = document.paths[route]?.post as Operation & { parameters?: unknown[]; responses: Record<string, { content: Record<string, { schema: unknown }> }> };
      expect(detect.parameters?.filter((parameter) => (parameter as { in: string }).in === 'query'), route).toEqual(query);
      expect(detect.parameters?.filter((parameter) => (parameter as { in: string }).in === 'path'), route).toEqual(path);
      const ok = detect.responses['200']?.content ?? {};
      expect(Object.keys(ok).sort()).toEqual(['application/json', 'image/jpeg', 'image/png']);
      expect(ok['image/png']?.schema).toEqual({ type: 'string', format: 'binary' });
      expect(ok['application/json']?.schema).toMatchObject({ type: 'object', required: expect.arrayContaining(['model', 'detections']) });
    }
  });

  it('leaves the web console\'s files out, though they are served', async () => {
    expect((await service.app.inject({ url: '/' })).statusCode).toBe(200);
    expect(Object.keys(document.paths).filter((route) => route === '/' || /\.(html|js|css)$/.test(route))).toEqual([]);
  });

  it('is served whole: the body equals the document Fastify built', async () => {
    expect(document).toEqual(JSON.parse(JSON.stringify(service.app.swagger())));
  });

  it('has exactly the routes the table of docs/inference-api.md lists', async () => {
    const markdown = await readFile(path.join(TESTDATA, '..', 'docs', 'inference-api.md'), 'utf8');
    const table = markdown.slice(markdown.indexOf('| route | what |'), markdown.indexOf('## Sending an image'));
    const documented = [...table.matchAll(/^\| `(GET|POST) (\/[^`[?\s]*)/gm)].map(([, method, route]) => `${method?.toLowerCase()} ${route}`);
    expect(documented.length).toBeGreaterThan(0);
    expect(documented.sort()).toEqual(operationsOf(document).map(({ method, route }) => `${method} ${route}`).sort());
  });
});

describe('responses under the generated schemas', () => {
  let storage: string;
  let service: InferenceService;

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage);
  });
  afterAll(() => service.close());

  it('serializes every field of /v1/models, before and after a model serves', async () => {
    const before = await service.app.inject({ url: '/v1/models' });
    expect(before.json()).toEqual(JSON.parse(JSON.stringify(service.state.snapshot())));
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    const after = await service.app.inject({ url: '/v1/models' });
    const snapshot = JSON.parse(JSON.stringify(service.state.snapshot())) as { active: { input: Record<string, unknown> } };
    expect(after.json()).toEqual(snapshot);
    expect(Object.keys(snapshot.active.input).sort()).toEqual(['colorOrder', 'dtype', 'height', 'interpolation', 'layout', 'letterboxPlacement', 'letterboxRounding', 'mean', 'padValue', 'resize', 'scale', 'std', 'width']);
  });

  it('serializes every field of a detection: the body equals what the manager returns, timings aside', async () => {
    await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }));
    const image = await readFile(imageFile('darknet_person.jpg'));
    const direct = await service.models.detect(undefined, image);
    const response = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: image, headers: { 'content-type': 'image/jpeg' } });
    const body = response.json<DetectionResult>();
    const withoutTimings = ({ timings: _timings, ...rest }: DetectionResult) => rest;
    expect(withoutTimings(body)).toEqual(JSON.parse(JSON.stringify(withoutTimings(direct))));
    expect(Object.keys(body.timings).sort()).toEqual(Object.keys(direct.timings).sort());
    expect(DetectionResultSchema.strict().safeParse(body).success).toBe(true);
  });

  it('serializes every field of the seed-compatible answer and of the health answers', async () => {
    const image = await readFile(imageFile('darknet_person.jpg'));
    const direct = toSeedDetections(await service.models.detect(undefined, image, { scoreThreshold: 0.5 }), 0.5);
    const score = await service.app.inject({ method: 'POST', url: '/score', payload: image, headers: { 'content-type': 'image/jpeg' } });
    expect(score.json()).toEqual(direct);
    expect((await service.app.inject({ url: '/health/live' })).json()).toEqual({ status: 'ok' });
    expect((await service.app.inject({ url: '/health/ready' })).json()).toEqual({ status: 'ready', model: 'yolox@1', models: ['yolox@1'] });
  });

  it('answers a query the contract refuses with INVALID_REQUEST naming the parameter, and reads an empty threshold as absent', async () => {
    const image = await readFile(imageFile('darknet_person.jpg'));
    for (const [name, value] of [['threshold', '2'], ['threshold', 'high'], ['render', 'gif']]) {
      const response = await service.app.inject({ method: 'POST', url: `/v1/detect?${name}=${value}`, payload: image, headers: { 'content-type': 'image/jpeg' } });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'INVALID_REQUEST', message: expect.stringContaining(`querystring/${name}`), statusCode: 400 });
    }
    const empty = await service.app.inject({ method: 'POST', url: '/v1/detect?threshold=', payload: image, headers: { 'content-type': 'image/jpeg' } });
    const absent = await service.app.inject({ method: 'POST', url: '/v1/detect', payload: image, headers: { 'content-type': 'image/jpeg' } });
    expect(empty.statusCode).toBe(200);
    expect(empty.json<DetectionResult>().detections.length).toBe(absent.json<DetectionResult>().detections.length);
  });
});
