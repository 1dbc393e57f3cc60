import { z } from 'zod';
import { DetectionResultSchema, SeedDetectionSchema } from '@edge-ml/contracts';

/** JSON Schemas for Fastify, generated from the zod contracts so the wire format has one definition. */
const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
  return rest;
};

export const ErrorResponseSchema = {
  type: 'object',
  properties: { error: { type: 'string', description: 'stable error code' }, message: { type: 'string' }, statusCode: { type: 'integer' } },
  required: ['error', 'message', 'statusCode'],
} as const;

export const detectionResultJsonSchema = jsonSchema(DetectionResultSchema);
/** `POST /v1/detect`'s 200: JSON by default, or the image with its detections drawn on it. */
export const detectResponseContent = {
  description: 'the detections as JSON, or the image with them drawn on it (`render`, Accept)',
  content: {
    'application/json': { schema: detectionResultJsonSchema },
    'image/jpeg': { schema: { type: 'string', format: 'binary' } },
    'image/png': { schema: { type: 'string', format: 'binary' } },
  },
};
export const seedResultJsonSchema = jsonSchema(z.array(SeedDetectionSchema));

export const errorResponses = {
  400: ErrorResponseSchema,
  408: ErrorResponseSchema,
  413: ErrorResponseSchema,
  415: ErrorResponseSchema,
  500: ErrorResponseSchema,
  503: ErrorResponseSchema,
};
