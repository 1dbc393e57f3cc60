import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  OipErrorSchema,
  OipInferenceRequestSchema,
  OipInferenceResponseSchema,
  OipModelMetadataSchema,
  OipModelReadySchema,
  OipServerLiveSchema,
  OipServerMetadataSchema,
  OipServerReadySchema,
} from '@edge-ml/contracts';
import type { InferenceMetrics } from '../../metrics.js';
import { planInference } from '../../oip/infer-plan.js';
import { INFERENCE_HEADER_CONTENT_LENGTH, parseInferBody } from '../../oip/infer-request.js';
import { encodeInferResponse, imageOutputs, tensorOutputs, type EncodedResponse } from '../../oip/infer-response.js';
import { modelMetadata, serverMetadata } from '../../oip/model-metadata.js';
import { OipModelNotFoundError } from '../../oip/oip-errors.js';
import type { ActiveModel, ModelManager } from '../../serving/model-manager.js';
import { ModelVersionNotServedError } from '../../serving/serving-errors.js';
import { classifyError, type HandledError } from '../error-handler.js';
import type { ImageRequestGate } from '../image-request-gate.js';
import type { ContentTypeParser } from '../read-body.js';
import { bytesBody, jsonOrImageResponseSchema, responseSchema } from '../schemas.js';

export interface OipRoutesOptions {
  /** The model manager serving a name, if any. */
  resolve: (name: string) => ModelManager | undefined;
  /** The names served (or being loaded), for server readiness and for error messages. */
  names: () => string[];
  metrics: InferenceMetrics;
  imageRequests: ImageRequestGate;
  /** Reads the body of an admitted request within INFERENCE_MAX_BODY_BYTES (read-body.ts: admittedBodyParser). */
  readBody: ContentTypeParser;
  /** Rewrites a message before it leaves the device (absolute storage paths become relative). */
  outsideMessage: (text: string) => string;
}

type ModelParams = { name: string; version?: string };

const oipError = (description: string) => responseSchema(OipErrorSchema, description);
const errors = {
  404: oipError('MODEL_NOT_FOUND (no model of that name) or MODEL_VERSION_NOT_SERVED'),
  500: oipError('INTERNAL: a bug; the cause is logged, not returned'),
};
const inferErrors = {
  400: oipError('OIP_* or TENSOR_*: the request does not fit the protocol or the model (the message says how); IMAGE_UNDECODABLE for an image input'),
  ...errors,
  408: oipError('REQUEST_TIMEOUT: the request was not received in time'),
  413: oipError('BODY_TOO_LARGE: over INFERENCE_MAX_BODY_BYTES'),
  503: oipError('NO_MODEL or OVERLOADED (with Retry-After)'),
};
const notReady = (contract: typeof OipServerReadySchema | typeof OipModelReadySchema, description: string) => responseSchema(contract, description);

const versionOf = (params: ModelParams) => (params.version === undefined ? {} : { version: params.version });

