import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { EdgeError } from '@edge-ml/edge-kit';
import { BodyTooLargeError, declaredLength } from './read-body.js';

/** The raw image types the API accepts as a request body; multipart/form-data with one file part works too. */
export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/bmp', 'image/x-ms-bmp', 'application/octet-stream'];
/** Every Content-Type a detection route accepts, as a 415 lists them. */
export const ACCEPTED_CONTENT_TYPES = [...IMAGE_CONTENT_TYPES, 'multipart/form-data'];

export class MissingImageError extends EdgeError {
  readonly code = 'IMAGE_MISSING';
  readonly statusCode = 400;
  constructor(detail: string) {
    super(detail);
  }
}

/** A multipart body that cannot be parsed: no boundary, or a form that ends before its closing boundary. */
export class MalformedMultipartError extends EdgeError {
  readonly code = 'MULTIPART_INVALID';
  readonly statusCode = 400;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`the multipart/form-data body is malformed (${detail}); send a form with a boundary parameter and one file part, or the image bytes as the body`, options);
  }
}

/** How many non-file fields a form may carry before its file, and how long each may be (longer ones are cut). */
export const MULTIPART_FIELD_LIMITS = { fields: 100, fieldSizeBytes: 1024 };
/** What a multipart body may hold besides its file: every field at its limit, plus part headers and boundaries. */
export const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

/** A multipart body that declares more bytes than one file and its form can need: refused before it is read. */
export class MultipartTooLargeError extends EdgeError {
  readonly code = 'BODY_TOO_LARGE';
  readonly statusCode = 413;
  constructor(declaredBytes: number, limitBytes: number) {
    super(`the multipart/form-data body declares ${declaredBytes} bytes; a form may carry ${limitBytes} (the image limit plus ${MULTIPART_OVERHEAD_BYTES} bytes of fields)`);
  }
}

export class UnsupportedMediaTypeError extends EdgeError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  readonly statusCode = 415;
  constructor(contentType: string | undefined) {
    super(`Content-Type ${contentType ? `"${contentType}"` : '(none)'} is not accepted; send one of: ${ACCEPTED_CONTENT_TYPES.join(', ')}`);
  }
}

/** A client error that @fastify/multipart typed itself (file too large, too many files): it keeps its status. */
function isTypedClientError(error: unknown): boolean {
  if (error instanceof EdgeError) return true;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500;
}

/**
 * The file's bytes, copied as they arrive into one buffer of the form's declared length (at most the body limit):
 * the plugin's toBuffer() holds every chunk and then a copy of them all.
 */
async function readFileIntoOneBuffer(file: MultipartFile, declaredBytes: number | undefined, maxBodyBytes: number): Promise<Buffer> {
  const image = Buffer.allocUnsafe(Math.min(declaredBytes ?? maxBodyBytes, maxBodyBytes));
  let received = 0;
  for await (const chunk of file.file as AsyncIterable<Buffer>) {
    if (received + chunk.length > image.length) throw new BodyTooLargeError(maxBodyBytes);
    chunk.copy(image, received);
    received += chunk.length;
  }
  // busboy stops a file at the plugin's fileSize limit (the body limit) and marks it truncated.
  if (file.file.truncated) throw new BodyTooLargeError(maxBodyBytes);
  return received === image.length ? image : image.subarray(0, received);
}

/** The image bytes of the first file of a multipart form; whatever busboy throws at a broken form is the client's mistake. */
async function readMultipartImage(request: FastifyRequest, maxBodyBytes: number): Promise<Buffer> {
  try {
    const file = await request.file();
    if (!file) throw new MissingImageError('the multipart form has no file part; send the image as a file field named "image"');
    return await readFileIntoOneBuffer(file, declaredLength(request.headers), maxBodyBytes);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') throw new MalformedMultipartError(`it carries more than ${MULTIPART_FIELD_LIMITS.fields} fields before its file`, { cause: error });
    if (isTypedClientError(error)) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    // busboy ends the stream early both for a form cut off before its closing boundary and for one past the field
    // limit (the plugin's own limit error loses the race): the message names both.
    const early = `the form ends before its closing boundary, or carries more than ${MULTIPART_FIELD_LIMITS.fields} fields before its file`;
    throw new MalformedMultipartError(detail === 'Premature close' ? early : detail, { cause: error });
  }
}

/** The image bytes of a request, whether sent raw or as the first file of a multipart form (within `maxBodyBytes`). */
export async function readImage(request: FastifyRequest, maxBodyBytes: number): Promise<Buffer> {
  if (request.isMultipart()) return readMultipartImage(request, maxBodyBytes);
  if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
    throw new MissingImageError(`send the image as the request body (${IMAGE_CONTENT_TYPES.join(', ')}) or as multipart/form-data`);
  }
  return request.body;
}
