import { z } from 'zod';
import { ModelFamilySchema, ModelFormatSchema } from './model-format.js';

export const BoxSchema = z.object({ xmin: z.number(), ymin: z.number(), xmax: z.number(), ymax: z.number() });
export type Box = z.infer<typeof BoxSchema>;

export const DetectionSchema = z.object({
  label: z.string(),
  classId: z.number().int(),
  score: z.number(),
  /** Normalised to the original image: 0..1 on both axes. */
  box: BoxSchema,
  /** In pixels of the original image (after EXIF orientation). */
  boxPixels: BoxSchema,
});
export type Detection = z.infer<typeof DetectionSchema>;

export const ClassificationSchema = z.object({ label: z.string(), classId: z.number().int(), score: z.number() });
export type Classification = z.infer<typeof ClassificationSchema>;

export const ModelRefSchema = z.object({
  name: z.string(),
  version: z.string(),
  format: ModelFormatSchema,
  family: ModelFamilySchema,
});
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const StageTimingsSchema = z.object({
  decodeMs: z.number(),
  queueMs: z.number(),
  preprocessMs: z.number(),
  inferenceMs: z.number(),
  postprocessMs: z.number(),
  totalMs: z.number(),
});
export type StageTimings = z.infer<typeof StageTimingsSchema>;

/** The inference API's detection response, also the body of the `detections` output message. */
export const DetectionResultSchema = z.object({
  model: ModelRefSchema,
  image: z.object({ width: z.number().int(), height: z.number().int() }),
  detections: z.array(DetectionSchema),
  classifications: z.array(ClassificationSchema),
  timings: StageTimingsSchema,
});
export type DetectionResult = z.infer<typeof DetectionResultSchema>;

/** One entry of the seed-compatible response: Location is [top, left, bottom, right], normalised. */
export const SeedDetectionSchema = z.object({
  Class: z.string(),
  Score: z.number(),
  Location: z.tuple([z.number(), z.number(), z.number(), z.number()]),
});
export type SeedDetection = z.infer<typeof SeedDetectionSchema>;
