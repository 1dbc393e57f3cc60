import { z } from 'zod';
import { ModelFamilySchema } from './model-format.js';

/** How an image becomes the model's input tensor. Every field is optional: missing ones come from the family's defaults and the model's signature. */
export const InputSpecSchema = z.strictObject({
  width: z.number().int().positive().max(8192).optional(),
  height: z.number().int().positive().max(8192).optional(),
  layout: z.enum(['nchw', 'nhwc']).optional(),
  colorOrder: z.enum(['rgb', 'bgr']).optional(),
  resize: z.enum(['letterbox', 'stretch']).optional(),
  /** Where a letterboxed image sits on its canvas: YOLOX pads bottom-right (top-left placement), the seed's Tiny YOLOv3 centres. */
  letterboxPlacement: z.enum(['top-left', 'center']).optional(),
  padValue: z.number().min(0).max(255).optional(),
  /** value = (pixel * scale - mean[c]) / std[c], applied to float inputs only. */
  scale: z.number().positive().optional(),
  mean: z.tuple([z.number(), z.number(), z.number()]).optional(),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).optional(),
  /**
   * How pixels are resampled: `opencv-linear` is `cv2.resize(..., INTER_LINEAR)` byte for byte (two taps, no
   * antialiasing); `antialiased-linear` is sharp's linear kernel, which widens with the shrink factor.
   */
  interpolation: z.enum(['opencv-linear', 'antialiased-linear']).optional(),
  /** Letterbox content size: `floor` is `int(size * ratio)` with boxes divided by the ratio (YOLOX's preproc); `round` rounds it and maps boxes by content/original. */
  letterboxRounding: z.enum(['floor', 'round']).optional(),
});
export type InputSpec = z.infer<typeof InputSpecSchema>;

export const LabelFormatSchema = z.enum(['labelmap', 'coco-labels', 'plain']);
export type LabelFormat = z.infer<typeof LabelFormatSchema>;

/**
 * One acceptance sample: an image inside the package and the labels the model must find in it (each with a score of
 * at least `minScore` when set, else above the model's own threshold). Detectors match detections, classifiers their
 * top-k classes.
 */
export const AcceptanceSampleSchema = z.strictObject({
  /** Image file inside the package, relative to model.json: a plain name or `folder/name`, no `..`. */
  image: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be a file name inside the package (letters, digits, ".", "_", "-", "/")')
    .refine((value) => value.split('/').every((segment) => segment !== '..' && segment !== '.'), 'must not contain "." or ".." segments'),
  labels: z.array(z.string().min(1).max(128)).min(1).max(32),
  minScore: z.number().min(0).max(1).optional(),
});
export type AcceptanceSample = z.infer<typeof AcceptanceSampleSchema>;

/** Samples the inference module runs after warm-up; a model that misses a label is rejected (MODEL_ACCEPTANCE_FAILED). */
export const AcceptanceSchema = z.strictObject({
  samples: z.array(AcceptanceSampleSchema).min(1).max(16),
});
export type Acceptance = z.infer<typeof AcceptanceSchema>;

/** `model.json`, the optional descriptor inside a model package. */
export const ModelDescriptorSchema = z.strictObject({
  schemaVersion: z.literal(1).default(1),
  name: z.string().min(1).max(128).optional(),
  version: z.string().min(1).max(64).optional(),
  family: ModelFamilySchema.optional(),
  /** Model file name inside the package directory. */
  model: z.string().min(1).max(255).optional(),
  /** Labels file name inside the package directory. */
  labels: z.string().min(1).max(255).optional(),
  labelFormat: LabelFormatSchema.optional(),
  input: InputSpecSchema.optional(),
  scoreThreshold: z.number().min(0).max(1).optional(),
  iouThreshold: z.number().min(0).max(1).optional(),
  maxDetections: z.number().int().positive().max(1000).optional(),
  topK: z.number().int().positive().max(100).optional(),
  acceptance: AcceptanceSchema.optional(),
  /** Non-maximum suppression across all classes (`class-agnostic`) or within each class (`per-class`); for decoders that suppress in code. */
  nmsMode: z.enum(['class-agnostic', 'per-class']).optional(),
  /** Box areas for the NMS overlap: `continuous` (x2 - x1) or `pixel-inclusive` (x2 - x1 + 1, as YOLOX's numpy demo). */
  nmsBoxArea: z.enum(['continuous', 'pixel-inclusive']).optional(),
});
export type ModelDescriptor = z.infer<typeof ModelDescriptorSchema>;

export const MODEL_DESCRIPTOR_FILE = 'model.json';
