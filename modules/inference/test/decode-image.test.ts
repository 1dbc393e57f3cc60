import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeToFrame } from '../src/image/decode-image.js';
import { ImageTooLargeError, UndecodableImageError } from '../src/image/image-errors.js';
import { bmp24, bmpFile, bmpRleBomb, jpegHeaderBomb, pngHeaderBomb, webpHeaderBomb } from './fixtures/image-bombs.js';
import type { ResolvedInputSpec } from '../src/pipeline/model-spec.js';
import { imageFile } from './testdata.js';

const spec = (width: number, height: number): ResolvedInputSpec => ({
  width,
  height,
  layout: 'nhwc',
  colorOrder: 'rgb',
  resize: 'stretch',
  letterboxPlacement: 'center',
  padValue: 0,
  dtype: 'uint8',
  scale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  interpolation: 'antialiased-linear',
  letterboxRounding: 'round',
});

/** The mean of each channel of a decoded frame. */
function channelMeans(rgb: Uint8Array): [number, number, number] {
  const sums = [0, 0, 0];
  for (let index = 0; index < rgb.length; index += 1) sums[index % 3]! += rgb[index]!;
  const pixels = rgb.length / 3;
  return [sums[0]! / pixels, sums[1]! / pixels, sums[2]! / pixels];
}

describe('embedded colour profiles', () => {
  // A flat saturated red stored in Display P3: its stored values differ from the sRGB values it stands for.
  const storedInP3 = () =>
    sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 220, g: 40, b: 40 } } })
      .withIccProfile('p3')
      .jpeg({ quality: 100 })
      .toBuffer();

  it('are ignored by default: the pixel values as stored, as OpenCV and PIL read them', async () => {
    const bytes = await storedInP3();
    const stored = await sharp(bytes, { ignoreIcc: true }).raw().toBuffer();
    const frame = await decodeToFrame(bytes, spec(32, 32), { limitPixels: 1e6 });
    const [red, green, blue] = channelMeans(frame.rgb);
    const [storedRed, storedGreen, storedBlue] = channelMeans(new Uint8Array(stored));
    expect(Math.abs(red - storedRed)).toBeLessThan(1);
    expect(Math.abs(green - storedGreen)).toBeLessThan(1);
    expect(Math.abs(blue - storedBlue)).toBeLessThan(1);
  });

  it('are applied with colorProfiles: convert, which gives back the sRGB colour', async () => {
    const bytes = await storedInP3();
    const ignored = channelMeans((await decodeToFrame(bytes, spec(32, 32), { limitPixels: 1e6, colorProfiles: 'ignore' })).rgb);
    const converted = channelMeans((await decodeToFrame(bytes, spec(32, 32), { limitPixels: 1e6, colorProfiles: 'convert' })).rgb);
    expect(Math.abs(converted[0] - 220)).toBeLessThan(4);
    expect(Math.abs(converted[1] - 40)).toBeLessThan(4);
    // The stored P3 red is less saturated than the sRGB red it encodes: the two readings differ visibly.
    expect(Math.abs(ignored[0] - converted[0]) + Math.abs(ignored[1] - converted[1])).toBeGreaterThan(10);
  });

  it('an sRGB profile changes nothing either way, so ignoring it costs no accuracy', async () => {
    const bytes = await readFile(imageFile('darknet_person.jpg'));
    expect((await sharp(bytes).metadata()).hasProfile).toBe(true);
    const ignored = (await decodeToFrame(bytes, spec(160, 106), { limitPixels: 1e6 })).rgb;
    const converted = (await decodeToFrame(bytes, spec(160, 106), { limitPixels: 1e6, colorProfiles: 'convert' })).rgb;
    let largest = 0;
    let total = 0;
    for (let index = 0; index < ignored.length; index += 1) {
      const difference = Math.abs(ignored[index]! - converted[index]!);
      largest = Math.max(largest, difference);
      total += difference;
    }
    expect(total / ignored.length).toBeLessThan(1);
    expect(largest).toBeLessThanOrEqual(4);
  });
});

