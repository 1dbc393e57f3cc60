import { z } from 'zod';

/**
 * The Open Inference Protocol (KServe v2) REST objects as the inference module's `/v2` routes read and answer them.
 * The protocol's own schema is modules/inference/src/oip/spec/ (with its source); these contracts are that schema
 * narrowed to what the module accepts: known datatypes, bounded ranks and counts, parameters of scalar values.
 */

/** The protocol's tensor data types, with the size of one element in bytes (BYTES: a 4-byte length and the bytes). */
export const OIP_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
export const OipDatatypeSchema = z.enum(OIP_DATATYPES);
export type OipDatatype = z.infer<typeof OipDatatypeSchema>;

/** Dimensions a tensor may have here; the protocol sets no limit, the module's models take at most 4. */
export const OIP_MAX_RANK = 8;
/** Inputs or requested outputs one request may list. */
export const OIP_MAX_TENSORS = 64;

/** "$parameter = $string : $string | $number | $boolean" */
export const OipParametersSchema = z.record(z.string().max(256), z.union([z.string(), z.number(), z.boolean()]));
export type OipParameters = z.infer<typeof OipParametersSchema>;

const TensorNameSchema = z.string().min(1).max(256);
const ShapeSchema = z.array(z.number().int().min(0)).max(OIP_MAX_RANK).meta({ description: `row-major dimensions, at most ${OIP_MAX_RANK}` });
const MetadataShapeSchema = z.array(z.number().int().min(-1)).meta({ description: 'dimensions; -1 where the model takes any size' });

/** Tensor data: flat or nested to the tensor's shape, in row-major order; its elements are checked against the datatype. */
const TensorDataSchema = z.array(z.union([z.number(), z.string(), z.boolean(), z.array(z.unknown())])).meta({
  description: 'the elements in row-major order, flat or nested as the shape; absent when parameters.binary_data_size says the bytes follow the JSON',
});

export const OipRequestInputSchema = z.object({
  name: TensorNameSchema,
  shape: ShapeSchema,
  datatype: OipDatatypeSchema,
  parameters: OipParametersSchema.optional().meta({ description: 'binary_data_size: the bytes of this tensor that follow the JSON object (binary tensor data extension)' }),
  data: TensorDataSchema.optional(),
});
export type OipRequestInput = z.infer<typeof OipRequestInputSchema>;

export const OipRequestOutputSchema = z.object({
  name: TensorNameSchema,
  parameters: OipParametersSchema.optional().meta({ description: 'binary_data: true to receive this output as binary data after the JSON object' }),
});
export type OipRequestOutput = z.infer<typeof OipRequestOutputSchema>;

export const OipInferenceRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: OipParametersSchema.optional().meta({ description: 'binary_data_output: true to receive every output as binary data; score_threshold: 0..1 for an image input' }),
  inputs: z.array(OipRequestInputSchema).min(1).max(OIP_MAX_TENSORS),
  outputs: z.array(OipRequestOutputSchema).max(OIP_MAX_TENSORS).optional(),
});
export type OipInferenceRequest = z.infer<typeof OipInferenceRequestSchema>;

export const OipResponseOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)),
  datatype: OipDatatypeSchema,
  parameters: OipParametersSchema.optional().meta({ description: 'binary_data_size when the bytes follow the JSON object' }),
  data: z.array(z.union([z.number(), z.string(), z.boolean()])).optional().meta({ description: 'the elements, flat, in row-major order; absent when sent as binary data' }),
});
export type OipResponseOutput = z.infer<typeof OipResponseOutputSchema>;

export const OipInferenceResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: OipParametersSchema.optional(),
  outputs: z.array(OipResponseOutputSchema),
});
export type OipInferenceResponse = z.infer<typeof OipInferenceResponseSchema>;

export const OipServerMetadataSchema = z.object({
  name: z.string(),
  version: z.string(),
  extensions: z.array(z.string()),
});
export type OipServerMetadata = z.infer<typeof OipServerMetadataSchema>;

export const OipMetadataTensorSchema = z.object({ name: z.string(), datatype: OipDatatypeSchema, shape: MetadataShapeSchema });
export type OipMetadataTensor = z.infer<typeof OipMetadataTensorSchema>;

export const OipModelMetadataSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string().meta({ description: 'onnx_onnxv1 or litert_tflite' }),
  inputs: z.array(OipMetadataTensorSchema),
  outputs: z.array(OipMetadataTensorSchema),
});
export type OipModelMetadata = z.infer<typeof OipModelMetadataSchema>;

export const OipServerLiveSchema = z.object({ live: z.boolean() });
/** inference_rest.md writes the server-ready object as `{ "live": $bool }`; `ready` says what KServe's servers answer. */
export const OipServerReadySchema = z.object({ live: z.boolean(), ready: z.boolean() });
export const OipModelReadySchema = z.object({ name: z.string(), ready: z.boolean() });

/** "$inference_error_response = { "error": <error message string> }", with the module's stable code beside it. */
export const OipErrorSchema = z.object({
  error: z.string().meta({ description: 'what went wrong, for a person' }),
  code: z.string().meta({ description: 'stable error code, e.g. OIP_SHAPE_MISMATCH' }),
});
export type OipError = z.infer<typeof OipErrorSchema>;
