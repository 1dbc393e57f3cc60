/**
 * `cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)` on packed 8-bit pixels, reproduced bit for bit
 * (OpenCV 4.x, modules/imgproc/src/resize.cpp): half-pixel centres, two taps per axis whatever the scale (no
 * antialiasing), replicated borders, 11-bit fixed-point weights, and the rounding of the vectorised vertical pass
 * (`VResizeLinearVec_32s8u`), which matches every byte of Debian's OpenCV 4.6 on x86-64 where the scalar rounding
 * does not. An exact 2x shrink is the mean of 2x2 blocks, as OpenCV switches to INTER_AREA there.
 *
 * Written for speed as OpenCV is: integer arithmetic only, the taps of a geometry computed once and kept for the next
 * request of the same size (a camera sends one size), and 3-channel images (every decoded photo) resampled by a
 * WebAssembly SIMD kernel (resize-linear-simd.ts; 0.14 against ~2.7 ms for these loops on the 640x424 photo). The
 * JavaScript loops below serve other channel counts and `kernel: 'javascript'`, with the two horizontally resampled
 * rows kept in typed arrays reused across calls. Every output byte of both is the same as the plain transcription
 * kept in the test (resize-opencv-linear.test.ts compares them on random sizes, large frames and the photos).
 */

import { resizeLinear3Simd, simdAvailable } from './resize-linear-simd.js';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

export interface PackedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Where the resized image goes: a canvas `width` pixels wide with the same channel count, from (left, top). */
export interface ResizeTarget {
  canvas: Uint8Array;
  canvasWidth: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** lrintf: C's float-to-int rounding, half to even. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

interface Taps {
  index: Int32Array;
  weight0: Int32Array;
  weight1: Int32Array;
}

/**
 * Per destination index: the first source index and the two taps' weights, each rounded from float as OpenCV does.
 * Columns outside the source collapse onto the edge pixel with weights (1, 0); rows keep their weights and read
 * clamped rows instead, which rounds differently in the vertical pass.
 */
function linearTaps(sourceSize: number, targetSize: number, clampAtEdges: boolean): Taps {
  const scale = 1 / (targetSize / sourceSize);
  const index = new Int32Array(targetSize);
  const weight0 = new Int32Array(targetSize);
  const weight1 = new Int32Array(targetSize);
  for (let d = 0; d < targetSize; d += 1) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampAtEdges && s < 0) {
      f = 0;
      s = 0;
    }
    if (clampAtEdges && s >= sourceSize - 1) {
      f = 0;
      s = sourceSize - 1;
    }
    index[d] = s;
    weight0[d] = roundHalfEven(Math.fround(Math.fround(1 - f) * COEF_SCALE));
    weight1[d] = roundHalfEven(Math.fround(f * COEF_SCALE));
  }
  return { index, weight0, weight1 };
}

/** A geometry's precomputed tables: per output column the byte offsets of both taps in a source row and their weights. */
export interface LinearPlan {
  key: string;
  columnFirst: Int32Array;
  columnSecond: Int32Array;
  columnWeight0: Int32Array;
  columnWeight1: Int32Array;
  /** Per output row: both source rows, clamped into the image, and their weights. */
  rowFirst: Int32Array;
  rowSecond: Int32Array;
  rowWeight0: Int32Array;
  rowWeight1: Int32Array;
}

function makePlan(key: string, sourceWidth: number, sourceHeight: number, width: number, height: number, channels: number): LinearPlan {
  const columns = linearTaps(sourceWidth, width, true);
  const rows = linearTaps(sourceHeight, height, false);
  const columnFirst = new Int32Array(width);
  const columnSecond = new Int32Array(width);
  for (let x = 0; x < width; x += 1) {
    const sx = columns.index[x] as number;
    columnFirst[x] = sx * channels;
    // At the right edge the second tap's weight is 0; it reads the same pixel rather than past the row.
    columnSecond[x] = (sx + 1 < sourceWidth ? sx + 1 : sx) * channels;
  }
  const rowFirst = new Int32Array(height);
  const rowSecond = new Int32Array(height);
  const clamp = (y: number) => (y < 0 ? 0 : y > sourceHeight - 1 ? sourceHeight - 1 : y);
  for (let y = 0; y < height; y += 1) {
    const sy = rows.index[y] as number;
    rowFirst[y] = clamp(sy);
    rowSecond[y] = clamp(sy + 1);
  }
  return { key, columnFirst, columnSecond, columnWeight0: columns.weight0, columnWeight1: columns.weight1, rowFirst, rowSecond, rowWeight0: rows.weight0, rowWeight1: rows.weight1 };
}

