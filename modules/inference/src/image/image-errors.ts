import { EdgeError } from '@edge-ml/edge-kit';

/** The client sent bytes that are not an image we can decode. Maps to HTTP 400. */
export class UndecodableImageError extends EdgeError {
  readonly code = 'IMAGE_UNDECODABLE';
  readonly statusCode = 400;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`the image could not be decoded: ${detail}`, options);
  }
}

/** The image decodes but is larger than the configured pixel limit. Maps to HTTP 413. */
export class ImageTooLargeError extends EdgeError {
  readonly code = 'IMAGE_TOO_LARGE';
  readonly statusCode = 413;
  constructor(width: number, height: number, limitPixels: number) {
    super(`the image is ${width}x${height} pixels; the limit is ${limitPixels} pixels`);
  }
}
