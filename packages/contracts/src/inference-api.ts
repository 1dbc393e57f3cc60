import { z } from 'zod';
import { ActivationReportSchema, ActiveModelReportSchema, SwapErrorSchema } from './inference-twin.js';
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

/** The path of `POST /v1/models/{name}/detect`; a name that no served model has is a 404 `MODEL_NOT_FOUND`. */
export const ModelRouteParamsSchema = z.object({
  name: z.string().min(1).meta({ description: 'a model name, as `GET /v1/models` lists them' }),
});
export type ModelRouteParams = z.infer<typeof ModelRouteParamsSchema>;

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

/** A served model's version as `GET /v1/models` shows it: what it is, how it loaded and how it reads an image. */
export const ServedModelVersionSchema = ActiveModelReportSchema.extend({
  runtime: RuntimeNameSchema,
  sha256: z.string(),
  loadMs: z.number().meta({ description: 'loading the model in every worker' }),
  warmupMs: z.number().meta({ description: 'the warm-up inference after loading' }),
  scoreThreshold: z.number().meta({ description: 'the score threshold a detect route applies unless a request sets one' }),
  input: ServedInputSpecSchema,
});
export type ServedModelVersion = z.infer<typeof ServedModelVersionSchema>;

/** One entry of the models the module serves (by name): its version serving, if any, and its last activation. */
export const ServedModelEntrySchema = z.object({
  name: z.string().meta({ description: 'the model name: the `{name}` of `POST /v1/models/{name}/detect`' }),
  default: z.boolean().meta({ description: 'whether `/v1/detect`, `/score` and unnamed edge images use this model' }),
  active: ServedModelVersionSchema.nullable().meta({ description: 'the version serving, or null while none does (loading, or every version rejected)' }),
  lastActivation: ActivationReportSchema.nullable(),
  lastError: SwapErrorSchema.nullable(),
  memoryMB: z.number().nonnegative().meta({ description: 'the memory its loaded versions are estimated to take in all workers (INFERENCE_MEMORY_BUDGET_MB counts this)' }),
});
export type ServedModelEntry = z.infer<typeof ServedModelEntrySchema>;

/**
 * The body of `GET /v1/models`: every model served, which one is the default, what served before, and what happened to
 * the recent activation attempts. `active`, `lastError` and `lastActivation` are the default model's (what a client of
 * one model reads); `history`, `swapCount` and `activations` cover every model, each entry naming its model.
 */
export const ModelsResponseSchema = z.object({
  active: ServedModelVersionSchema.nullable(),
  defaultModel: z.string().nullable().meta({ description: 'the model `/v1/detect` uses; null while none serves' }),
  models: z.array(ServedModelEntrySchema).meta({ description: 'every model of the serving index, by name' }),
  memory: z.object({
    budgetMB: z.number().nullable().meta({ description: 'INFERENCE_MEMORY_BUDGET_MB as applied; null when off' }),
    estimatedMB: z.number().nonnegative().meta({ description: 'what every loaded version is estimated to take, in all workers' }),
  }),
  history: z.array(z.object({ name: z.string(), version: z.string(), activatedAt: z.iso.datetime() })),
  lastError: SwapErrorSchema.nullable(),
  swapCount: z.number().int().nonnegative(),
  lastActivation: ActivationReportSchema.nullable(),
  activations: z.array(ActivationReportSchema),
});
export type ModelsResponse = z.infer<typeof ModelsResponseSchema>;

export const LivenessResponseSchema = z.object({ status: z.literal('ok') });
export type LivenessResponse = z.infer<typeof LivenessResponseSchema>;

export const ReadinessResponseSchema = z.object({
  status: z.literal('ready'),
  model: z.string().meta({ description: 'the default model as name@version' }),
  models: z.array(z.string()).meta({ description: 'every model serving, as name@version' }),
});
export type ReadinessResponse = z.infer<typeof ReadinessResponseSchema>;
