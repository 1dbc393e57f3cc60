import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { InferenceMetrics } from '../metrics.js';
import type { ModelManager } from '../serving/model-manager.js';
import type { ServingState } from '../serving/serving-state.js';
import { installErrorHandler } from './error-handler.js';
import './served-model.js';
import { IMAGE_CONTENT_TYPES } from './read-image.js';
import { detectRoutes } from './routes/detect-routes.js';
import { statusRoutes } from './routes/status-routes.js';

export interface AppOptions {
  manager: ModelManager;
  state: ServingState;
  metrics: InferenceMetrics;
  maxBodyBytes: number;
  seedScoreThreshold: number;
  fastify?: FastifyServerOptions;
}

/** The inference HTTP API as a Fastify instance that is not listening yet; tests use `inject`, the server listens. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: options.maxBodyBytes, ...options.fastify });
  app.decorateRequest('servedModel', undefined);
  // No route takes JSON or text: without their parsers, such bodies get a 415 instead of reaching a handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(IMAGE_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: options.maxBodyBytes }, (_request, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: options.maxBodyBytes, files: 1, fields: 10 }, throwFileSizeLimit: true });
  await app.register(swagger, {
    openapi: {
      info: { title: 'edge-model-serving inference API', version: '1.0.0', description: 'Object detection with atomic model hot swap' },
      tags: [{ name: 'inference' }, { name: 'models' }, { name: 'health' }],
    },
  });
  installErrorHandler(app, options.metrics);
  app.addHook('onResponse', async (request, reply) => {
    const served = request.servedModel ?? { model: '', version: '' };
    options.metrics.requests.inc({ route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode), ...served });
  });
  await app.register(detectRoutes, { manager: options.manager, metrics: options.metrics, seedScoreThreshold: options.seedScoreThreshold });
  await app.register(statusRoutes, { state: options.state, metrics: options.metrics });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
