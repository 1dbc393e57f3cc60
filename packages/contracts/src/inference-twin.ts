import { z } from 'zod';
import { ModelFamilySchema, ModelFormatSchema } from './model-format.js';
import { ActivationTriggerSchema } from './model-status.js';

export const ActiveModelReportSchema = z.object({
  name: z.string(),
  version: z.string(),
  format: ModelFormatSchema,
  family: ModelFamilySchema,
  sha256: z.string().optional(),
  activatedAt: z.iso.datetime(),
});
export type ActiveModelReport = z.infer<typeof ActiveModelReportSchema>;

/**
 * The outcome of one activation attempt, as the inference module reports it (reported `lastActivation`, `/v1/models`).
 * `sha256` is missing only for a seed announcement whose model file could not be read. In reported properties the
 * optional fields are sent as null when they do not apply, since the hub merges a patch into what it holds.
 */
export const ActivationReportSchema = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string().nullish(),
  outcome: z.enum(['accepted', 'rejected']),
  trigger: ActivationTriggerSchema,
  error: z.object({ code: z.string(), message: z.string() }).nullish(),
  loadMs: z.number().nonnegative().nullish(),
  warmupMs: z.number().nonnegative().nullish(),
  acceptance: z.object({ samples: z.number().int().nonnegative(), passed: z.number().int().nonnegative() }).nullish(),
  at: z.iso.datetime(),
});
export type ActivationReport = z.infer<typeof ActivationReportSchema>;

/**
 * One served model in the inference module's reported `models` map (by twinKeyOf its name); null for a model no longer served. The
 * members are nullish: the hub's merge patch deletes a member sent as null, so a reader finds it absent.
 */
export const ServedModelReportSchema = z.object({
  activeModel: ActiveModelReportSchema.nullish(),
  lastActivation: ActivationReportSchema.nullish(),
});
export type ServedModelReport = z.infer<typeof ServedModelReportSchema>;

/** A failed activation: its code and message, the version, and when. */
export const SwapErrorSchema = z.object({ code: z.string(), message: z.string(), name: z.string(), version: z.string(), at: z.iso.datetime() });
export type SwapError = z.infer<typeof SwapErrorSchema>;

/**
 * Reported properties of the inference module twin. The module sends null where nothing applies (no model serving, no
 * failure); the hub's merge deletes a key patched to null, so a reader finds such a key absent: both mean none.
 */
export const InferenceReportedSchema = z.object({
  activeModel: ActiveModelReportSchema.nullish(),
  lastSwapError: SwapErrorSchema.nullish(),
  swapCount: z.number().int().nonnegative(),
  /** The last activation attempt, accepted or rejected (null before the first); absent from older modules. */
  lastActivation: ActivationReportSchema.nullable().optional(),
  /** Every model served, by twin key (twinKeyOf its name; `activeModel` above is the default model's); absent from older modules. */
  models: z.record(z.string(), ServedModelReportSchema.nullable()).optional(),
  /** The model /v1/detect serves. */
  defaultModel: z.string().nullable().optional(),
});
export type InferenceReported = z.infer<typeof InferenceReportedSchema>;
