import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  DetectionResultSchema,
  DetectQuerySchema,
  ModelRouteParamsSchema,
  SeedDetectionSchema,
  type DetectionResult,
  type DetectQuery,
  type ModelRouteParams,
  type SeedDetection,
} from '@edge-ml/contracts';
import type { ModelRegistry } from '../../serving/model-registry.js';
import type { InferenceMetrics } from '../../metrics.js';
import type { ImageRequestGate } from '../image-request-gate.js';
import { chooseRenderFormat, RENDER_CONTENT_TYPES, RENDER_FORMATS } from '../../render/render-format.js';
import { RenderSlots } from '../../render/render-slots.js';
import { IMAGE_CONTENT_TYPES, readImage } from '../read-image.js';
import { imageBody, imageErrorResponses, jsonOrImageResponseSchema, modelNotFoundResponse, requestSchema, responseSchema } from '../schemas.js';
import { sendRendered } from '../send-rendered.js';

/** Renders (`?render=`) at once; more wait. Two keep both cores busy on the 2-core target without a third image in memory. */
const RENDER_CONCURRENCY = 2;

export interface DetectRoutesOptions {
  models: ModelRegistry;
  metrics: InferenceMetrics;
  seedScoreThreshold: number;
  imageRequests: ImageRequestGate;
  /** The decode limit, applied again when the image is opened to draw on. */
  maxImagePixels: number;
  maxBodyBytes: number;
}

/** Stage latencies and what the model returned, labelled with the model and version that answered. */
function observeResult(metrics: InferenceMetrics, request: FastifyRequest, result: DetectionResult): void {
  const model = { model: result.model.name, version: result.model.version };
  request.servedModel = model;
  const { decodeMs, queueMs, preprocessMs, inferenceMs, postprocessMs, totalMs } = result.timings;
  const stages = { decode: decodeMs, queue: queueMs, preprocess: preprocessMs, inference: inferenceMs, postprocess: postprocessMs, total: totalMs };
  for (const [stage, ms] of Object.entries(stages)) metrics.stageSeconds.observe({ stage, ...model }, ms / 1000);
  for (const { label, score } of [...result.detections, ...result.classifications]) {
    metrics.predictions.inc({ ...model, label });
    metrics.predictionScore.observe(model, score);
  }
}

/** The seed's response shape, as real JSON: Location is [top, left, bottom, right] normalised, as the seed's SSD returned it. */
export function toSeedDetections(result: DetectionResult, threshold: number): SeedDetection[] {
  const fromDetections = result.detections
    .filter((detection) => detection.score > threshold)
    .map(({ label, score, box }) => ({ Class: label, Score: score, Location: [box.ymin, box.xmin, box.ymax, box.xmax] as [number, number, number, number] }));
  const fromClasses = result.classifications
    .filter((entry) => entry.score > threshold)
    .map(({ label, score }) => ({ Class: label, Score: score, Location: [0, 0, 1, 1] as [number, number, number, number] }));
  return [...fromDetections, ...fromClasses];
}

const DETECT_DESCRIPTION =
  'Send JPEG, PNG, WebP or BMP bytes as the body, or multipart/form-data with one file. Boxes are normalised and in pixels of the original image. ' +
  'With `render=jpeg|png` (or an Accept header that prefers image/jpeg or image/png to JSON) the answer is the image with the detections drawn on it, ' +
  'and the headers x-model-name, x-model-version, x-model-family and x-detection-count.';

const detectResponse = jsonOrImageResponseSchema(DetectionResultSchema, RENDER_FORMATS.map((format) => RENDER_CONTENT_TYPES[format]), 'The detections as JSON, or the image with them drawn on it (`render`, Accept)');

export async function detectRoutes(app: FastifyInstance, options: DetectRoutesOptions): Promise<void> {
  const { models, metrics } = options;
  const renderSlots = new RenderSlots(RENDER_CONCURRENCY);
  // Hooks of this plugin apply to its routes only: health and metrics never wait behind images.
  app.addHook('onRequest', options.imageRequests.onRequest);

  /** One image through a model (the default one when `name` is undefined), answered as JSON or drawn on (`render`). */
  async function detect(request: FastifyRequest<{ Querystring: DetectQuery }>, reply: FastifyReply, name: string | undefined) {
    // Resolved first: an unknown name is answered without decoding the image.
    const manager = models.resolve(name);
    const image = await readImage(request, options.maxBodyBytes);
    const result = await manager.detect(image, request.query.threshold === undefined ? {} : { scoreThreshold: request.query.threshold });
    observeResult(metrics, request, result);
    const render = chooseRenderFormat(request.query.render, request.headers.accept);
    return render ? sendRendered(reply, image, result, render, { limitPixels: options.maxImagePixels, slots: renderSlots, metrics }) : result;
  }

  app.post<{ Querystring: DetectQuery }>(
    '/v1/detect',
    {
      schema: {
        operationId: 'detectObjects',
        summary: 'Detect objects in an image with the default model',
        description: `${DETECT_DESCRIPTION} The default model answers: INFERENCE_DEFAULT_MODEL, else the serving index's defaultModel, else the first model served by name.`,
        tags: ['inference'],
        querystring: requestSchema(DetectQuerySchema),
        body: imageBody(IMAGE_CONTENT_TYPES),
        response: { 200: detectResponse, ...imageErrorResponses },
      },
    },
    (request, reply) => detect(request, reply, undefined),
  );

  app.post<{ Querystring: DetectQuery; Params: ModelRouteParams }>(
    '/v1/models/:name/detect',
    {
      schema: {
        operationId: 'detectObjectsWithModel',
        summary: 'Detect objects in an image with a named model',
        description: `${DETECT_DESCRIPTION} The model named in the path answers; a name no served model has is a 404 MODEL_NOT_FOUND.`,
        tags: ['inference'],
        params: requestSchema(ModelRouteParamsSchema),
        querystring: requestSchema(DetectQuerySchema),
        body: imageBody(IMAGE_CONTENT_TYPES),
        response: { 200: detectResponse, 404: modelNotFoundResponse, ...imageErrorResponses },
      },
    },
    (request, reply) => detect(request, reply, request.params.name),
  );

  app.post(
    '/score',
    {
      schema: {
        operationId: 'scoreSeedCompatible',
        summary: "Seed-compatible detection with the default model: the reference sample's Class, Score and Location fields",
        description: 'Location is [top, left, bottom, right], normalised; only entries scoring above INFERENCE_SEED_SCORE_THRESHOLD are listed.',
        tags: ['inference'],
        body: imageBody(IMAGE_CONTENT_TYPES),
        response: { 200: responseSchema(z.array(SeedDetectionSchema), 'The detections above the seed threshold'), ...imageErrorResponses },
      },
    },
    async (request) => {
      const manager = models.resolve(undefined);
      const result = await manager.detect(await readImage(request, options.maxBodyBytes), { scoreThreshold: options.seedScoreThreshold });
      observeResult(metrics, request, result);
      return toSeedDetections(result, options.seedScoreThreshold);
    },
  );
}
