import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BAND_BYTES } from './resize-linear-simd.js';
import { resizeOpenCvLinear, type PackedImage, type ResizeKernel, type ResizeTarget } from './resize-opencv-linear.js';

const imagesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../testdata/images');

/**
 * The plain transcription of OpenCV's INTER_LINEAR that the fast implementation replaced (checked byte for byte
 * against Debian's OpenCV 4.6 in 70 cases and the 24 reference canvases, ADR 0006): the fast one must equal it.
 */
function transcription(source: PackedImage, target: ResizeTarget): void {
  const { data, width: sw, height: sh, channels } = source;
  const { canvas, canvasWidth, left, top, width, height } = target;
  const half = (v: number) => {
    const f = Math.floor(v);
    const r = v - f;
    return r > 0.5 ? f + 1 : r < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  };
  const taps = (sourceSize: number, targetSize: number, clamp: boolean) => {
    const scale = 1 / (targetSize / sourceSize);
    return Array.from({ length: targetSize }, (_, d) => {
      let f = Math.fround((d + 0.5) * scale - 0.5);
      let s = Math.floor(f);
      f = Math.fround(f - s);
      if (clamp && s < 0) [f, s] = [0, 0];
      if (clamp && s >= sourceSize - 1) [f, s] = [0, sourceSize - 1];
      return { s, w0: half(Math.fround(Math.fround(1 - f) * 2048)), w1: half(Math.fround(f * 2048)) };
    });
  };
  if (width === sw && height === sh) {
    for (let y = 0; y < sh; y += 1) canvas.set(data.subarray(y * sw * channels, (y + 1) * sw * channels), ((top + y) * canvasWidth + left) * channels);
    return;
  }
  const px = (x: number, y: number, c: number) => data[(y * sw + x) * channels + c] ?? 0;
  if (1 / (width / sw) === 2 && 1 / (height / sh) === 2) {
    for (let y = 0; y < height; y += 1)
      for (let x = 0; x < width; x += 1)
        for (let c = 0; c < channels; c += 1) {
          canvas[((top + y) * canvasWidth + left + x) * channels + c] = (px(2 * x, 2 * y, c) + px(2 * x + 1, 2 * y, c) + px(2 * x, 2 * y + 1, c) + px(2 * x + 1, 2 * y + 1, c) + 2) >> 2;
        }
    return;
  }
  const columns = taps(sw, width, true);
  const rows = taps(sh, height, false);
  const horizontal = (y: number, x: number, c: number) => {
    const row = Math.min(sh - 1, Math.max(0, y));
    const tap = columns[x] ?? { s: 0, w0: 0, w1: 0 };
    return px(tap.s, row, c) * tap.w0 + (tap.s + 1 < sw ? px(tap.s + 1, row, c) : 0) * tap.w1;
  };
  for (let y = 0; y < height; y += 1) {
    const { s, w0, w1 } = rows[y] ?? { s: 0, w0: 0, w1: 0 };
    for (let x = 0; x < width; x += 1)
      for (let c = 0; c < channels; c += 1) {
        const value = (((horizontal(s, x, c) >> 4) * w0) >> 16) + (((horizontal(s + 1, x, c) >> 4) * w1) >> 16) + 2 >> 2;
        canvas[((top + y) * canvasWidth + left + x) * channels + c] = Math.min(255, Math.max(0, value));
      }
  }
}

/** A small deterministic generator (mulberry32) so that a failing size can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bothWays(source: PackedImage, width: number, height: number, left: number, top: number, kernel: ResizeKernel = 'simd'): { fast: Uint8Array; plain: Uint8Array } {
  const canvasWidth = width + left + 1;
  const size = (top + height + 1) * canvasWidth * source.channels;
  const fast = new Uint8Array(size).fill(114);
  const plain = new Uint8Array(size).fill(114);
  resizeOpenCvLinear(source, { canvas: fast, canvasWidth, left, top, width, height }, kernel);
  transcription(source, { canvas: plain, canvasWidth, left, top, width, height });
  return { fast, plain };
}

/** Resizes a packed image into a canvas of exactly its new size and returns the canvas as a plain array. */
function resize(data: number[], width: number, height: number, channels: number, toWidth: number, toHeight: number): number[] {
  const canvas = new Uint8Array(toWidth * toHeight * channels);
  resizeOpenCvLinear({ data: Uint8Array.from(data), width, height, channels }, { canvas, canvasWidth: toWidth, left: 0, top: 0, width: toWidth, height: toHeight });
  return Array.from(canvas);
}

