import { z } from 'zod';
import { ModelFamilySchema, ModelFormatSchema } from './model-format.js';

export const ActiveModelReportSchema = z.object({
  name: z.string(),
  version: z.string(),
  format: ModelFormatSchema,
  family: ModelFamilySchema,
  sha256: z.string().optional(),
  activatedAt: z.iso.datetime(),
});
export type ActiveModelReport = z.infer<typeof ActiveModelReportSchema>;

/** Reported properties of the inference module twin. */
export const InferenceReportedSchema = z.object({
  activeModel: ActiveModelReportSchema.nullable(),
  lastSwapError: z
    .object({ code: z.string(), message: z.string(), name: z.string(), version: z.string(), at: z.iso.datetime() })
    .nullable(),
  swapCount: z.number().int().nonnegative(),
});
export type InferenceReported = z.infer<typeof InferenceReportedSchema>;
