import { z } from 'zod';
import { EdgeConfigSchema } from '@edge-ml/edge-kit';
import { DEFAULT_STALL_RULE, type StallRule } from './download/stall-rule.js';

export const LoaderConfigSchema = EdgeConfigSchema.extend({
  STORAGE_ROOT: z.string().default('/iotedge/storage'),
  LOADER_RETRY_INITIAL_MS: z.coerce.number().int().positive().default(2_000),
  LOADER_RETRY_MAX_MS: z.coerce.number().int().positive().default(300_000),
  LOADER_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** A body that averages less over LOADER_STALL_WINDOW_MS fails as stalled and resumes (download/stall-rule.ts); 0: no minimum. */
  LOADER_MIN_BYTES_PER_SEC: z.coerce.number().int().nonnegative().default(DEFAULT_STALL_RULE.minBytesPerSecond),
  LOADER_STALL_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_STALL_RULE.windowMs),
  /** Caps download bandwidth on links shared with telemetry; unset means no cap. */
  LOADER_MAX_BYTES_PER_SEC: z.coerce.number().int().positive().optional(),
  /** Desired properties as JSON, for running without edgeHub (tools, tests). */
  LOADER_DESIRED_JSON: z.string().optional(),
});
export type LoaderConfig = z.output<typeof LoaderConfigSchema>;

/** The stall rule every transfer of the loader runs under. */
export const stallRuleOf = (config: LoaderConfig): StallRule => ({ minBytesPerSecond: config.LOADER_MIN_BYTES_PER_SEC, windowMs: config.LOADER_STALL_WINDOW_MS });

