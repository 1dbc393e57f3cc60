import path from 'node:path';
import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { ANNOUNCED_MODEL_POINTER } from '@edge-ml/contracts';
import { createEdgeClient, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { httpLimits, type InferenceConfig } from './config.js';
import { wireInferenceEdge } from './edge/inference-edge.js';
import { withRelativeStoragePaths } from './edge/relative-storage-paths.js';
import { buildApp } from './http/app.js';
import { createMetrics, type InferenceMetrics } from './metrics.js';
import { ActivationController } from './serving/activation-controller.js';
import { ModelManager } from './serving/model-manager.js';
import { PointerWatcher } from './serving/pointer-watcher.js';
import { ServingState } from './serving/serving-state.js';
import { planThreadBudget } from './worker/thread-budget.js';
import { WorkerPool } from './worker/worker-pool.js';

export interface InferenceService {
  app: FastifyInstance;
  manager: ModelManager;
  controller: ActivationController;
  pool: WorkerPool;
  state: ServingState;
  metrics: InferenceMetrics;
  edge?: EdgeClient;
  /** Stops accepting requests, lets those in flight finish, then stops the workers and the edge client. */
  close(): Promise<void>;
}

export interface CreateServiceOptions {
  config: InferenceConfig;
  logger: Logger;
  /** Overrides how the edge client is made; by default the Azure adapter when the IoT Edge environment is present. */
  edgeClient?: EdgeClient | null;
}

export async function createInferenceService({ config, logger, edgeClient }: CreateServiceOptions): Promise<InferenceService> {
  const budget = planThreadBudget(availableParallelism(), config);
  logger.info({ ...budget, cores: availableParallelism(), uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (libuv default)' }, 'inference.threads');
  const pool = new WorkerPool({ size: budget.workers, jobsPerWorker: budget.jobsPerWorker, maxQueue: config.INFERENCE_MAX_QUEUE, logger: logger.child({ component: 'inference.pool' }) });
  await pool.start();
  const metrics = createMetrics(() => pool.queueLength);
  const manager = new ModelManager({
    storageRoot: config.STORAGE_ROOT,
    pool,
    runtime: { executionProviders: config.INFERENCE_ONNX_EXECUTION_PROVIDERS, threads: budget.threadsPerWorker },
    logger: logger.child({ component: 'inference.models' }),
    decode: { limitPixels: config.INFERENCE_MAX_IMAGE_PIXELS, maxSidePixels: config.INFERENCE_MAX_IMAGE_SIDE, colorProfiles: config.INFERENCE_COLOR_PROFILES },
  });
  const controller = new ActivationController({ manager, storageRoot: config.STORAGE_ROOT, logger: logger.child({ component: 'inference.activation' }) });
  const state = new ServingState(manager, metrics, controller);
  const app = await buildApp({
    manager,
    state,
    metrics,
    maxBodyBytes: config.INFERENCE_MAX_BODY_BYTES,
    seedScoreThreshold: config.INFERENCE_SEED_SCORE_THRESHOLD,
    storageRoot: config.STORAGE_ROOT,
    limits: httpLimits(config),
    maxImagePixels: config.INFERENCE_MAX_IMAGE_PIXELS,
    console: config.INFERENCE_CONSOLE === 'on',
    fastify: { loggerInstance: logger.child({ component: 'inference.http' }) },
  });

  const edge = edgeClient === undefined ? createEdgeClient(config, logger) : (edgeClient ?? undefined);
  if (edge) wireInferenceEdge({ client: await withRelativeStoragePaths(edge, config.STORAGE_ROOT), manager, controller, state, logger });

  // The last-known-good first, then a newer announced version; afterwards the announced pointer is watched.
  await controller.reconcileAtStartup();
  const pointerFile = path.join(config.STORAGE_ROOT, ANNOUNCED_MODEL_POINTER);
  const watcher = new PointerWatcher({
    directory: path.dirname(pointerFile),
    fileName: path.basename(pointerFile),
    pollMs: config.INFERENCE_POINTER_POLL_MS,
    check: () => controller.checkPointer(),
    logger: logger.child({ component: 'inference.pointer' }),
  });
  watcher.start();

  return {
    app,
    manager,
    controller,
    pool,
    state,
    metrics,
    ...(edge ? { edge } : {}),
    async close() {
      await app.close();
      await watcher.stop();
      await edge?.close();
      await manager.close();
      await pool.close();
    },
  };
}
