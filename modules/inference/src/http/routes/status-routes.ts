import type { FastifyInstance } from 'fastify';
import type { InferenceMetrics } from '../../metrics.js';
import type { ModelRegistry } from '../../serving/model-registry.js';
import type { ServingState } from '../../serving/serving-state.js';
import { LivenessResponseSchema, ModelsResponseSchema, ReadinessResponseSchema } from '@edge-ml/contracts';
import { commonErrorResponses, notReadyResponse, responseSchema, textResponseSchema } from '../schemas.js';

export interface StatusRoutesOptions {
  state: ServingState;
  models: ModelRegistry;
  metrics: InferenceMetrics;
  /** Rewrites a body before it leaves the device (absolute storage paths in error messages become relative). */
  outside: <T>(value: T) => T;
}

export async function statusRoutes(app: FastifyInstance, options: StatusRoutesOptions): Promise<void> {
  const { state, metrics } = options;

  app.get('/v1/models', {
    schema: {
      operationId: 'getModels',
      summary: 'Every served model and the default one, recent swaps, the last activation attempts with their outcomes, and the last activation error',
      tags: ['models'],
      response: { 200: responseSchema(ModelsResponseSchema, 'What serves and what happened to the recent activation attempts'), ...commonErrorResponses },
    },
  }, async () => options.outside(state.snapshot()));

  app.get('/health/live', {
    schema: {
      operationId: 'getLiveness',
      summary: 'Liveness: the process answers',
      tags: ['health'],
      response: { 200: responseSchema(LivenessResponseSchema, 'The process answers'), ...commonErrorResponses },
    },
  }, async () => ({ status: 'ok' as const }));

  app.get('/health/ready', {
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness: at least one model is loaded and serving',
      tags: ['health'],
      response: { 200: responseSchema(ReadinessResponseSchema, 'At least one model is loaded and serving'), 503: notReadyResponse, ...commonErrorResponses },
    },
  }, async (_request, reply) => {
    const defaultName = options.models.defaultName();
    const active = defaultName === undefined ? undefined : options.models.get(defaultName)?.active;
    if (!active) return reply.status(503).send({ error: 'NO_MODEL', message: 'no model is loaded yet', statusCode: 503 });
    const serving = options.models.servingNames().flatMap((name) => {
      const model = options.models.get(name)?.active;
      return model ? [`${model.name}@${model.version}`] : [];
    });
    return { status: 'ready' as const, model: `${active.name}@${active.version}`, models: serving };
  });

  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      tags: ['health'],
      response: {
        200: textResponseSchema('text/plain', 'The Prometheus text exposition format 0.0.4'),
        ...commonErrorResponses,
      },
    },
  }, async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
