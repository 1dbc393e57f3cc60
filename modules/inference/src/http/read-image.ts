import type { FastifyRequest } from 'fastify';
import { EdgeError } from '@edge-ml/edge-kit';

export class MissingImageError extends EdgeError {
  readonly code = 'IMAGE_MISSING';
  readonly statusCode = 400;
  constructor(detail: string) {
    super(detail);
  }
}

/** The raw image types the API accepts as a request body; multipart/form-data with one file part works too. */
export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/bmp', 'image/x-ms-bmp', 'application/octet-stream'];

/** The image bytes of a request, whether sent raw or as the first file of a multipart form. */
export async function readImage(request: FastifyRequest): Promise<Buffer> {
  if (request.isMultipart()) {
    const file = await request.file();
    if (!file) throw new MissingImageError('the multipart form has no file part; send the image as a file field named "image"');
    return file.toBuffer();
  }
  if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
    throw new MissingImageError(`send the image as the request body (${IMAGE_CONTENT_TYPES.join(', ')}) or as multipart/form-data`);
  }
  return request.body;
}