// Expected values are cv2.resize(src, size, interpolation=cv2.INTER_LINEAR) from Debian's OpenCV 4.6 (python3-opencv).
describe('resizeOpenCvLinear reproduces cv2.resize INTER_LINEAR', () => {
  it('upscales with half-pixel centres and replicated borders', () => {
    expect(resize([0, 255], 2, 1, 1, 5, 1)).toEqual([0, 26, 128, 229, 255]);
    const grid = [0, 255, 0, 255, 0, 255, 0, 255, 0];
    expect(resize(grid, 3, 3, 1, 7, 5)).toEqual([
      [0, 36, 146, 255, 146, 36, 0],
      [102, 109, 131, 153, 131, 109, 102],
      [255, 219, 109, 0, 109, 219, 255],
      [102, 109, 131, 153, 131, 109, 102],
      [0, 36, 146, 255, 146, 36, 0],
    ].flat());
  });

  it('shrinks with two taps per axis, no antialiasing, three channels', () => {
    const source = Array.from({ length: 7 * 5 * 3 }, (_, index) => (index * 3) & 255);
    expect(resize(source, 7, 5, 3, 3, 2)).toEqual([53, 56, 59, 74, 77, 80, 95, 98, 101, 168, 171, 152, 168, 171, 174, 189, 192, 195]);
  });

  it('averages 2x2 blocks for an exact 2x shrink, as OpenCV switches to INTER_AREA', () => {
    expect(resize([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 161], 4, 4, 1, 2, 2)).toEqual([35, 55, 115, 135]);
  });

  it('writes into the canvas at the offset and leaves the padding alone', () => {
    const canvas = new Uint8Array(4 * 3).fill(114);
    resizeOpenCvLinear({ data: Uint8Array.from([0, 255]), width: 2, height: 1, channels: 1 }, { canvas, canvasWidth: 4, left: 1, top: 1, width: 2, height: 1 });
    expect(Array.from(canvas)).toEqual([114, 114, 114, 114, 114, 0, 255, 114, 114, 114, 114, 114]);
  });

  it('refuses a target that does not fit its canvas', () => {
    const canvas = new Uint8Array(4);
    expect(() => resizeOpenCvLinear({ data: Uint8Array.from([1, 2]), width: 2, height: 1, channels: 1 }, { canvas, canvasWidth: 2, left: 1, top: 0, width: 2, height: 2 })).toThrow(RangeError);
  });

  it.each(['simd', 'javascript'] as const)('gives the same bytes as the plain transcription on 300 random sizes and channel counts, up and down (%s kernel)', (kernel) => {
    const next = random(19);
    for (let trial = 0; trial < 300; trial += 1) {
      const channels = [1, 3, 4][trial % 3] as number;
      const sw = 1 + Math.floor(next() * 120);
      const sh = 1 + Math.floor(next() * 120);
      const data = Uint8Array.from({ length: sw * sh * channels }, () => Math.floor(next() * 256));
      const width = trial % 10 === 0 ? Math.max(1, sw >> 1) : 1 + Math.floor(next() * 160);
      const height = trial % 10 === 0 ? Math.max(1, sh >> 1) : 1 + Math.floor(next() * 160);
      const { fast, plain } = bothWays({ data, width: sw, height: sh, channels }, width, height, trial % 4, trial % 3, kernel);
      expect(Buffer.from(fast).equals(Buffer.from(plain)), `${sw}x${sh}x${channels} -> ${width}x${height}`).toBe(true);
    }
  });

  it('gives the same bytes when the source is copied into the SIMD kernel in several bands of rows (large frames)', () => {
    const next = random(23);
    // Sources of several band sizes, down and up, with a canvas wider than the image (the row-by-row copy out).
    for (const [sw, sh, width, height] of [[1600, 700, 416, 182], [1000, 1200, 345, 414], [700, 520, 1403, 1041], [1200, 300, 416, 104]] as const) {
      expect(sw * sh * 3).toBeGreaterThan(BAND_BYTES);
      const data = Uint8Array.from({ length: sw * sh * 3 }, () => Math.floor(next() * 256));
      const { fast, plain } = bothWays({ data, width: sw, height: sh, channels: 3 }, width, height, 2, 1);
      expect(Buffer.from(fast).equals(Buffer.from(plain)), `${sw}x${sh} -> ${width}x${height}`).toBe(true);
    }
  });

  it.each(['simd', 'javascript'] as const)('gives the same bytes as the plain transcription on the photos, twice in a row (the cached plan and reused rows; %s kernel)', async (kernel) => {
    for (const name of ['darknet_person.jpg', 'cat_720p.jpg', 'coco_000000039769_cats.png']) {
      const { data, info } = await sharp(await readFile(path.join(imagesDir, name)), { ignoreIcc: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const source = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
      for (const [width, height] of [[416, Math.floor((416 * info.height) / info.width)], [300, 300], [416, Math.floor((416 * info.height) / info.width)], [info.width + 37, info.height + 11]] as const) {
        const { fast, plain } = bothWays(source, width, height, 0, 0, kernel);
        expect(Buffer.from(fast).equals(Buffer.from(plain)), `${name} -> ${width}x${height}`).toBe(true);
      }
    }
  });
});