// The last few geometries' plans (a stream of frames from one camera reuses one) and the row buffers, reused.
const PLAN_CACHE_SIZE = 4;
const plans: LinearPlan[] = [];
let rowBuffers: [Int32Array, Int32Array] = [new Int32Array(0), new Int32Array(0)];

function planFor(sourceWidth: number, sourceHeight: number, width: number, height: number, channels: number): LinearPlan {
  const key = `${sourceWidth}x${sourceHeight}x${channels}>${width}x${height}`;
  const found = plans.findIndex((plan) => plan.key === key);
  if (found >= 0) {
    const plan = plans[found] as LinearPlan;
    if (found > 0) {
      plans.splice(found, 1);
      plans.unshift(plan);
    }
    return plan;
  }
  const plan = makePlan(key, sourceWidth, sourceHeight, width, height, channels);
  plans.unshift(plan);
  if (plans.length > PLAN_CACHE_SIZE) plans.pop();
  return plan;
}

/**
 * The horizontal pass of one source row into `out`: per element, first tap × weight0 + second tap × weight1, shifted
 * right by 4 already (the vertical pass only ever uses it so shifted, and a source row is shifted once this way).
 */
function horizontalRow(data: Uint8Array, rowStart: number, plan: LinearPlan, width: number, channels: number, out: Int32Array): void {
  if (channels === 3) horizontalRow3(data, rowStart, plan.columnFirst, plan.columnSecond, plan.columnWeight0, plan.columnWeight1, width, out);
  else horizontalRowAny(data, rowStart, plan.columnFirst, plan.columnSecond, plan.columnWeight0, plan.columnWeight1, width, channels, out);
}

function horizontalRow3(data: Uint8Array, rowStart: number, first: Int32Array, second: Int32Array, weight0: Int32Array, weight1: Int32Array, width: number, out: Int32Array): void {
  for (let x = 0, o = 0; x < width; x += 1, o += 3) {
    const a = rowStart + (first[x] as number);
    const b = rowStart + (second[x] as number);
    const w0 = weight0[x] as number;
    const w1 = weight1[x] as number;
    out[o] = ((data[a] as number) * w0 + (data[b] as number) * w1) >> 4;
    out[o + 1] = ((data[a + 1] as number) * w0 + (data[b + 1] as number) * w1) >> 4;
    out[o + 2] = ((data[a + 2] as number) * w0 + (data[b + 2] as number) * w1) >> 4;
  }
}

function horizontalRowAny(data: Uint8Array, rowStart: number, first: Int32Array, second: Int32Array, weight0: Int32Array, weight1: Int32Array, width: number, channels: number, out: Int32Array): void {
  for (let x = 0, o = 0; x < width; x += 1) {
    const a = rowStart + (first[x] as number);
    const b = rowStart + (second[x] as number);
    const w0 = weight0[x] as number;
    const w1 = weight1[x] as number;
    for (let c = 0; c < channels; c += 1, o += 1) out[o] = ((data[a + c] as number) * w0 + (data[b + c] as number) * w1) >> 4;
  }
}

