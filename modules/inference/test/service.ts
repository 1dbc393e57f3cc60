import { createLogger, type EdgeClient } from '@edge-ml/edge-kit';
import type { ActiveModel } from '../src/serving/model-manager.js';
import { InferenceConfigSchema, type InferenceConfig } from '../src/config.js';
import { createInferenceService } from '../src/service.js';

/** A real inference service (worker threads, real runtimes) on a test storage root, without edgeHub unless given a client. */
export async function startService(storageRoot: string, overrides: Partial<Record<keyof InferenceConfig, string>> = {}, edgeClient: EdgeClient | null = null) {
  const config = InferenceConfigSchema.parse({ STORAGE_ROOT: storageRoot, EDGE_MODE: 'off', INFERENCE_WORKERS: '2', ...overrides });
  return createInferenceService({ config, logger: createLogger({ name: 'inference-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' }), edgeClient });
}

/** The version the default model serves (what /v1/detect answers with), if any. */
export function defaultActive(service: { models: { defaultName(): string | undefined; get(name: string): { active: ActiveModel | undefined } | undefined } }): ActiveModel | undefined {
  const name = service.models.defaultName();
  return name === undefined ? undefined : service.models.get(name)?.active;
}
