import { createLogger, type EdgeClient } from '@edge-ml/edge-kit';
import { InferenceConfigSchema, type InferenceConfig } from '../src/config.js';
import { createInferenceService } from '../src/service.js';

/** A real inference service (worker threads, real runtimes) on a test storage root, without edgeHub unless given a client. */
export async function startService(storageRoot: string, overrides: Partial<Record<keyof InferenceConfig, string>> = {}, edgeClient: EdgeClient | null = null) {
  const config = InferenceConfigSchema.parse({ STORAGE_ROOT: storageRoot, EDGE_MODE: 'off', INFERENCE_WORKERS: '2', ...overrides });
  return createInferenceService({ config, logger: createLogger({ name: 'inference-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' }), edgeClient });
}
