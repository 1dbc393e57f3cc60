import type { FastifyInstance } from 'fastify';
import type { InferenceMetrics } from '../../metrics.js';
import type { ServingState } from '../../serving/serving-state.js';
import { ErrorResponseSchema } from '../schemas.js';

const ActiveModelSchema = {
  type: ['object', 'null'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    format: { type: 'string' },
    family: { type: 'string' },
    runtime: { type: 'string' },
    sha256: { type: 'string' },
    activatedAt: { type: 'string' },
    loadMs: { type: 'number', description: 'loading the model in every worker' },
    warmupMs: { type: 'number', description: 'the warm-up inference after loading' },
    scoreThreshold: { type: 'number', description: 'the score threshold /v1/detect applies unless a request sets one' },
    input: { type: 'object', additionalProperties: true },
  },
} as const;

const ActivationSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    sha256: { type: 'string' },
    outcome: { type: 'string', enum: ['accepted', 'rejected'] },
    trigger: { type: 'string', enum: ['message', 'pointer', 'startup'] },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    loadMs: { type: 'number' },
    warmupMs: { type: 'number' },
    acceptance: { type: 'object', properties: { samples: { type: 'integer' }, passed: { type: 'integer' } } },
    at: { type: 'string' },
  },
} as const;

export interface StatusRoutesOptions {
  state: ServingState;
  metrics: InferenceMetrics;
  /** Rewrites a body before it leaves the device (absolute storage paths in error messages become relative). */
  outside: <T>(value: T) => T;
}

export async function statusRoutes(app: FastifyInstance, options: StatusRoutesOptions): Promise<void> {
  const { state, metrics } = options;

  app.get('/v1/models', {
    schema: {
      summary: 'The active model, recent swaps, the last activation attempts with their outcomes, and the last activation error',
      tags: ['models'],
      response: {
        200: {
          type: 'object',
          properties: {
            active: ActiveModelSchema,
            history: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, activatedAt: { type: 'string' } } } },
            lastError: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, at: { type: 'string' } } },
            swapCount: { type: 'integer' },
            lastActivation: { anyOf: [ActivationSchema, { type: 'null' }] },
            activations: { type: 'array', items: ActivationSchema },
          },
        },
      },
    },
  }, async () => options.outside(state.snapshot()));

  app.get('/health/live', { schema: { summary: 'Liveness: the process answers', tags: ['health'], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  app.get('/health/ready', {
    schema: {
      summary: 'Readiness: a model is loaded and serving',
      tags: ['health'],
      response: { 200: { type: 'object', properties: { status: { type: 'string' }, model: { type: 'string' } } }, 503: ErrorResponseSchema },
    },
  }, async (_request, reply) => {
    const active = state.snapshot().active;
    if (!active) return reply.status(503).send({ error: 'NO_MODEL', message: 'no model is loaded yet', statusCode: 503 });
    return { status: 'ready', model: `${active.name}@${active.version}` };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'], produces: ['text/plain'] } }, async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
