import { describe, expect, it } from 'vitest';
import { resizeOpenCvLinear } from './resize-opencv-linear.js';

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
});
