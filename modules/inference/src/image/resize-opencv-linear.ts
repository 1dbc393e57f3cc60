/**
 * `cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)` on packed 8-bit pixels, reproduced bit for bit
 * (OpenCV 4.x, modules/imgproc/src/resize.cpp): half-pixel centres, two taps per axis whatever the scale (no
 * antialiasing), replicated borders, 11-bit fixed-point weights, and the rounding of the vectorised vertical pass
 * (`VResizeLinearVec_32s8u`), which matches every byte of Debian's OpenCV 4.6 on x86-64 where the scalar rounding
 * does not. An exact 2x shrink is the mean of 2x2 blocks, as OpenCV switches to INTER_AREA there.
 */

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

/**
 * Per destination index: the first source index and the two taps' weights, each rounded from float as OpenCV does.
 * Columns outside the source collapse onto the edge pixel with weights (1, 0); rows keep their weights and read
 * clamped rows instead, which rounds differently in the vertical pass.
 */
function linearTaps(sourceSize: number, targetSize: number, clampAtEdges: boolean): { index: Int32Array; weight0: Int16Array; weight1: Int16Array } {
  const scale = 1 / (targetSize / sourceSize);
  const index = new Int32Array(targetSize);
  const weight0 = new Int16Array(targetSize);
  const weight1 = new Int16Array(targetSize);
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

/** int16 × int16, high half: the `_mm_mulhi_epi16` of the vector loop. */
const mulHi = (a: number, b: number) => (a * b) >> 16;

function resizeLinear(source: PackedImage, target: ResizeTarget): void {
  const { data, width: sourceWidth, height: sourceHeight, channels } = source;
  const { canvas, canvasWidth, left, top, width, height } = target;
  const columns = linearTaps(sourceWidth, width, true);
  const rows = linearTaps(sourceHeight, height, false);
  const rowLength = width * channels;
  // Per output element: offset of the first tap in its source row, distance to the second (0 at the right edge), weights.
  const offset = new Int32Array(rowLength);
  const step = new Int32Array(rowLength);
  const alpha0 = new Int32Array(rowLength);
  const alpha1 = new Int32Array(rowLength);
  for (let x = 0; x < width; x += 1) {
    const sx = columns.index[x] ?? 0;
    for (let c = 0; c < channels; c += 1) {
      const element = x * channels + c;
      offset[element] = sx * channels + c;
      step[element] = sx + 1 < sourceWidth ? channels : 0;
      alpha0[element] = columns.weight0[x] ?? 0;
      alpha1[element] = columns.weight1[x] ?? 0;
    }
  }
  // The horizontal pass of the last two source rows used: consecutive output rows mostly share them.
  const buffers = [new Int32Array(rowLength), new Int32Array(rowLength)];
  const bufferRow = [-1, -1];
  const horizontal = (y: number): Int32Array => {
    const clamped = Math.min(sourceHeight - 1, Math.max(0, y));
    const slot = clamped & 1;
    const buffer = buffers[slot] ?? new Int32Array(rowLength);
    if (bufferRow[slot] === clamped) return buffer;
    const rowStart = clamped * sourceWidth * channels;
    for (let element = 0; element < rowLength; element += 1) {
      const s = rowStart + (offset[element] ?? 0);
      buffer[element] = (data[s] ?? 0) * (alpha0[element] ?? 0) + (data[s + (step[element] ?? 0)] ?? 0) * (alpha1[element] ?? 0);
    }
    bufferRow[slot] = clamped;
    return buffer;
  };
  for (let y = 0; y < height; y += 1) {
    const sy = rows.index[y] ?? 0;
    const row0 = horizontal(sy);
    const row1 = horizontal(sy + 1);
    const b0 = rows.weight0[y] ?? 0;
    const b1 = rows.weight1[y] ?? 0;
    let out = ((top + y) * canvasWidth + left) * channels;
    for (let x = 0; x < rowLength; x += 1, out += 1) {
      const value = (mulHi((row0[x] ?? 0) >> 4, b0) + mulHi((row1[x] ?? 0) >> 4, b1) + 2) >> 2;
      canvas[out] = value < 0 ? 0 : value > 255 ? 255 : value;
    }
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
        canvas[out] = ((data[s] ?? 0) + (data[s + channels] ?? 0) + (data[s + stride] ?? 0) + (data[s + stride + channels] ?? 0) + 2) >> 2;
      }
    }
  }
}

/** Resizes `source` to `target.width` × `target.height` and writes it into the canvas at (left, top). */
export function resizeOpenCvLinear(source: PackedImage, target: ResizeTarget): void {
  const { width: sourceWidth, height: sourceHeight, channels } = source;
  if (source.data.length < sourceWidth * sourceHeight * channels) throw new RangeError('the source buffer is smaller than its dimensions');
  if ((target.top + target.height) * target.canvasWidth * channels > target.canvas.length || target.left + target.width > target.canvasWidth) {
    throw new RangeError('the resized image does not fit the canvas');
  }
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
  else resizeLinear(source, target);
}