function resizeLinear(source: PackedImage, target: ResizeTarget, kernel: ResizeKernel): void {
  const { data, width: sourceWidth, height: sourceHeight, channels } = source;
  const { canvas, canvasWidth, left, top, width, height } = target;
  const plan = planFor(sourceWidth, sourceHeight, width, height, channels);
  if (channels === 3 && kernel === 'simd' && simdAvailable()) {
    resizeLinear3Simd(data, sourceWidth, plan, canvas, canvasWidth, left, top, width, height);
    return;
  }
  const rowLength = width * channels;
  if (rowBuffers[0].length < rowLength) rowBuffers = [new Int32Array(rowLength), new Int32Array(rowLength)];
  // The horizontal pass of the last two source rows used, one per buffer by parity: consecutive output rows mostly share them.
  const buffers = rowBuffers;
  let evenRow = -1;
  let oddRow = -1;
  const sourceStride = sourceWidth * channels;
  const rowOf = (y: number): Int32Array => {
    if ((y & 1) === 0) {
      if (evenRow !== y) {
        horizontalRow(data, y * sourceStride, plan, width, channels, buffers[0]);
        evenRow = y;
      }
      return buffers[0];
    }
    if (oddRow !== y) {
      horizontalRow(data, y * sourceStride, plan, width, channels, buffers[1]);
      oddRow = y;
    }
    return buffers[1];
  };
  // Values land in 0..255 for non-negative weights; the clamped view saturates exactly as saturate_cast would anyway.
  const out = new Uint8ClampedArray(canvas.buffer, canvas.byteOffset, canvas.byteLength);
  const { rowFirst, rowSecond, rowWeight0, rowWeight1 } = plan;
  for (let y = 0; y < height; y += 1) {
    const row0 = rowOf(rowFirst[y] as number);
    const row1 = rowOf(rowSecond[y] as number);
    const b0 = rowWeight0[y] as number;
    const b1 = rowWeight1[y] as number;
    verticalRow(row0, row1, b0, b1, out, ((top + y) * canvasWidth + left) * channels, rowLength);
  }
}

/** ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16) + 2 >> 2 per element (rows hold S >> 4): the _mm_mulhi_epi16 rounding of the vector loop. */
function verticalRow(row0: Int32Array, row1: Int32Array, b0: number, b1: number, out: Uint8ClampedArray, start: number, length: number): void {
  for (let x = 0; x < length; x += 1) {
    out[start + x] = (((row0[x] as number) * b0) >> 16) + (((row1[x] as number) * b1) >> 16) + 2 >> 2;
  }
}

/** OpenCV's INTER_AREA for an exact 2x shrink: the rounded mean of each 2x2 block. */
function halve(source: PackedImage, target: ResizeTarget): void {
  const { data, width: sourceWidth, channels } = source;
  const { canvas, canvasWidth, left, top, width, height } = target;
  const stride = sourceWidth * channels;
  for (let y = 0; y < height; y += 1) {
    let out = ((top + y) * canvasWidth + left) * channels;
    const upper = 2 * y * stride;
    for (let x = 0; x < width; x += 1) {
      for (let c = 0; c < channels; c += 1, out += 1) {
        const s = upper + 2 * x * channels + c;
        canvas[out] = ((data[s] as number) + (data[s + channels] as number) + (data[s + stride] as number) + (data[s + stride + channels] as number) + 2) >> 2;
      }
    }
  }
}

/**
 * Which code runs the 3-channel resample: `simd` (default) the WebAssembly kernel (resize-linear-simd.ts) where the
 * engine has WebAssembly SIMD, `javascript` the loops below (other channel counts always use them). Same bytes.
 */
export type ResizeKernel = 'simd' | 'javascript';

/** Resizes `source` to `target.width` × `target.height` and writes it into the canvas at (left, top). */
export function resizeOpenCvLinear(source: PackedImage, target: ResizeTarget, kernel: ResizeKernel = 'simd'): void {
  const { width: sourceWidth, height: sourceHeight, channels } = source;
  if (source.data.length < sourceWidth * sourceHeight * channels) throw new RangeError('the source buffer is smaller than its dimensions');
  if ((target.top + target.height) * target.canvasWidth * channels > target.canvas.length || target.left + target.width > target.canvasWidth) {
    throw new RangeError('the resized image does not fit the canvas');
  }
  if (target.width <= 0 || target.height <= 0) return;
  if (target.width === sourceWidth && target.height === sourceHeight) {
    for (let y = 0; y < sourceHeight; y += 1) {
      const from = y * sourceWidth * channels;
      target.canvas.set(source.data.subarray(from, from + sourceWidth * channels), ((target.top + y) * target.canvasWidth + target.left) * channels);
    }
    return;
  }
  const scaleX = 1 / (target.width / sourceWidth);
  const scaleY = 1 / (target.height / sourceHeight);
  if (scaleX === 2 && scaleY === 2) halve(source, target);
  else resizeLinear(source, target, kernel);
}
