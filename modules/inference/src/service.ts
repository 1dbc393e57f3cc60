import path from 'node:path';
import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, SERVING_INDEX, type ActivationReport } from '@edge-ml/contracts';
import { createEdgeClient, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { httpLimits, type InferenceConfig } from './config.js';
import { wireInferenceEdge } from './edge/inference-edge.js';
import { withRelativeStoragePaths } from './edge/relative-storage-paths.js';
import { buildApp } from './http/app.js';
import { createMetrics, type InferenceMetrics } from './metrics.js';
import { MemoryBudget, readCgroupMemoryLimit, resolveBudgetBytes } from './serving/memory-budget.js';
import { ModelManager } from './serving/model-manager.js';
import { ModelRegistry } from './serving/model-registry.js';
import { BoundedMap } from './serving/outcome-cache.js';
import { PointerWatcher } from './serving/pointer-watcher.js';
import { ServingReconciler } from './serving/serving-reconciler.js';
import { ServingState } from './serving/serving-state.js';
import { planThreadBudget } from './worker/thread-budget.js';
import { WorkerPool } from './worker/worker-pool.js';

export interface InferenceService {
  app: FastifyInstance;
  /** Every served model name, each with its ModelManager and ActivationController. */
  models: ModelRegistry;
  reconciler: ServingReconciler;
  memory: MemoryBudget;
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
  const budgetBytes = resolveBudgetBytes(config.INFERENCE_MEMORY_BUDGET_MB, await readCgroupMemoryLimit(), process.memoryUsage.rss());
  const memory = new MemoryBudget(budgetBytes, pool.size);
  logger.info({ setting: config.INFERENCE_MEMORY_BUDGET_MB, budgetMB: budgetBytes === undefined ? null : Math.round(budgetBytes / 2 ** 20) }, 'inference.memory.budget');
  const managerLogger = logger.child({ component: 'inference.models' });
  const models = new ModelRegistry({
    createManager: () =>
      new ModelManager({
        storageRoot: config.STORAGE_ROOT,
        pool,
        runtime: { executionProviders: config.INFERENCE_ONNX_EXECUTION_PROVIDERS, threads: budget.threadsPerWorker },
        logger: managerLogger,
        decode: { limitPixels: config.INFERENCE_MAX_IMAGE_PIXELS, maxSidePixels: config.INFERENCE_MAX_IMAGE_SIDE, colorProfiles: config.INFERENCE_COLOR_PROFILES },
        memory,
      }),
    logger: logger.child({ component: 'inference.activation' }),
    outcomes: new BoundedMap<string, ActivationReport>(256),
    configuredDefault: config.INFERENCE_DEFAULT_MODEL,
  });
  const state = new ServingState(models, metrics, memory);
  const app = await buildApp({
    models,
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

  const reconciler = new ServingReconciler({ registry: models, storageRoot: config.STORAGE_ROOT, logger: logger.child({ component: 'inference.reconcile' }) });
  const edge = edgeClient === undefined ? createEdgeClient(config, logger) : (edgeClient ?? undefined);
  if (edge) wireInferenceEdge({ client: await withRelativeStoragePaths(edge, config.STORAGE_ROOT), models, state, logger, judgeMessage: (name) => reconciler.verdictForMessage(name) });

  // Each entry's last-known-good first, then a newer announced version; afterwards the index (or the legacy pointers) is watched.
  await reconciler.reconcileAtStartup();
  const indexFile = path.join(config.STORAGE_ROOT, SERVING_INDEX);
  const watcher = new PointerWatcher({
    directory: path.dirname(indexFile),
    fileNames: [SERVING_INDEX, ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER].map((file) => path.basename(file)),
    pollMs: config.INFERENCE_POINTER_POLL_MS,
    check: () => reconciler.check(),
    logger: logger.child({ component: 'inference.pointer' }),
  });
  watcher.start();

  return {
    app,
    models,
    reconciler,
    memory,
    pool,
    state,
    metrics,
    ...(edge ? { edge } : {}),
    async close() {
      await app.close();
      await watcher.stop();
      await edge?.close();
      await models.close();
      await pool.close();
    },
  };
}