describe('declared sizes are checked before any pixel buffer exists', () => {
  const limit = { limitPixels: 40_000_000 };
  const refusal = async (bytes: Buffer, interpolation: 'antialiased-linear' | 'opencv-linear' = 'antialiased-linear') =>
    decodeToFrame(bytes, { ...spec(8, 8), interpolation }, limit).then(() => undefined, (error: unknown) => error);

  it.each([
    ['a 120-byte RLE BMP', () => bmpRleBomb(), '20000x20000'],
    ['a PNG', () => pngHeaderBomb(), '50000x50000'],
    ['a JPEG', () => jpegHeaderBomb(), '65000x65000'],
    ['a WebP', () => webpHeaderBomb(), '16383x16383'],
  ])('refuses %s whose header claims more pixels than the limit, naming the claimed size', async (_name, make, size) => {
    const error = await refusal(await make());
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect((error as Error).message).toBe(`the image is ${size} pixels; the limits are 40000000 pixels and 16384 pixels a side`);
  });

  it.each([
    ['a 1 x 39,999,999 RLE BMP', () => Promise.resolve(bmpRleBomb(1, 39_999_999)), '1x39999999'],
    ['a 39,999,999 x 1 PNG', () => pngHeaderBomb(39_999_999, 1), '39999999x1'],
  ])('refuses %s, within the pixel limit but longer than a side may be (slow to decode), before decoding', async (_name, make, size) => {
    const error = await refusal(await make());
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect((error as Error).message).toBe(`the image is ${size} pixels; the limits are 40000000 pixels and 16384 pixels a side`);
  });

  it('decodes a strip at the side limit', async () => {
    const strip = await sharp({ create: { width: 16_384, height: 2, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    const frame = await decodeToFrame(strip, spec(8, 8), limit);
    expect(frame.geometry.originalWidth).toBe(16_384);
  });

  it.each([
    ['a PNG', () => pngHeaderBomb(), '50000x50000'],
    ['a JPEG', () => jpegHeaderBomb(), '65000x65000'],
    ['a WebP', () => webpHeaderBomb(), '16383x16383'],
    ['a 39,999,999 x 1 PNG', () => pngHeaderBomb(39_999_999, 1), '39999999x1'],
  ])('refuses %s over the limits on the opencv-linear path too (the header read in JavaScript, before libvips)', async (_name, make, size) => {
    const error = await refusal(await make(), 'opencv-linear');
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect((error as Error).message).toBe(`the image is ${size} pixels; the limits are 40000000 pixels and 16384 pixels a side`);
  });

  it('the RLE BMP bomb is 120 bytes', () => {
    expect(bmpRleBomb().length).toBe(120);
  });

  it('refuses a malformed BMP header with IMAGE_UNDECODABLE', async () => {
    const error = await refusal(bmpFile({ width: 4, height: 4, planes: 3 }, Buffer.alloc(0), Buffer.alloc(48)));
    expect(error).toBeInstanceOf(UndecodableImageError);
    expect((error as Error).message).toMatch(/malformed BMP header: 3 colour planes/);
  });

  it('refuses a BMP whose uncompressed rows are not all in the file', async () => {
    const error = await refusal(bmpFile({ width: 1000, height: 1000 }, Buffer.alloc(0), Buffer.alloc(64)));
    expect(error).toBeInstanceOf(UndecodableImageError);
    expect((error as Error).message).toMatch(/truncated BMP/);
  });

  it('decodes a BMP within the limit, top-down and bottom-up alike', async () => {
    const red: [number, number, number] = [255, 0, 0];
    const blue: [number, number, number] = [0, 0, 255];
    for (const topDown of [true, false]) {
      const frame = await decodeToFrame(bmp24([[red, red], [blue, blue]], topDown), spec(2, 2), limit);
      expect(Array.from(frame.rgb)).toEqual([...red, ...red, ...blue, ...blue]);
    }
  });

  it('still decodes the real BMP photo', async () => {
    const frame = await decodeToFrame(await readFile(imageFile('grace_hopper.bmp')), spec(64, 64), limit);
    expect(frame.geometry).toMatchObject({ originalWidth: 512, originalHeight: 600 });
  });
});

describe('opencv-linear resize', () => {
  const yolox = { ...spec(416, 416), resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114, interpolation: 'opencv-linear', letterboxRounding: 'floor' } as const;

  it('letterboxes at the top left with int() of the resized size and pads the rest', async () => {
    // 333 × 416/1000 = 138.53: YOLOX's preproc keeps 138 rows of content.
    const bytes = await sharp({ create: { width: 1000, height: 333, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer();
    const frame = await decodeToFrame(bytes, yolox, { limitPixels: 1e6 });
    expect(frame.geometry).toMatchObject({ contentWidth: 416, contentHeight: 138, padLeft: 0, padTop: 0, scaleY: 0.416 });
    const pixel = (x: number, y: number) => Array.from(frame.rgb.subarray((y * 416 + x) * 3, (y * 416 + x) * 3 + 3));
    expect(pixel(415, 137)).toEqual([200, 100, 50]);
    expect(pixel(0, 138)).toEqual([114, 114, 114]);
  });

  it('reads 16-bit PNGs as 8-bit values, as cv2.imread does', async () => {
    const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 10, b: 10 } } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(bytes).metadata()).depth).toBe('ushort');
    const frame = await decodeToFrame(bytes, { ...spec(32, 24), interpolation: 'opencv-linear' }, { limitPixels: 1e6 });
    expect(Array.from(frame.rgb.subarray(0, 3))).toEqual([200, 10, 10]);
  });
});