/** Open Inference Protocol (KServe v2) REST routes, registered under /v2; answers and errors in the protocol's shapes. */
export async function oipRoutes(app: FastifyInstance, options: OipRoutesOptions): Promise<void> {
  const { resolve, names, metrics } = options;
  const server = serverMetadata();

  // The protocol's error object is { "error": <message> }; the stable code rides beside it.
  app.setErrorHandler((raised: HandledError, request, reply) => {
    const { statusCode, code, message } = classifyError(raised, request, reply, { metrics, outsideMessage: options.outsideMessage });
    return reply.status(statusCode).send({ error: message, code });
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: `no route ${request.method} ${request.url}`, code: 'NOT_FOUND' }));
  // Requests are JSON, or JSON followed by binary tensor data: read as bytes (within the body limit) and parsed by the handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', options.readBody);

  /** The active model of a name (and version, when the path has one), or the protocol's not-found error. */
  const servedModel = (params: ModelParams): { manager: ModelManager; model: ActiveModel | undefined } => {
    const manager = resolve(params.name);
    if (!manager) throw new OipModelNotFoundError(params.name, names());
    const model = manager.active;
    if (model && params.version !== undefined && params.version !== model.version) throw new ModelVersionNotServedError(params.name, params.version, model.version);
    return { manager, model };
  };

  const serverMetadataSchema = {
    operationId: 'getOipServerMetadata',
    summary: 'Open Inference Protocol: server metadata (name, version, extensions)',
    tags: ['open inference protocol'],
    response: { 200: responseSchema(OipServerMetadataSchema, 'The server'), 500: errors[500] },
  };
  app.get('/', { prefixTrailingSlash: 'no-slash', schema: serverMetadataSchema }, async () => server);
  // The protocol's YAML spells the route /v2/: answered too, documented once.
  app.get('/', { prefixTrailingSlash: 'slash', schema: { ...serverMetadataSchema, operationId: 'getOipServerMetadataSlash', hide: true } }, async () => server);

  app.get('/health/live', {
    schema: {
      operationId: 'getOipServerLive',
      summary: 'Open Inference Protocol: server live',
      tags: ['open inference protocol'],
      response: { 200: responseSchema(OipServerLiveSchema, 'The server answers'), 500: errors[500] },
    },
  }, async () => ({ live: true }));

  app.get('/health/ready', {
    schema: {
      operationId: 'getOipServerReady',
      summary: 'Open Inference Protocol: server ready (every model it serves is ready; 503 otherwise)',
      tags: ['open inference protocol'],
      response: { 200: responseSchema(OipServerReadySchema, 'Every model is ready'), 503: notReady(OipServerReadySchema, 'No model is loaded yet, or one is not ready'), 500: errors[500] },
    },
  }, async (_request, reply) => {
    const served = names();
    const ready = served.length > 0 && served.every((name) => resolve(name)?.active !== undefined);
    return reply.status(ready ? 200 : 503).send({ live: true, ready });
  });

  const metadataSchema = (versioned: boolean) => ({
    operationId: versioned ? 'getOipModelVersionMetadata' : 'getOipModelMetadata',
    summary: `Open Inference Protocol: model metadata${versioned ? ' of one version' : ''} (versions, platform, inputs and outputs)`,
    tags: ['open inference protocol'],
    response: { 200: responseSchema(OipModelMetadataSchema, 'The model'), ...errors, 503: oipError('MODEL_NOT_READY: the model is not loaded yet') },
  });
  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const { model } = servedModel(request.params);
    if (!model) throw Object.assign(new Error(`model "${request.params.name}" is not loaded yet`), { code: 'MODEL_NOT_READY', statusCode: 503 });
    return modelMetadata(model);
  };
  app.get<{ Params: ModelParams }>('/models/:name', { schema: metadataSchema(false) }, metadata);
  app.get<{ Params: ModelParams }>('/models/:name/versions/:version', { schema: metadataSchema(true) }, metadata);

  const readySchema = (versioned: boolean) => ({
    operationId: versioned ? 'getOipModelVersionReady' : 'getOipModelReady',
    summary: `Open Inference Protocol: model${versioned ? ' version' : ''} ready (503 while it loads)`,
    tags: ['open inference protocol'],
    response: { 200: responseSchema(OipModelReadySchema, 'The model is ready'), 503: notReady(OipModelReadySchema, 'The model is not loaded yet'), ...errors },
  });
  const ready = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model } = servedModel(request.params);
    return reply.status(model ? 200 : 503).send({ name: request.params.name, ready: model !== undefined });
  };
  app.get<{ Params: ModelParams }>('/models/:name/ready', { schema: readySchema(false) }, ready);
  app.get<{ Params: ModelParams }>('/models/:name/versions/:version/ready', { schema: readySchema(true) }, ready);

  const inferSchema = (versioned: boolean) => ({
    operationId: versioned ? 'inferOipModelVersion' : 'inferOipModel',
    summary: `Open Inference Protocol: inference${versioned ? ' on one version' : ''}, with JSON tensors or binary tensor data`,
    description:
      "Numeric inputs go to the model's runtime as they are (the model's own preprocessed tensor) and the runtime's outputs come back, all or those asked for. " +
      'One BYTES input of shape [1] is an image (binary, or base64 with parameters.content_type "base64"): the answer is the detections as boxes FP32 [N,4], scores FP32 [N] and labels BYTES [N]. ' +
      'With the binary tensor data extension the body is the JSON object followed by the tensors\' bytes, and Inference-Header-Content-Length gives the JSON\'s length.',
    tags: ['open inference protocol'],
    body: bytesBody(OipInferenceRequestSchema),
    response: { 200: jsonOrImageResponseSchema(OipInferenceResponseSchema, ['application/octet-stream'], 'The outputs; binary ones follow the JSON object (Inference-Header-Content-Length)'), ...inferErrors },
  });
  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { manager } = servedModel(request.params);
    // No body at all (no Content-Type, no length) reaches here unparsed: it is an empty request.
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const parsed = parseInferBody(body, request.headers[INFERENCE_HEADER_CONTENT_LENGTH]);
    // Decoded tensors are copies: the body can go while the request waits for a worker (an image input still views it).
    request.body = undefined;
    const plan = planInference(parsed);
    const id = parsed.request.id === undefined ? {} : { id: parsed.request.id };
    let encoded: EncodedResponse;
    if (plan.kind === 'image') {
      const result = await manager.detect(plan.image, { ...versionOf(request.params), ...(plan.scoreThreshold === undefined ? {} : { scoreThreshold: plan.scoreThreshold }) });
      request.servedModel = { model: result.model.name, version: result.model.version };
      encoded = encodeInferResponse({ model_name: result.model.name, model_version: result.model.version, ...id }, imageOutputs(result, plan.outputs));
    } else {
      const outputs = plan.outputs?.map((output) => output.name);
      const result = await manager.inferTensors(plan.inputs, { ...versionOf(request.params), ...(outputs ? { outputs } : {}) });
      request.servedModel = { model: result.model.name, version: result.model.version };
      encoded = encodeInferResponse({ model_name: result.model.name, model_version: result.model.version, ...id }, tensorOutputs(result.outputs, plan.outputs, plan.binaryByDefault));
    }
    if (encoded.headerLength !== undefined) void reply.header('inference-header-content-length', String(encoded.headerLength));
    return reply.type(encoded.contentType).send(encoded.body);
  };
  // Bodies are held until answered: the image gate bounds how many at once, as on /v1/detect.
  app.post<{ Params: ModelParams }>('/models/:name/infer', { schema: inferSchema(false), onRequest: options.imageRequests.onRequest }, infer);
  app.post<{ Params: ModelParams }>('/models/:name/versions/:version/infer', { schema: inferSchema(true), onRequest: options.imageRequests.onRequest }, infer);
}
