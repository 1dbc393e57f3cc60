import sharp, { type Sharp } from 'sharp';
import { bmpToSharp, sniffImageKind } from '../image/decode-image.js';
import { UndecodableImageError } from '../image/image-errors.js';
import { buildOverlaySvg, type OverlayInput } from './overlay-svg.js';
import type { RenderFormat } from './render-format.js';

export interface RenderOptions {
  limitPixels: number;
  /** JPEG quality, 1..100. */
  jpegQuality?: number;
}

async function openOriginal(bytes: Buffer, limitPixels: number): Promise<Sharp> {
  const kind = sniffImageKind(bytes);
  if (!kind) throw new UndecodableImageError('not a JPEG, PNG, WebP or BMP image');
  // EXIF orientation applied, as the detector saw the image, so that box coordinates land where they belong.
  return kind === 'bmp' ? bmpToSharp(bytes, limitPixels) : sharp(bytes, { limitInputPixels: limitPixels, failOn: 'error' }).rotate();
}

/**
 * The original image with the detections drawn on it, encoded as JPEG or PNG. sharp composites the SVG overlay
 * (librsvg, system fonts, nothing fetched) on libuv's pool, off the event loop.
 */
export async function renderDetections(bytes: Buffer, result: OverlayInput, format: RenderFormat, options: RenderOptions): Promise<Buffer> {
  try {
    const image = await openOriginal(bytes, options.limitPixels);
    const overlay = Buffer.from(buildOverlaySvg(result));
    const composed = image.composite([{ input: overlay, top: 0, left: 0 }]);
    return format === 'jpeg'
      ? await composed.flatten({ background: '#ffffff' }).jpeg({ quality: options.jpegQuality ?? 85 }).toBuffer()
      : await composed.png({ compressionLevel: 6 }).toBuffer();
  } catch (error) {
    if (error instanceof UndecodableImageError) throw error;
    throw new UndecodableImageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}
