import { z } from 'zod';
import { loadConfig } from '@edge-ml/edge-kit';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The inference module's environment. Defaults were chosen by measurement on a 2-core device (see docs/benchmarks.md). */
export const InferenceConfigSchema = z.object({
  INFERENCE_HOST: z.string().default('0.0.0.0'),
  INFERENCE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  STORAGE_ROOT: z.string().default('/iotedge/storage'),
  INFERENCE_WORKERS: positiveInt(2),
  INFERENCE_THREADS_PER_WORKER: positiveInt(1),
  INFERENCE_MAX_QUEUE: z.coerce.number().int().nonnegative().default(32),
  INFERENCE_MAX_BODY_BYTES: positiveInt(20 * 1024 * 1024),
  INFERENCE_MAX_IMAGE_PIXELS: positiveInt(40_000_000),
  INFERENCE_ONNX_EXECUTION_PROVIDERS: z
    .string()
    .default('cpu')
    .transform((value) => value.split(',').map((provider) => provider.trim().toLowerCase()).filter(Boolean)),
  INFERENCE_SEED_SCORE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.5),
  /** auto: connect to edgeHub when the IoT Edge environment (or a connection string) is present. */
  EDGE_MODE: z.enum(['auto', 'on', 'off']).default('auto'),
  EDGE_TRANSPORT: z.enum(['mqtt', 'amqp', 'mqtt-ws', 'amqp-ws']).default('mqtt'),
  /** Twin requests that take longer are treated as lost (the SDK sets no timeout). */
  EDGE_TWIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** How often the full twin is fetched to check the connection is alive. */
  EDGE_LIVENESS_INTERVAL_MS: z.coerce.number().int().positive().default(300_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type InferenceConfig = z.output<typeof InferenceConfigSchema>;

export function loadInferenceConfig(env: NodeJS.ProcessEnv = process.env): InferenceConfig {
  return loadConfig(InferenceConfigSchema, env);
}

export function edgeEnvironmentPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.IOTEDGE_WORKLOADURI || env.EdgeHubConnectionString || env.IotHubConnectionString);
}
