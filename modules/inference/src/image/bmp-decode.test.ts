import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bmpFile, bmpRleBomb } from '../../test/fixtures/image-bombs.js';
import { bmpVariants } from '../../test/fixtures/bmp-variants.js';
import { decodeBmp } from './bmp-decode.js';
import { ImageTooLargeError, UndecodableImageError } from './image-errors.js';

const imagesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../testdata/images');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const WIDTH = 37;
const HEIGHT = 23;
/** A synthetic 37x23 RGB image (odd width: every row is padded). */
const source = new Uint8Array(WIDTH * HEIGHT * 3);
for (let y = 0; y < HEIGHT; y += 1) {
  for (let x = 0; x < WIDTH; x += 1) source.set([(x * 7 + y * 3) & 255, (x * y + 40) & 255, (255 - x * 5 - y * 9) & 255], (y * WIDTH + x) * 3);
}

/**
 * sha256 of cv2.imread(file, IMREAD_COLOR) (Debian's OpenCV 4.6, BGR turned to RGB) for each variant, measured
 * 2026-11-30. jimp 1.6 (which decoded BMP before) gave the same bytes for all but the odd-width 4-bit bitmap (it
 * stops at the first row's last pixel), RLE8 and RLE4 (it writes the first row at the top and moves the wrong way).
 */
const CV2_IMREAD: [string, string][] = [
  ['24-bit bottom-up', '4af056debcdf71e86cedca1cdfa9e25e019e056b582e2f6deb2e767cb0dee101'],
  ['24-bit top-down', '4af056debcdf71e86cedca1cdfa9e25e019e056b582e2f6deb2e767cb0dee101'],
  ['24-bit V5 header', '4af056debcdf71e86cedca1cdfa9e25e019e056b582e2f6deb2e767cb0dee101'],
  ['32-bit BI_RGB', '4af056debcdf71e86cedca1cdfa9e25e019e056b582e2f6deb2e767cb0dee101'],
  ['32-bit bit fields (RGBA order)', '680e4ed105306da1e49e21f03edf796dddd4b6fb10719998477b72de7a7d89f9'],
  ['32-bit V5 header, bit fields', '4af056debcdf71e86cedca1cdfa9e25e019e056b582e2f6deb2e767cb0dee101'],
  ['16-bit 5-5-5', 'aa86d586690a38a8009198eab26130ad57802b7d7157971e043dcb26489b25d7'],
  ['16-bit 5-6-5 bit fields', 'cd77b2b5c2d539cf41e36f03aad79d039e14bee48423cad25c76414738172943'],
  ['8-bit palette', 'fe674563c454359ce127e09c59bc1748626280c3f1afa111383b0d2aad9116ba'],
  ['8-bit palette, 40 colours used, top-down', 'be3b76e8b109752be9e3c96003c9ecc0ef911b07fb372f52733bd1dd574cfe4d'],
  ['4-bit palette', 'f322b49844ce2e606630c9cd035de3cc386766dcd1c91e9e1929ece565e2d9d8'],
  ['1-bit palette', 'bd7467ed8e6a1ba3aea84779b41f7cc2c9c982e094c9885a1933c6db1b1a441a'],
  ['RLE8', 'fe674563c454359ce127e09c59bc1748626280c3f1afa111383b0d2aad9116ba'],
  ['RLE8 with a delta', 'e81333c3ae1cab7f414837cff907bd53578add1b39a9d30350c653a54a502e1c'],
  ['RLE4', 'f322b49844ce2e606630c9cd035de3cc386766dcd1c91e9e1929ece565e2d9d8'],
];

describe('decodeBmp gives the pixels cv2.imread gives, in every layout', () => {
  const variants = bmpVariants(source, WIDTH, HEIGHT);

  it.each(CV2_IMREAD)('%s', (name, expected) => {
    const variant = variants.find((candidate) => candidate.name === name);
    expect(variant, name).toBeDefined();
    const decoded = decodeBmp(variant!.bytes, 1_000_000);
    expect([decoded.width, decoded.height]).toEqual([WIDTH, HEIGHT]);
    if (name === '32-bit bit fields (RGBA order)') {
      // The one difference, on purpose: OpenCV 4.6 ignores 32-bit masks and reads BGRX; the file's masks say RGBX,
      // and honouring them gives back the source (jimp honoured them too).
      expect(sha256(decoded.rgb)).not.toBe(expected);
      expect(Buffer.from(decoded.rgb).equals(Buffer.from(source))).toBe(true);
      return;
    }
    expect(sha256(decoded.rgb)).toBe(expected);
  });

  it('decodes the 24-bit layouts to the source bytes exactly', () => {
    for (const name of ['24-bit bottom-up', '24-bit top-down', '24-bit V5 header', '32-bit BI_RGB', '32-bit V5 header, bit fields']) {
      const variant = variants.find((candidate) => candidate.name === name)!;
      expect(Buffer.from(decodeBmp(variant.bytes, 1_000_000).rgb).equals(Buffer.from(source)), name).toBe(true);
    }
  });

  it('decodes the real BMP photo as cv2.imread does', async () => {
    const decoded = decodeBmp(await readFile(path.join(imagesDir, 'grace_hopper.bmp')), 40_000_000);
    expect(sha256(decoded.rgb)).toBe('a3a89e1d9f138a6e348278bf487d02a4326c66c8850b817f3769a21b2a13b1e8');
  });
});

describe('decodeBmp is bounded', () => {
  it('refuses a header over the pixel limit before allocating (the 120-byte RLE bomb claims 20000x20000)', () => {
    expect(() => decodeBmp(bmpRleBomb(), 40_000_000)).toThrow(ImageTooLargeError);
  });

  it('refuses run-length data that ends before its end-of-bitmap marker', () => {
    const palette = Buffer.from([0, 0, 0, 0, 255, 255, 255, 0]);
    expect(() => decodeBmp(bmpFile({ width: 4, height: 4, bitsPerPixel: 8, compression: 1, colorsUsed: 2 }, palette, Buffer.from([4, 1, 0, 0, 4])), 100)).toThrow(UndecodableImageError);
  });

  it('refuses a run past the end of its row', () => {
    const palette = Buffer.from([0, 0, 0, 0, 255, 255, 255, 0]);
    const error = (() => {
      try {
        decodeBmp(bmpFile({ width: 4, height: 2, bitsPerPixel: 8, compression: 1, colorsUsed: 2 }, palette, Buffer.from([5, 1, 0, 1])), 100);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UndecodableImageError);
    expect((error as Error).message).toMatch(/past the end of its row/);
  });
});
