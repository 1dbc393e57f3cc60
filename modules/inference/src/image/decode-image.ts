import sharp, { type OutputInfo, type Sharp } from 'sharp';
import type { ResolvedInputSpec } from '../pipeline/model-spec.js';
import { computeGeometry, type Frame, type FrameGeometry } from '../pipeline/preprocess.js';
import { decodeBmp } from './bmp-decode.js';
import { assertImageWithinLimits, DEFAULT_MAX_SIDE_PIXELS, ImageTooLargeError, UndecodableImageError } from './image-errors.js';
import { declaredSize } from './image-size.js';
import { resizeOpenCvLinear } from './resize-opencv-linear.js';

export type ImageKind = 'jpeg' | 'png' | 'webp' | 'bmp';

/** The image format named by the first bytes, whatever the Content-Type said. */
export function sniffImageKind(bytes: Uint8Array): ImageKind | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (bytes.length >= 12 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP') return 'webp';
  if (bytes.length >= 26 && bytes[0] === 0x42 && bytes[1] === 0x4d) return 'bmp';
  return undefined;
}

/**
 * sharp cannot read BMP; our own decoder (bmp-decode.ts) reads the header, refuses a declared size over the limits
 * before any pixel buffer exists, and decodes to packed RGB (as cv2.imread does), which sharp then handles like any
 * other raw image.
 */
export function bmpToSharp(bytes: Buffer, limitPixels: number, maxSidePixels = DEFAULT_MAX_SIDE_PIXELS): Sharp {
  const { rgb, width, height } = decodeBmp(bytes, limitPixels, maxSidePixels);
  return sharp(rgb, { raw: { width, height, channels: 3 } });
}

/**
 * Process-wide settings (libvips has one cache and one thread setting per process; the inference worker applies
 * them when it starts) for a server decoding a stream of distinct photos: libvips' operation cache never hits
 * (every image is new) and only holds memory, and one libvips thread per image lets libuv's pool run several
 * images at once instead of splitting each small one across threads. Measured at concurrency 8 on 2 cores, when the
 * main thread still decoded:
 * HTTP throughput 93% of the in-process pool against 90-92% with the defaults.
 */
export function configureImageDecoding(): void {
  sharp.cache(false);
  sharp.concurrency(1);
}

export type ColorProfiles = 'ignore' | 'convert';

export interface DecodeOptions {
  limitPixels: number;
  /** The longest side an image may declare (default DEFAULT_MAX_SIDE_PIXELS): bounds decode time, not only memory. */
  maxSidePixels?: number;
  /**
   * What to do with an embedded ICC profile. `ignore` (default) reads the pixel values as they are, as OpenCV
   * and PIL do, so the values match what detection models are trained and the seed scored on; it also skips a
   * colour transform that costs more than the JPEG decode itself (5.7 against 2.1 ms on a 640x424 photo with an
   * sRGB profile). `convert` transforms to sRGB through the profile.
   */
  colorProfiles?: ColorProfiles;
}

/**
 * Resizes the decoded image onto the model's canvas with the spec's interpolation. `opencv-linear` takes the full-size
 * pixels from sharp and resamples them in JavaScript as cv2.resize(INTER_LINEAR) does (libvips has no equivalent:
 * its reducers antialias, and `affine` with a bilinear interpolator rounds differently; see ADR 0006).
 */
