import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { InferenceMetrics } from '../metrics.js';
import type { ModelRegistry } from '../serving/model-registry.js';
import type { ServingState } from '../serving/serving-state.js';
import { rewriteStrings, storagePathRelativizer } from '../storage-paths.js';
import { answerClientError, guardConnections, connectionsCheckingIntervalMs, type HttpLimits, type ShedReason } from './connection-limits.js';
import { installErrorHandler } from './error-handler.js';
import { ImageRequestGate } from './image-request-gate.js';
import './served-model.js';
import { admittedBodyParser, bodyReservationBytes } from './read-body.js';
import { IMAGE_CONTENT_TYPES, MULTIPART_FIELD_LIMITS, MULTIPART_OVERHEAD_BYTES, MultipartTooLargeError } from './read-image.js';
import { commonErrorResponses, openApiDocumentResponse, validateWithContract } from './schemas.js';
import { detectRoutes } from './routes/detect-routes.js';
import { oipRoutes } from './routes/oip-routes.js';
import { statusRoutes } from './routes/status-routes.js';

const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;

const isMultipart = (contentType: string | undefined) => contentType?.toLowerCase().startsWith('multipart/') === true;

export interface AppOptions {
  /** Every served model by name; detect routes resolve a name (or the default model) through it. */
  models: ModelRegistry;
  state: ServingState;
  metrics: InferenceMetrics;
  maxBodyBytes: number;
  seedScoreThreshold: number;
  /** Absolute paths under it are made relative in every message the API sends. */
  storageRoot: string;
  limits: HttpLimits;
  /** The decode limit in pixels; the image is opened again under it to draw detections on (`?render=`). */
  maxImagePixels?: number;
  /** Serves the web console at `/` (INFERENCE_CONSOLE). */
  console?: boolean;
  fastify?: FastifyServerOptions;
}

/** inference_errors_total codes of the connections the cap closed: no request in progress, a request refused, too many pipelined. */
const SHED_CODES: Record<ShedReason, string> = { evicted: 'CONNECTION_EVICTED', refused: 'CONNECTION_REFUSED', pipelined: 'PIPELINE_TOO_DEEP' };

/** The inference HTTP API as a Fastify instance that is not listening yet; tests use `inject`, the server listens. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { limits } = options;
  const app = Fastify({
    bodyLimit: options.maxBodyBytes,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: connectionsCheckingIntervalMs(limits) },
    clientErrorHandler: (error, socket) => {
      const code = answerClientError(error, socket, limits);
      if (code) options.metrics.errors.inc({ code });
    },
    ...options.fastify,
  });
  app.decorateRequest('servedModel', undefined);
  guardConnections(
    app.server,
    { maxConnections: limits.maxConnections, firstRequestTimeoutMs: limits.headersTimeoutMs },
    (reason) => options.metrics.errors.inc({ code: SHED_CODES[reason] }),
    (socket) => {
      const timeout = Object.assign(new Error('request headers not received in time'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      const code = answerClientError(timeout, socket, limits);
      if (code) options.metrics.errors.inc({ code });
    },
  );
  const outsideMessage = await storagePathRelativizer(options.storageRoot);
  const multipartCapBytes = options.maxBodyBytes + MULTIPART_OVERHEAD_BYTES;
  const imageRequests = new ImageRequestGate({
    limit: limits.maxImageRequests,
    bodyBudgetBytes: limits.bodyBudgetBytes,
    bodyBytes: (request) => bodyReservationBytes(request.headers, isMultipart(request.headers['content-type']) ? multipartCapBytes : options.maxBodyBytes),
    minBodyBytesPerSecond: limits.minBodyBytesPerSecond,
    bodyGraceMs: limits.bodyGraceMs,
    onEnded: (code) => options.metrics.errors.inc({ code }),
  });
  // Reads the body of an admitted image request only, for the detect routes' image types and every type of the /v2 ones.
  const readAdmittedBody = admittedBodyParser((request) => imageRequests.holds(request), options.maxBodyBytes);
  // No route takes JSON or text: without their parsers, such bodies get a 415 instead of reaching a handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(IMAGE_CONTENT_TYPES, readAdmittedBody);
  // A body without a Content-Type (Python requests' `data=bytes`) is read like application/octet-stream: by its magic bytes.
  app.addHook('onRequest', async (request) => {
    const headers = request.raw.headers;
    const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    if (headers['content-type'] === undefined && hasBody) headers['content-type'] = 'application/octet-stream';
  });
  // Fastify's bodyLimit does not reach multipart bodies, which the plugin streams: a declared length is checked here
  // (one undeclared, chunked, is read within the request timeout; fields past their size are cut, never held).
  app.addHook('onRequest', async (request) => {
    const declared = Number(request.headers['content-length']);
    if (isMultipart(request.headers['content-type']) && declared > multipartCapBytes) throw new MultipartTooLargeError(declared, multipartCapBytes);
  });
  await app.register(multipart, {
    limits: { fileSize: options.maxBodyBytes, files: 1, fields: MULTIPART_FIELD_LIMITS.fields, fieldSize: MULTIPART_FIELD_LIMITS.fieldSizeBytes, parts: MULTIPART_FIELD_LIMITS.fields + 1 },
    throwFileSizeLimit: true,
  });
  // Request parts are parsed by the zod contracts their schemas were generated from (schemas.ts); responses keep fast-json-stringify.
  app.setValidatorCompiler(validateWithContract);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'edge-model-serving inference API',
        version: '1.0.0',
        description: 'Object detection with atomic model hot swap',
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      // Relative: the document is served by the API it describes, on whatever host and port the module is reached.
      servers: [{ url: '/', description: 'this inference module' }],
      // No authentication: the API stays on the edge network or behind the host's firewall (docs/security.md).
      security: [],
      tags: [
        { name: 'inference', description: 'Detections for one image' },
        { name: 'models', description: 'The served models and their activations' },
        { name: 'health', description: 'Liveness, readiness, metrics and this document' },
        { name: 'open inference protocol', description: 'The Open Inference Protocol (KServe v2) REST API: raw tensors or an image, JSON or binary tensor data' },
      ],
    },
  });
  installErrorHandler(app, { metrics: options.metrics, outsideMessage });
  app.addHook('onResponse', async (request, reply) => {
    const served = request.servedModel ?? { model: '', version: '' };
    options.metrics.requests.inc({ route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode), ...served });
  });
  await app.register(detectRoutes, {
    models: options.models,
    metrics: options.metrics,
    seedScoreThreshold: options.seedScoreThreshold,
    imageRequests,
    maxImagePixels: options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS,
    maxBodyBytes: options.maxBodyBytes,
  });
  // One ModelManager per served name (the registry): the protocol's model routes resolve a name through it.
  await app.register(oipRoutes, {
    prefix: '/v2',
    resolve: (name) => options.models.get(name),
    names: () => options.models.names(),
    metrics: options.metrics,
    imageRequests,
    readBody: readAdmittedBody,
    outsideMessage,
  });
  await app.register(statusRoutes, { state: options.state, models: options.models, metrics: options.metrics, outside: (value) => rewriteStrings(value, outsideMessage) });
  // Loaded only when on: @fastify/static and its file-matching dependencies are ~1 MiB of heap a console-less module would keep.
  if (options.console) await app.register((await import('./routes/console-routes.js')).consoleRoutes);
  app.get('/openapi.json', {
    schema: { operationId: 'getOpenApiDocument', summary: 'This document', tags: ['health'], response: { 200: openApiDocumentResponse, ...commonErrorResponses } },
  }, async () => app.swagger());
  return app;
}
