import { z } from 'zod';
import { ModelNameSchema } from '@edge-ml/contracts';
import { EdgeConfigSchema } from '@edge-ml/edge-kit';
import type { HttpLimits } from './http/connection-limits.js';
import { MULTIPART_OVERHEAD_BYTES } from './http/read-image.js';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The inference module's environment. Defaults were chosen by measurement on a 2-core device (see docs/benchmarks.md). */
export const InferenceConfigSchema = EdgeConfigSchema.extend({
  INFERENCE_HOST: z.string().default('0.0.0.0'),
  INFERENCE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  STORAGE_ROOT: z.string().default('/iotedge/storage'),
  /** Unset: from the core count (worker/thread-budget.ts), as are the three below. */
  INFERENCE_WORKERS: z.coerce.number().int().positive().optional(),
  INFERENCE_THREADS_PER_WORKER: z.coerce.number().int().positive().optional(),
  /** Requests a worker holds at once (its next decode overlaps its inference when above 1). */
  INFERENCE_JOBS_PER_WORKER: z.coerce.number().int().positive().optional(),
  /** libuv's pool size, where sharp decodes; applied at start-up unless UV_THREADPOOL_SIZE is set. */
  INFERENCE_DECODE_THREADS: z.coerce.number().int().positive().optional(),
  INFERENCE_MAX_QUEUE: z.coerce.number().int().nonnegative().default(32),
  INFERENCE_MAX_BODY_BYTES: positiveInt(20 * 1024 * 1024),
  INFERENCE_MAX_IMAGE_PIXELS: positiveInt(40_000_000),
  INFERENCE_MAX_IMAGE_SIDE: positiveInt(16_384),
  /** `ignore`: pixel values as stored, as OpenCV and PIL read them (what models are trained on); `convert`: through the embedded ICC profile to sRGB. */
  INFERENCE_COLOR_PROFILES: z.enum(['ignore', 'convert']).default('ignore'),
  INFERENCE_ONNX_EXECUTION_PROVIDERS: z
    .string()
    .default('cpu')
    .transform((value) => value.split(',').map((provider) => provider.trim().toLowerCase()).filter(Boolean)),
  INFERENCE_SEED_SCORE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.5),
  /**
   * A request's headers and body must arrive within this; a slower one gets 408 and its connection is closed. 60 s: a
   * 2 MB image at 64 KiB/s takes 31 s (slow bodies no longer hold the image gate for it: INFERENCE_MIN_BODY_RATE).
   */
  INFERENCE_REQUEST_TIMEOUT_MS: positiveInt(60_000),
  /** A request's headers must arrive within this (a connection that sends nothing is closed after it too). */
  INFERENCE_HEADERS_TIMEOUT_MS: positiveInt(10_000),
  /** An idle keep-alive connection is closed after this. */
  INFERENCE_KEEP_ALIVE_TIMEOUT_MS: positiveInt(5_000),
  /** Open connections at most; beyond, idle and stalled connections close first and health probes never (http/connection-shedding.ts). */
  INFERENCE_MAX_CONNECTIONS: positiveInt(256),
  /** Image requests (receiving, queued or running) at once; one more gets 503 before its body is read. */
  INFERENCE_MAX_IMAGE_REQUESTS: positiveInt(64),
  /**
   * Bytes that the bodies of the image requests in progress may take at once: each reserves its Content-Length (a
   * chunked one the body limit) until its response ends, and one that would pass the budget gets 503 before its body
   * is read. 128 MiB: the 64 image requests with bodies of 2 MiB (a 1080p JPEG is 0.2-1 MB), or six at the 20 MiB
   * body limit; an eighth of a 1 GiB device.
   */
  INFERENCE_BODY_BUDGET_BYTES: positiveInt(128 * 1024 * 1024),
  /**
   * Bytes per second an admitted image request's body must average once INFERENCE_BODY_GRACE_MS has passed; a slower
   * one gets 408 REQUEST_BODY_TOO_SLOW and its connection is closed. 0: no minimum (Kestrel's default is 240 B/s after 5 s).
   */
  INFERENCE_MIN_BODY_RATE: z.coerce.number().int().nonnegative().default(240),
  INFERENCE_BODY_GRACE_MS: positiveInt(5_000),
  /** How often models/serving.json (or the legacy pointers) is read besides the fs.watch on models/, so a lost message or event cannot strand the module. */
  INFERENCE_POINTER_POLL_MS: positiveInt(15_000),
  /** The model `/v1/detect`, `/score` and unnamed edge images use, whenever it serves; unset: the serving index's defaultModel. */
  INFERENCE_DEFAULT_MODEL: z.preprocess((value) => (value === '' ? undefined : value), ModelNameSchema.optional()),
  /**
   * MiB that loaded models may take, by the estimate of serving/memory-budget.ts; a model that would exceed it is
   * refused (MODEL_MEMORY_BUDGET_EXCEEDED). `auto`: 80% of the container's cgroup memory limit less the memory at
   * start-up, off when there is no limit; `off`: no budget.
   */
  INFERENCE_MEMORY_BUDGET_MB: z
    .string()
    .default('auto')
    .pipe(z.union([z.enum(['auto', 'off']), z.string().regex(/^[1-9][0-9]*$/, 'a whole number of MiB, auto or off').transform(Number)])),
  /** The web console at `/` (static files on the API's port). */
  INFERENCE_CONSOLE: z.enum(['on', 'off']).default('on'),
}).refine((config) => config.INFERENCE_HEADERS_TIMEOUT_MS <= config.INFERENCE_REQUEST_TIMEOUT_MS, {
  message: 'INFERENCE_HEADERS_TIMEOUT_MS must not exceed INFERENCE_REQUEST_TIMEOUT_MS',
  path: ['INFERENCE_HEADERS_TIMEOUT_MS'],
}).refine((config) => config.INFERENCE_BODY_BUDGET_BYTES >= config.INFERENCE_MAX_BODY_BYTES + MULTIPART_OVERHEAD_BYTES, {
  message: `INFERENCE_BODY_BUDGET_BYTES must be at least INFERENCE_MAX_BODY_BYTES + ${MULTIPART_OVERHEAD_BYTES} (a multipart form's fields), so that a body at the limit fits`,
  path: ['INFERENCE_BODY_BUDGET_BYTES'],
}).refine((config) => config.INFERENCE_MAX_IMAGE_REQUESTS < config.INFERENCE_MAX_CONNECTIONS, {
  message: 'INFERENCE_MAX_IMAGE_REQUESTS must be below INFERENCE_MAX_CONNECTIONS, so that health and metrics keep connections of their own',
  path: ['INFERENCE_MAX_IMAGE_REQUESTS'],
});
export type InferenceConfig = z.output<typeof InferenceConfigSchema>;

/** The HTTP server's limits from the environment. */
export function httpLimits(config: InferenceConfig): HttpLimits {
  return {
    requestTimeoutMs: config.INFERENCE_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.INFERENCE_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: config.INFERENCE_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: config.INFERENCE_MAX_CONNECTIONS,
    maxImageRequests: config.INFERENCE_MAX_IMAGE_REQUESTS,
    bodyBudgetBytes: config.INFERENCE_BODY_BUDGET_BYTES,
    minBodyBytesPerSecond: config.INFERENCE_MIN_BODY_RATE,
    bodyGraceMs: config.INFERENCE_BODY_GRACE_MS,
  };
}
