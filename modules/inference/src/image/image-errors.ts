// The errors entry alone: the package's index loads the Azure IoT SDK, pino and zod into every worker that imports it.
import { EdgeError } from '@edge-ml/edge-kit/errors';

/** The client sent bytes that are not an image we can decode. Maps to HTTP 400. */
export class UndecodableImageError extends EdgeError {
  readonly code = 'IMAGE_UNDECODABLE';
  readonly statusCode = 400;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`the image could not be decoded: ${detail}`, options);
  }
}

/** The image declares more pixels, or a longer side, than the configured limits. Maps to HTTP 413. */
export class ImageTooLargeError extends EdgeError {
  readonly code = 'IMAGE_TOO_LARGE';
  readonly statusCode = 413;
  constructor(width: number, height: number, limitPixels: number, maxSidePixels = DEFAULT_MAX_SIDE_PIXELS) {
    super(`the image is ${width}x${height} pixels; the limits are ${limitPixels} pixels and ${maxSidePixels} pixels a side`);
  }
}

/**
 * The longest side an image may declare. Decoders work a row at a time, so a strip of 1 x 39,999,999 pixels costs
 * far more than its pixel count suggests (7.8 s for a 1 KB BMP, 20 s for a 78 KB PNG, measured): the side is
 * bounded as well as the area. 16384 is WebP's own limit and above any camera's.
 */
export const DEFAULT_MAX_SIDE_PIXELS = 16_384;

/** Refuses declared dimensions over either limit, before any pixel buffer exists. */
export function assertImageWithinLimits(width: number, height: number, limitPixels: number, maxSidePixels = DEFAULT_MAX_SIDE_PIXELS): void {
  if (width * height > limitPixels || width > maxSidePixels || height > maxSidePixels) throw new ImageTooLargeError(width, height, limitPixels, maxSidePixels);
}
