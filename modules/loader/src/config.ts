import { z } from 'zod';
import { loadConfig } from '@edge-ml/edge-kit';

export const LoaderConfigSchema = z.object({
  STORAGE_ROOT: z.string().default('/iotedge/storage'),
  LOADER_RETRY_INITIAL_MS: z.coerce.number().int().positive().default(2_000),
  LOADER_RETRY_MAX_MS: z.coerce.number().int().positive().default(300_000),
  LOADER_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Caps download bandwidth on links shared with telemetry; unset means no cap. */
  LOADER_MAX_BYTES_PER_SEC: z.coerce.number().int().positive().optional(),
  /** Desired properties as JSON, for running without edgeHub (tools, tests). */
  LOADER_DESIRED_JSON: z.string().optional(),
  EDGE_MODE: z.enum(['auto', 'on', 'off']).default('auto'),
  EDGE_TRANSPORT: z.enum(['mqtt', 'amqp', 'mqtt-ws', 'amqp-ws']).default('mqtt'),
  /** Twin requests that take longer are treated as lost (the SDK sets no timeout). */
  EDGE_TWIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** How often the full twin is fetched to check the connection is alive. */
  EDGE_LIVENESS_INTERVAL_MS: z.coerce.number().int().positive().default(300_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type LoaderConfig = z.output<typeof LoaderConfigSchema>;

export function loadLoaderConfig(env: NodeJS.ProcessEnv = process.env): LoaderConfig {
  return loadConfig(LoaderConfigSchema, env);
}
