import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import { EdgeError } from '@edge-ml/edge-kit';
import { ApiErrorSchema } from '@edge-ml/contracts';

type JsonSchema = Record<string, unknown>;

/** Request schemas generated here, with the contract each came from: requests are validated by the contract itself. */
const contractOf = new WeakMap<object, z.ZodType>();

/** `anyOf` whose members are all the same schema (zod's OpenAPI 3.0 form of a tuple of one type) is that schema. */
function collapseUniformAnyOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(collapseUniformAnyOf);
  if (value === null || typeof value !== 'object') return value;
  const node = Object.fromEntries(Object.entries(value).map(([key, child]) => [key, collapseUniformAnyOf(child)]));
  const members = node.anyOf;
  if (!Array.isArray(members) || members.length === 0) return node;
  const first = JSON.stringify(members[0]);
  if (!members.every((member) => JSON.stringify(member) === first)) return node;
  const { anyOf: _members, ...rest } = node;
  return { ...(members[0] as object), ...rest };
}

/** The OpenAPI 3.0 schema of a contract (`nullable`, no tuples), as what is sent (`input`) or what is answered (`output`). */
function openApiSchema(contract: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return collapseUniformAnyOf(z.toJSONSchema(contract, { target: 'openapi-3.0', io })) as JsonSchema;
}

/** The schema of a request part (query, body), remembered with its contract for `validateWithContract`. */
export function requestSchema(contract: z.ZodType): JsonSchema {
  const schema = openApiSchema(contract, 'input');
  contractOf.set(schema, contract);
  return schema;
}

/**
 * The schema of a JSON response: Fastify serializes the body with it (fast-json-stringify), @fastify/swagger documents it.
 * fast-json-stringify reads draft-7, so a response contract avoids exclusive bounds (`.positive()`: use `.min(1)`), whose
 * OpenAPI 3.0 form is a boolean; Fastify refuses to start otherwise.
 */
export function responseSchema(contract: z.ZodType, description: string): JsonSchema {
  return { ...openApiSchema(contract, 'output'), description };
}

/** A 200 that is JSON by default, or an image of one of `imageTypes` when the client asks for one. */
export function jsonOrImageResponseSchema(contract: z.ZodType, imageTypes: readonly string[], description: string): JsonSchema {
  const content: Record<string, { schema: JsonSchema }> = { 'application/json': { schema: openApiSchema(contract, 'output') } };
  for (const type of imageTypes) content[type] = { schema: { type: 'string', format: 'binary' } };
  return { description, content };
}

/** A response that is text, not JSON: Fastify sends the string as it is. */
export function textResponseSchema(mediaType: string, description: string): JsonSchema {
  return { description, content: { [mediaType]: { schema: openApiSchema(z.string(), 'output') } } };
}

/** The OpenAPI document itself, as far as a client relies on it; the rest passes through. */
const OpenApiDocumentSchema = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.looseObject({})),
});
export const openApiDocumentResponse = responseSchema(OpenApiDocumentSchema, 'This API as an OpenAPI 3.0 document');

/** Bytes the content-type parser hands over as a Buffer; the decoder judges them (IMAGE_MISSING, IMAGE_UNDECODABLE). */
const BINARY_BODY: JsonSchema = { type: 'string', format: 'binary' };
contractOf.set(BINARY_BODY, z.instanceof(Buffer));

/** @fastify/multipart leaves the body unread for the handler to stream, so Fastify validates nothing (null) for a form. */
const MULTIPART_BODY: JsonSchema = {
  type: 'object',
  properties: { image: { type: 'string', format: 'binary', description: 'the image; the first file part is read, whatever its field name' } },
  required: ['image'],
};
contractOf.set(MULTIPART_BODY, z.null());

/** The request body of a route that takes one image: raw bytes of one of `imageTypes`, or a form with one file. */
export function imageBody(imageTypes: readonly string[]): { content: Record<string, { schema: JsonSchema }> } {
  const content: Record<string, { schema: JsonSchema }> = {};
  for (const type of imageTypes) content[type] = { schema: BINARY_BODY };
  content['multipart/form-data'] = { schema: MULTIPART_BODY };
  return { content };
}

/**
 * A body the handler parses itself from its bytes (the parser hands over a Buffer), documented as JSON by `jsonContract`
 * and as raw bytes (application/octet-stream).
 */
export function bytesBody(jsonContract: z.ZodType): { content: Record<string, { schema: JsonSchema }> } {
  const json = openApiSchema(jsonContract, 'input');
  contractOf.set(json, z.instanceof(Buffer));
  return { content: { 'application/json': { schema: json }, 'application/octet-stream': { schema: BINARY_BODY } } };
}

export class InvalidRequestError extends EdgeError {
  readonly code = 'INVALID_REQUEST';
  readonly statusCode = 400;
  constructor(part: string, error: z.ZodError) {
    super(error.issues.map((issue) => `${[part, ...issue.path.map(String)].join('/')}: ${issue.message}`).join('; '));
  }
}

/** A value the query string leaves empty (`?threshold=`) is absent, not 0 as `z.coerce.number()` would read it. */
function withoutEmptyValues(data: unknown): unknown {
  if (data === null || typeof data !== 'object') return data;
  return Object.fromEntries(Object.entries(data).filter(([, value]) => value !== ''));
}

export class UncontractedSchemaError extends EdgeError {
  readonly code = 'ROUTE_SCHEMA_UNCONTRACTED';
  constructor(method: string, url: string, part: string) {
    super(`${method} ${url} declares a ${part} schema that was not made by requestSchema() or imageBody(): generate it from a zod contract in packages/contracts`);
  }
}

/** Fastify's validator compiler: every request part a route declares is parsed by the zod contract its schema came from. */
export const validateWithContract: FastifySchemaCompiler<JsonSchema> = ({ schema, method, url, httpPart }) => {
  const contract = contractOf.get(schema);
  if (!contract) throw new UncontractedSchemaError(method, url, httpPart ?? 'request');
  return (data: unknown) => {
    const result = contract.safeParse(httpPart === 'querystring' ? withoutEmptyValues(data) : data);
    return result.success ? { value: result.data } : { error: new InvalidRequestError(httpPart ?? 'request', result.error) };
  };
};

const errorSchema = (description: string) => responseSchema(ApiErrorSchema, description);

/** Errors any route can answer. */
export const commonErrorResponses = {
  500: errorSchema('INTERNAL: a bug; the cause is logged, not returned'),
};

/** Errors a route that takes an image can answer, on top of the common ones. */
export const imageErrorResponses = {
  400: errorSchema('IMAGE_UNDECODABLE, IMAGE_MISSING, EMPTY_BODY, MULTIPART_INVALID or INVALID_REQUEST'),
  408: errorSchema('REQUEST_TIMEOUT: the request was not received in time'),
  413: errorSchema('BODY_TOO_LARGE or IMAGE_TOO_LARGE'),
  415: errorSchema('UNSUPPORTED_MEDIA_TYPE: the message lists the accepted types'),
  503: errorSchema('NO_MODEL (no model serving yet) or OVERLOADED (with Retry-After)'),
  ...commonErrorResponses,
};

export const notReadyResponse = errorSchema('NO_MODEL: no model is loaded yet');

export const modelNotFoundResponse = errorSchema('MODEL_NOT_FOUND: no served model has this name (GET /v1/models lists them)');
