import { z } from 'zod';
import { EdgeConfigSchema } from '@edge-ml/edge-kit';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The inference module's environment. Defaults were chosen by measurement on a 2-core device (see docs/benchmarks.md). */
export const InferenceConfigSchema = EdgeConfigSchema.extend({
  INFERENCE_HOST: z.string().default('0.0.0.0'),
  INFERENCE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  STORAGE_ROOT: z.string().default('/iotedge/storage'),
  INFERENCE_WORKERS: positiveInt(2),
  INFERENCE_THREADS_PER_WORKER: positiveInt(1),
  INFERENCE_MAX_QUEUE: z.coerce.number().int().nonnegative().default(32),
  INFERENCE_MAX_BODY_BYTES: positiveInt(20 * 1024 * 1024),
  INFERENCE_MAX_IMAGE_PIXELS: positiveInt(40_000_000),
  /** `ignore`: pixel values as stored, as OpenCV and PIL read them (what models are trained on); `convert`: through the embedded ICC profile to sRGB. */
  INFERENCE_COLOR_PROFILES: z.enum(['ignore', 'convert']).default('ignore'),
  INFERENCE_ONNX_EXECUTION_PROVIDERS: z
    .string()
    .default('cpu')
    .transform((value) => value.split(',').map((provider) => provider.trim().toLowerCase()).filter(Boolean)),
  INFERENCE_SEED_SCORE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.5),
});
export type InferenceConfig = z.output<typeof InferenceConfigSchema>;

