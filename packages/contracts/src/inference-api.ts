import { z } from 'zod';
import { ActivationReportSchema, ActiveModelReportSchema, InferenceReportedSchema } from './inference-twin.js';
import { InputSpecSchema } from './model-descriptor.js';

/** The body of every error the inference API answers, from a route or from the server itself. */
export const ApiErrorSchema = z.object({
  error: z.string().meta({ description: 'stable error code, e.g. IMAGE_UNDECODABLE' }),
  message: z.string().meta({ description: 'what went wrong and what to send instead' }),
  statusCode: z.number().int().min(400).max(599),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

/** The image formats `POST /v1/detect` can answer with, detections drawn on the image. */
export const RenderFormatSchema = z.enum(['jpeg', 'png']);
export type RenderFormat = z.infer<typeof RenderFormatSchema>;

/** The query of `POST /v1/detect`. */
export const DetectQuerySchema = z.object({
  threshold: z.coerce.number().min(0).max(1).optional().meta({ description: "overrides the model's score threshold" }),
  render: RenderFormatSchema.optional().meta({ description: 'answer with the image and the detections drawn on it instead of JSON' }),
});
export type DetectQuery = z.infer<typeof DetectQuerySchema>;

const input = InputSpecSchema.shape;

/**
 * How the served model turns an image into its input tensor: `model.json`'s `input`, completed from the family and the
 * signature. Bounds are inclusive (`min(1)`, not `positive()`): the API serializes answers with a draft-7 serializer.
 */
export const ServedInputSpecSchema = z.object({
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  layout: input.layout.unwrap(),
  colorOrder: input.colorOrder.unwrap(),
  resize: input.resize.unwrap(),
  letterboxPlacement: input.letterboxPlacement.unwrap(),
  padValue: z.number(),
  dtype: z.enum(['uint8', 'float32']),
  scale: z.number(),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number(), z.number(), z.number()]),
  interpolation: input.interpolation.unwrap(),
  letterboxRounding: input.letterboxRounding.unwrap(),
});
export type ServedInputSpec = z.infer<typeof ServedInputSpecSchema>;

export const RuntimeNameSchema = z.enum(['onnxruntime', 'litert']);
export type RuntimeName = z.infer<typeof RuntimeNameSchema>;

/** The body of `GET /v1/models`: what serves, what served before, and what happened to the recent activation attempts. */
export const ModelsResponseSchema = z.object({
  active: ActiveModelReportSchema.extend({
    runtime: RuntimeNameSchema,
    sha256: z.string(),
    loadMs: z.number().meta({ description: 'loading the model in every worker' }),
    warmupMs: z.number().meta({ description: 'the warm-up inference after loading' }),
    scoreThreshold: z.number().meta({ description: 'the score threshold /v1/detect applies unless a request sets one' }),
    input: ServedInputSpecSchema,
  }).nullable(),
  history: z.array(z.object({ name: z.string(), version: z.string(), activatedAt: z.iso.datetime() })),
  lastError: InferenceReportedSchema.shape.lastSwapError,
  swapCount: z.number().int().nonnegative(),
  lastActivation: ActivationReportSchema.nullable(),
  activations: z.array(ActivationReportSchema),
});
export type ModelsResponse = z.infer<typeof ModelsResponseSchema>;

export const LivenessResponseSchema = z.object({ status: z.literal('ok') });
export type LivenessResponse = z.infer<typeof LivenessResponseSchema>;

export const ReadinessResponseSchema = z.object({
  status: z.literal('ready'),
  model: z.string().meta({ description: 'the serving model as name@version' }),
});
export type ReadinessResponse = z.infer<typeof ReadinessResponseSchema>;