async function resizeOntoCanvas(decoded: Sharp, geometry: FrameGeometry, input: ResolvedInputSpec): Promise<Frame> {
  const { contentWidth, contentHeight, padLeft, padTop } = geometry;
  if (input.interpolation === 'opencv-linear') {
    const { data, info } = await decoded.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new UndecodableImageError(`decoded to ${info.width}x${info.height}x${info.channels} in ${data.length} bytes, expected 8-bit RGB`);
    }
    const canvas = new Uint8Array(input.width * input.height * 3).fill(input.padValue);
    const source = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
    resizeOpenCvLinear(source, { canvas, canvasWidth: input.width, left: padLeft, top: padTop, width: contentWidth, height: contentHeight });
    return { rgb: canvas, width: input.width, height: input.height, geometry };
  }
  const pad = { r: input.padValue, g: input.padValue, b: input.padValue };
  const resized = decoded.resize(contentWidth, contentHeight, { fit: 'fill', kernel: 'linear' });
  const placed =
    contentWidth === input.width && contentHeight === input.height
      ? resized
      : resized.extend({ left: padLeft, top: padTop, right: input.width - contentWidth - padLeft, bottom: input.height - contentHeight - padTop, background: pad });
  const { data, info } = await placed.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== input.width || info.height !== input.height || info.channels !== 3) {
    throw new UndecodableImageError(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${input.width}x${input.height}x3`);
  }
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, geometry };
}

/**
 * Decodes JPEG, PNG, WebP or BMP bytes, applies EXIF orientation and resizes onto the model's canvas
 * (stretched, or letterboxed with the pad colour). Decoding runs on libuv's pool; an `opencv-linear` resize runs on
 * the calling thread (the inference worker).
 */
export async function decodeToFrame(bytes: Buffer, input: ResolvedInputSpec, options: DecodeOptions): Promise<Frame> {
  const kind = sniffImageKind(bytes);
  if (!kind) throw new UndecodableImageError('not a JPEG, PNG, WebP or BMP image');
  let originalWidth: number;
  let originalHeight: number;
  let pipeline: Sharp;
  try {
    if (kind !== 'bmp' && input.interpolation === 'opencv-linear') {
      const declared = declaredSize(bytes, kind);
      if (declared) {
        assertImageWithinLimits(declared.width, declared.height, options.limitPixels, options.maxSidePixels);
        return await decodeWhole(bytes, input, options);
      }
    }
    if (kind === 'bmp') {
      pipeline = bmpToSharp(bytes, options.limitPixels, options.maxSidePixels);
      const metadata = await pipeline.metadata();
      originalWidth = metadata.width ?? 0;
      originalHeight = metadata.height ?? 0;
    } else {
      // sharp's metadata reads the header alone (libvips opens images lazily): the declared size is checked here,
      // before any pixel is decoded, and limitInputPixels holds the decoder to it.
      const metadata = await sharp(bytes, { limitInputPixels: false, failOn: 'error' }).metadata();
      const rotated = (metadata.orientation ?? 1) >= 5;
      originalWidth = (rotated ? metadata.height : metadata.width) ?? 0;
      originalHeight = (rotated ? metadata.width : metadata.height) ?? 0;
      assertImageWithinLimits(originalWidth, originalHeight, options.limitPixels, options.maxSidePixels);
      pipeline = sharp(bytes, { limitInputPixels: options.limitPixels, failOn: 'error', ignoreIcc: (options.colorProfiles ?? 'ignore') === 'ignore' }).rotate();
    }
    if (originalWidth <= 0 || originalHeight <= 0) throw new UndecodableImageError('the image has no pixels');
    const geometry = computeGeometry(originalWidth, originalHeight, input);
    return await resizeOntoCanvas(pipeline.removeAlpha().toColourspace('srgb'), geometry, input);
  } catch (error) {
    if (error instanceof UndecodableImageError || error instanceof ImageTooLargeError) throw error;
    throw new UndecodableImageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/**
 * The `opencv-linear` path in one libvips call, once the header's declared size has passed both limits (read in
 * JavaScript, image-size.ts): decode at full size (EXIF-rotated, alpha dropped, sRGB; libvips adds no operation for a
 * step the image does not need), then the cv2 resample in JavaScript. The size the geometry needs comes with the
 * pixels, so sharp's separate header read (~0.5 ms, more under load) is saved; `limitInputPixels` still holds libvips
 * to the pixel limit when it opens the image.
 */
async function decodeWhole(bytes: Buffer, input: ResolvedInputSpec, options: DecodeOptions): Promise<Frame> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, { limitInputPixels: options.limitPixels, failOn: 'error', ignoreIcc: (options.colorProfiles ?? 'ignore') === 'ignore' })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    if (error instanceof Error && /exceeds pixel limit/i.test(error.message)) {
      const metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
      const rotated = (metadata.orientation ?? 1) >= 5;
      assertImageWithinLimits((rotated ? metadata.height : metadata.width) ?? 0, (rotated ? metadata.width : metadata.height) ?? 0, options.limitPixels, options.maxSidePixels);
    }
    throw error;
  }
  const { data, info } = decoded;
  if (info.width <= 0 || info.height <= 0) throw new UndecodableImageError('the image has no pixels');
  assertImageWithinLimits(info.width, info.height, options.limitPixels, options.maxSidePixels);
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new UndecodableImageError(`decoded to ${info.width}x${info.height}x${info.channels} in ${data.length} bytes, expected 8-bit RGB`);
  }
  const geometry = computeGeometry(info.width, info.height, input);
  const canvas = new Uint8Array(input.width * input.height * 3).fill(input.padValue);
  const source = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  resizeOpenCvLinear(source, { canvas, canvasWidth: input.width, left: geometry.padLeft, top: geometry.padTop, width: geometry.contentWidth, height: geometry.contentHeight });
  return { rgb: canvas, width: input.width, height: input.height, geometry };
}
