/**
 * The 3-channel INTER_LINEAR resample in WebAssembly SIMD (resize-linear-simd.wat): the same integer arithmetic as
 * the JavaScript loops in resize-opencv-linear.ts, ~10x faster. The taps come from the caller's plan; this file lays
 * them out in the module's memory, copies the source in bands of rows (so a 12 MP frame does not grow the memory to
 * its full size: the memory of a WebAssembly instance never shrinks), runs the passes and copies the rows out.
 * One instance per thread (each inference worker has its own), compiled on first use.
 */
import type { LinearPlan } from './resize-opencv-linear.js';
import { RESIZE_LINEAR_SIMD_WASM } from './resize-linear-simd.wasm.js';

/**
 * Per output column and row: the taps resize-opencv-linear.ts computed (column offsets in bytes, 3 channels). The
 * second column tap is always the next pixel here (an edge column's second weight is 0), so its offsets are not read.
 */
export type LinearTaps3 = Pick<LinearPlan, 'columnFirst' | 'columnWeight0' | 'columnWeight1' | 'rowFirst' | 'rowSecond' | 'rowWeight0' | 'rowWeight1'>;

// The WebAssembly API Node provides (this project's lib settings carry no declarations for it): what this file uses.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

interface Kernel {
  memory: WasmMemory;
  begin: () => void;
  rows: (...args: number[]) => void;
}

/**
 * Source bytes copied in per band at most (whole rows; at least the two rows one output row needs). 256 KiB keeps a
 * worker's kernel memory at ~0.6 MiB for the 640x424 photo (1.2 MiB with 1 MiB bands) at the same speed.
 */
export const BAND_BYTES = 1 << 18;
const PAGE = 65_536;

let kernel: Kernel | undefined;

function instantiate(): Kernel {
  const module = new WebAssembly.Module(Buffer.from(RESIZE_LINEAR_SIMD_WASM, 'base64'));
  const { exports } = new WebAssembly.Instance(module, {});
  return { memory: exports.memory as WasmMemory, begin: exports.begin as Kernel['begin'], rows: exports.rows as Kernel['rows'] };
}

const align = (bytes: number) => (bytes + 15) & ~15;

/** Whether this engine runs WebAssembly SIMD (Node 16.4 and later do); the JavaScript loops serve otherwise. */
export function simdAvailable(): boolean {
  if (kernel) return true;
  try {
    kernel = instantiate();
    return true;
  } catch {
    return false;
  }
}

/**
 * Resamples `data` (sourceWidth × sourceHeight × 3) to width × height into `canvas` (canvasWidth pixels wide) at
 * (left, top), with the given taps. The caller has checked the sizes.
 */
export function resizeLinear3Simd(
  data: Uint8Array,
  sourceWidth: number,
  taps: LinearTaps3,
  canvas: Uint8Array,
  canvasWidth: number,
  left: number,
  top: number,
  width: number,
  height: number,
): void {
  kernel ??= instantiate();
  const { memory, begin, rows } = kernel;
  const stride = sourceWidth * 3;
  const rowLength = width * 3;
  const rowsUsed = (taps.rowSecond[height - 1] as number) - (taps.rowFirst[0] as number) + 1;
  const sourceRows = Math.max(2, Math.min(rowsUsed, Math.floor(BAND_BYTES / stride)));
  // Layout: the column and row tables, the two row buffers, the output rows, the source band (each 16-aligned).
  const columns = (width + 3) & ~3;
  const colA = 0;
  const colW = align(colA + 4 * columns);
  const rowFirst = align(colW + 12 * columns);
  const rowSecond = align(rowFirst + 4 * height);
  const rowW0 = align(rowSecond + 4 * height);
  const rowW1 = align(rowW0 + 4 * height);
  const buf0 = align(rowW1 + 4 * height);
  const buf1 = align(buf0 + 4 * 3 * columns + 64);
  const out = align(buf1 + 4 * 3 * columns + 64);
  const band = align(out + rowLength * height + 16);
  const needed = band + sourceRows * stride + 16;
  if (memory.buffer.byteLength < needed) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
  const heap = new Int32Array(memory.buffer);
  heap.set(taps.columnFirst, colA >> 2);
  heap.fill(0, (colA >> 2) + width, (colA >> 2) + columns);
  const weights = heap.subarray(colW >> 2, (colW >> 2) + 3 * columns);
  weights.fill(0, 3 * width);
  for (let x = 0, w = 0; x < width; x += 1, w += 3) {
    const packed = (taps.columnWeight0[x] as number) | ((taps.columnWeight1[x] as number) << 16);
    weights[w] = packed;
    weights[w + 1] = packed;
    weights[w + 2] = packed;
  }
  heap.set(taps.rowFirst, rowFirst >> 2);
  heap.set(taps.rowSecond, rowSecond >> 2);
  heap.set(taps.rowWeight0, rowW0 >> 2);
  heap.set(taps.rowWeight1, rowW1 >> 2);
  const bytes = new Uint8Array(memory.buffer);
  begin();
  // Bands of output rows whose source rows fit the band: rows are non-decreasing in y.
  for (let y = 0; y < height; ) {
    const firstRow = taps.rowFirst[y] as number;
    let yEnd = y + 1;
    while (yEnd < height && (taps.rowSecond[yEnd] as number) - firstRow < sourceRows) yEnd += 1;
    const lastRow = taps.rowSecond[yEnd - 1] as number;
    bytes.set(data.subarray(firstRow * stride, (lastRow + 1) * stride), band);
    rows(band, firstRow, stride, y, yEnd, width, colA, colW, rowFirst, rowSecond, rowW0, rowW1, buf0, buf1, out);
    y = yEnd;
  }
  if (left === 0 && width === canvasWidth) {
    canvas.set(bytes.subarray(out, out + rowLength * height), top * rowLength);
    return;
  }
  for (let y = 0; y < height; y += 1) canvas.set(bytes.subarray(out + y * rowLength, out + (y + 1) * rowLength), ((top + y) * canvasWidth + left) * 3);
}
