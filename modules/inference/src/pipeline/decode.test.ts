import { describe, expect, it } from 'vitest';
import { decodeClassification, decodeOutputs, decodeSsd, decodeTinyYolov3, decodeYolox, type DecodeInput } from './decode.js';
import { ModelOutputMismatchError } from './errors.js';
import { parseLabels } from './labels.js';
import type { ModelSpec } from './model-spec.js';
import type { FrameGeometry } from './preprocess.js';
import type { Tensor, TensorInfo } from './signature.js';

const labels = parseLabels('zero\none\ntwo\nthree');

function spec(overrides: Partial<ModelSpec> & { width?: number; height?: number } = {}): ModelSpec {
  const { width = 300, height = 300, ...rest } = overrides;
  return {
    family: 'ssd',
    input: {
      width, height, layout: 'nhwc', colorOrder: 'rgb', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 0, dtype: 'uint8',
      scale: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'opencv-linear', letterboxRounding: 'round',
    },
    imageInputName: 'image',
    scoreThreshold: 0.5,
    iouThreshold: 0.5,
    nmsMode: 'per-class',
    nmsBoxArea: 'continuous',
    maxDetections: 10,
    topK: 3,
    ...rest,
  };
}

/** An identity mapping between input and original pixels, on an original image of `width` × `height`. */
const identity = (width: number, height: number): FrameGeometry => ({
  originalWidth: width, originalHeight: height, scaleX: 1, scaleY: 1, padLeft: 0, padTop: 0, contentWidth: width, contentHeight: height,
});

/** Float32 tensors carry about 7 significant digits: compare boxes at 1e-4. */
const rounded = (box: Record<string, number> | undefined) => box && Object.fromEntries(Object.entries(box).map(([key, value]) => [key, Math.round(value * 10_000) / 10_000]));
const f32 = (shape: number[], values: number[]): Tensor => ({ shape, data: Float32Array.from(values) });
const info = (name: string, quantization?: TensorInfo['quantization']): TensorInfo => ({ name, dtype: 'float32', shape: [], ...(quantization ? { quantization } : {}) });

function input(outputs: Tensor[], modelSpec: ModelSpec, geometry: FrameGeometry, extra: Partial<DecodeInput> = {}): DecodeInput {
  return { outputs, outputInfo: outputs.map((_, index) => info(`out${index}`)), spec: modelSpec, geometry, labels, ...extra };
}

describe('decodeSsd', () => {
  // The model's 300 × 300 input holds a 600 × 300 original scaled by 1/2, shifted right by 6 and down by 75.
  const geometry: FrameGeometry = { originalWidth: 600, originalHeight: 300, scaleX: 0.5, scaleY: 0.5, padLeft: 6, padTop: 75, contentWidth: 300, contentHeight: 150 };
  /** Rows of [ymin, xmin, ymax, xmax, class, score], normalised to the input. */
  function ssdOutputs(rows: number[][], count: number | bigint): Tensor[] {
    return [
      f32([1, rows.length, 4], rows.flatMap((row) => row.slice(0, 4))),
      f32([1, rows.length], rows.map((row) => row[4] ?? 0)),
      f32([1, rows.length], rows.map((row) => row[5] ?? 0)),
      typeof count === 'bigint' ? { shape: [1], data: BigInt64Array.from([count]) } : f32([1], [count]),
    ];
  }
  const rows = [
    [0.25, 0.1, 0.75, 0.5, 1, 0.9],
    [0.3, 0.3, 0.4, 0.4, 2, 0.49],
    [0.3, 0.3, 0.4, 0.4, 3, 0.5],
    [0.1, 0.1, 0.2, 0.2, 0, 0.99],
  ];

  it('maps boxes from normalised [ymin, xmin, ymax, xmax] input coordinates to original pixels, and names their classes', () => {
    const { detections, classifications } = decodeSsd(input(ssdOutputs(rows, 3), spec(), geometry));
    expect(classifications).toEqual([]);
    expect(detections[0]).toEqual({
      label: 'one', classId: 1, score: expect.closeTo(0.9, 6) as number,
      // input pixels (30, 75)–(150, 225) → original ((30 - 6) / 0.5, (75 - 75) / 0.5)–((150 - 6) / 0.5, (225 - 75) / 0.5)
      boxPixels: expect.anything() as unknown,
      box: expect.anything() as unknown,
    });
    expect(rounded(detections[0]?.boxPixels)).toEqual({ xmin: 48, ymin: 0, xmax: 288, ymax: 300 });
    expect(rounded(detections[0]?.box)).toEqual({ xmin: 0.08, ymin: 0, xmax: 0.48, ymax: 1 });
  });

  it("reads each row's own box, and maps the bottom edge without reaching the image border", () => {
    const [, second] = decodeSsd(input(ssdOutputs(rows, 3), spec(), geometry)).detections;
    // row 2: input pixels (90, 90)–(120, 120) → ((90 - 6) / 0.5, (90 - 75) / 0.5)–((120 - 6) / 0.5, (120 - 75) / 0.5)
    expect(rounded(second?.boxPixels)).toEqual({ xmin: 168, ymin: 30, xmax: 228, ymax: 90 });
  });

  it('reads only the first `count` rows and keeps scores at or above the threshold', () => {
    const { detections } = decodeSsd(input(ssdOutputs(rows, 3), spec(), geometry));
    expect(detections.map((detection) => detection.classId)).toEqual([1, 3]);
    expect(decodeSsd(input(ssdOutputs(rows, 2.6), spec(), geometry)).detections.map((detection) => detection.classId)).toEqual([1, 3]);
    expect(decodeSsd(input(ssdOutputs(rows, 1), spec(), geometry)).detections.map((detection) => detection.classId)).toEqual([1]);
    expect(decodeSsd(input(ssdOutputs(rows, 0), spec(), geometry)).detections).toEqual([]);
    expect(decodeSsd(input(ssdOutputs(rows, -5), spec(), geometry)).detections).toEqual([]);
  });

  it('reads a count beyond the rows as all of them, and a 64-bit count', () => {
    expect(decodeSsd(input(ssdOutputs(rows, 50), spec(), geometry)).detections.map((detection) => detection.classId)).toEqual([1, 3, 0]);
    expect(decodeSsd(input(ssdOutputs(rows, 4n), spec(), geometry)).detections.map((detection) => detection.classId)).toEqual([1, 3, 0]);
  });

  it('uses a request threshold over the model one, and stops at maxDetections', () => {
    expect(decodeSsd(input(ssdOutputs(rows, 4), spec(), geometry, { scoreThreshold: 0.95 })).detections.map((detection) => detection.classId)).toEqual([0]);
    expect(decodeSsd(input(ssdOutputs(rows, 4), spec(), geometry, { scoreThreshold: 0.4 })).detections).toHaveLength(4);
    expect(decodeSsd(input(ssdOutputs(rows, 4), spec({ maxDetections: 2 }), geometry)).detections.map((detection) => detection.classId)).toEqual([1, 3]);
  });

  it('rounds float class ids and clamps boxes that leave the image', () => {
    const [detection] = decodeSsd(input(ssdOutputs([[-0.5, -0.5, 1.5, 1.5, 1.6, 0.9]], 1), spec(), identity(300, 300))).detections;
    expect(detection).toMatchObject({ classId: 2, label: 'two', boxPixels: { xmin: 0, ymin: 0, xmax: 300, ymax: 300 }, box: { xmin: 0, ymin: 0, xmax: 1, ymax: 1 } });
  });

  it('maps width and height independently', () => {
    const [detection] = decodeSsd(input(ssdOutputs([[0.1, 0.2, 0.3, 0.6, 0, 0.9]], 1), spec({ width: 200, height: 100 }), identity(400, 400))).detections;
    expect(rounded(detection?.boxPixels)).toEqual({ xmin: 40, ymin: 10, xmax: 120, ymax: 30 });
    expect(rounded(detection?.box)).toEqual({ xmin: 0.1, ymin: 0.025, xmax: 0.3, ymax: 0.075 });
  });

  it('refuses outputs that are not the four tensors of the post-process op, or that disagree', () => {
    const good = ssdOutputs(rows, 4);
    const [boxes, classes, scores, count] = good as [Tensor, Tensor, Tensor, Tensor];
    expect(() => decodeSsd(input(good.slice(0, 3), spec(), geometry))).toThrow(ModelOutputMismatchError);
    expect(() => decodeSsd(input([f32([1, 3, 4], Array(12).fill(0)), classes, scores, count], spec(), geometry))).toThrow(ModelOutputMismatchError);
    expect(() => decodeSsd(input([boxes, f32([1, 3], [0, 0, 0]), scores, count], spec(), geometry))).toThrow(ModelOutputMismatchError);
    expect(() => decodeSsd(input([boxes, classes, scores, f32([0], [])], spec(), geometry))).toThrow(ModelOutputMismatchError);
  });
});

describe('decodeYolox', () => {
  // A 64 × 32 input: strides 8, 16 and 32 give grids of 8 × 4, 4 × 2 and 2 × 1 cells, 42 rows in all.
  const modelSpec = spec({ family: 'yolox', width: 64, height: 32, scoreThreshold: 0.5, iouThreshold: 0.5 });
  const ROWS = 42;
  const CLASSES = 3;
  const rowIndex = (stride: 8 | 16 | 32, gx: number, gy: number) => (stride === 8 ? 0 : stride === 16 ? 32 : 40) + gy * (64 / stride) + gx;
  function yoloxOutput(cells: Array<{ row: number; values: number[] }>, rowLength = 5 + CLASSES, rows = ROWS): Tensor {
    const data = new Float32Array(rows * rowLength);
    for (const { row, values } of cells) data.set(values, row * rowLength);
    return { shape: [1, rows, rowLength], data };
  }

  it('decodes the grid cell, stride and exponent of a box, and picks its best class', () => {
    const cell = { row: rowIndex(16, 1, 1), values: [0.5, 0.25, Math.log(2), 0, 0.9, 0.1, 0.8, 0.3] };
    const { detections } = decodeYolox(input([yoloxOutput([cell])], modelSpec, identity(64, 32)));
    expect(detections).toHaveLength(1);
    // centre ((0.5 + 1) × 16, (0.25 + 1) × 16) = (24, 20), size (2 × 16, 1 × 16)
    expect(detections[0]).toMatchObject({ classId: 1, label: 'one' });
    expect(rounded(detections[0]?.boxPixels)).toEqual({ xmin: 8, ymin: 12, xmax: 40, ymax: 28 });
    expect(detections[0]?.score).toBeCloseTo(0.72, 6);
  });

  it('scales the height by the exponent of th, and reads no class score from the next row', () => {
    const cells = [
      { row: rowIndex(16, 1, 1), values: [0, 0, 0, Math.log(2), 0.9, 0.1, 0.8, 0.3] },
      { row: rowIndex(16, 1, 1) + 1, values: [0.95, 0, 0, 0, 0, 0, 0, 0] },
    ];
    const { detections, classifications } = decodeYolox(input([yoloxOutput(cells)], modelSpec, identity(64, 32)));
    expect(classifications).toEqual([]);
    expect(detections).toHaveLength(1);
    // centre (16, 16), 16 wide and 2 × 16 high
    expect(detections[0]).toMatchObject({ classId: 1 });
    expect(rounded(detections[0]?.boxPixels)).toEqual({ xmin: 8, ymin: 0, xmax: 24, ymax: 32 });
  });

  it('walks the grids in order: stride 8 row-major, then 16, then 32', () => {
    const cells = [
      { row: rowIndex(8, 7, 3), values: [0, 0, 0, 0, 1, 1, 0, 0] },
      { row: rowIndex(32, 1, 0), values: [0, 0, 0, 0, 1, 0, 0, 1] },
    ];
    const { detections } = decodeYolox(input([yoloxOutput(cells)], modelSpec, identity(64, 32)));
    // cell (7, 3) of stride 8 is centred on (56, 24), 8 pixels wide; cell (1, 0) of stride 32 on (32, 0), 32 wide, clamped at the top
    expect(detections.map((detection) => detection.boxPixels)).toEqual([
      { xmin: 52, ymin: 20, xmax: 60, ymax: 28 },
      { xmin: 16, ymin: 0, xmax: 48, ymax: 16 },
    ]);
    expect(detections.map((detection) => detection.classId)).toEqual([0, 2]);
  });

  it('keeps objectness × class score at or above the threshold, and drops a box whose objectness alone is below it', () => {
    const cells = [
      { row: 0, values: [0, 0, 0, 0, 0.5, 1, 0, 0] },
      { row: 20, values: [0, 0, 0, 0, 0.49, 0, 1, 0] },
      { row: 33, values: [0, 0, 0, 0, 0.9, 0, 0, 0.5] },
      { row: 41, values: [0, 0, 0, 0, 0.9, 0, 0, 0] },
    ];
    const { detections } = decodeYolox(input([yoloxOutput(cells)], modelSpec, identity(64, 32)));
    expect(detections.map((detection) => detection.classId)).toEqual([0]);
    expect(decodeYolox(input([yoloxOutput(cells)], modelSpec, identity(64, 32), { scoreThreshold: 0.4 })).detections.map((detection) => detection.classId)).toEqual([0, 1, 2]);
  });

  it('gives a tie between classes to the first of them', () => {
    const { detections } = decodeYolox(input([yoloxOutput([{ row: 5, values: [0, 0, 0, 0, 1, 0.2, 0.7, 0.7] }])], modelSpec, identity(64, 32)));
    expect(detections.map((detection) => detection.classId)).toEqual([1]);
  });

  it('suppresses overlapping boxes as the spec says, per class or across classes, and stops at maxDetections', () => {
    const cells = [
      { row: rowIndex(32, 0, 0), values: [0, 0, 0, 0, 1, 0.9, 0, 0] },
      { row: rowIndex(32, 1, 0), values: [-0.9, 0, 0, 0, 1, 0, 0.8, 0] },
      { row: rowIndex(8, 0, 0), values: [0, 0, 0, 0, 1, 0, 0, 0.7] },
    ];
    const decode = (overrides: Partial<ModelSpec>) => decodeYolox(input([yoloxOutput(cells)], { ...modelSpec, ...overrides }, identity(64, 32))).detections.map((detection) => detection.classId);
    expect(decode({ nmsMode: 'per-class' })).toEqual([0, 1, 2]);
    expect(decode({ nmsMode: 'class-agnostic' })).toEqual([0, 2]);
    expect(decode({ nmsMode: 'class-agnostic', iouThreshold: 0.9 })).toEqual([0, 1, 2]);
    expect(decode({ nmsMode: 'per-class', maxDetections: 2 })).toEqual([0, 1]);
  });

  it('maps boxes back to original pixels through the geometry', () => {
    const geometry: FrameGeometry = { originalWidth: 100, originalHeight: 100, scaleX: 0.5, scaleY: 0.25, padLeft: 4, padTop: 2, contentWidth: 50, contentHeight: 25 };
    const cell = { row: rowIndex(16, 1, 1), values: [0.5, 0.25, Math.log(2), 0, 0.9, 0.1, 0.8, 0.3] };
    const [detection] = decodeYolox(input([yoloxOutput([cell])], modelSpec, geometry)).detections;
    expect(rounded(detection?.boxPixels)).toEqual({ xmin: 8, ymin: 40, xmax: 72, ymax: 100 });
    // The same box lower in a taller image: (28 - 2) / 0.25 = 104 is inside it.
    const [taller] = decodeYolox(input([yoloxOutput([cell])], modelSpec, { ...geometry, originalHeight: 200 })).detections;
    expect(rounded(taller?.boxPixels)).toEqual({ xmin: 8, ymin: 40, xmax: 72, ymax: 104 });
  });

  it('refuses an output that does not fit the input size or carries no class', () => {
    expect(() => decodeYolox(input([], modelSpec, identity(64, 32)))).toThrow(ModelOutputMismatchError);
    expect(() => decodeYolox(input([f32([42, 8], [])], modelSpec, identity(64, 32)))).toThrow(ModelOutputMismatchError);
    expect(() => decodeYolox(input([{ shape: [1, 42, 8, 1], data: new Float32Array(42 * 8) }], modelSpec, identity(64, 32)))).toThrow(ModelOutputMismatchError);
    expect(() => decodeYolox(input([yoloxOutput([], 8, 84)], modelSpec, identity(64, 32)))).toThrow(ModelOutputMismatchError);
    expect(() => decodeYolox(input([yoloxOutput([], 5)], modelSpec, identity(64, 32)))).toThrow(ModelOutputMismatchError);
    expect(decodeYolox(input([yoloxOutput([{ row: 0, values: [0, 0, 0, 0, 1, 1] }], 6)], modelSpec, identity(64, 32))).detections).toHaveLength(1);
  });
});

describe('decodeTinyYolov3', () => {
  const modelSpec = spec({ family: 'tiny-yolov3', scoreThreshold: 0.5 });
  // Three boxes in original pixels as [y1, x1, y2, x2]; scores [1, 4 classes, 3 boxes].
  const boxes = f32([1, 3, 4], [10, 20, 30, 40, 0, 0, 50, 50, 5, 5, 6, 6]);
  const scores = f32([1, 4, 3], [
    0.1, 0.2, 0.3,
    0.6, 0.7, 0.5,
    0.9, 0.1, 0.49,
    0.8, 0.8, 0.8,
  ]);
  const indices = (triples: number[][]): Tensor => ({ shape: [triples.length, 3], data: Int32Array.from(triples.flat()) });
  const geometry = identity(100, 100);

  it('decodes the selected (batch, class, box) triples into boxes in original pixels, best score first', () => {
    const { detections } = decodeTinyYolov3(input([boxes, scores, indices([[0, 1, 0], [0, 2, 0], [0, 1, 1]])], modelSpec, geometry));
    expect(detections.map(({ classId, score }) => [classId, Number(score.toFixed(2))])).toEqual([[2, 0.9], [1, 0.7], [1, 0.6]]);
    expect(detections[0]).toMatchObject({ label: 'two', boxPixels: { xmin: 20, ymin: 10, xmax: 40, ymax: 30 }, box: { xmin: 0.2, ymin: 0.1, xmax: 0.4, ymax: 0.3 } });
    expect(detections[1]?.boxPixels).toEqual({ xmin: 0, ymin: 0, xmax: 50, ymax: 50 });
  });

  it('finds its tensors in any order, and reads 64-bit indices', () => {
    const selected: Tensor = { shape: [1, 3], data: BigInt64Array.from([0n, 3n, 2n]) };
    const { detections } = decodeTinyYolov3(input([selected, scores, boxes], modelSpec, geometry));
    expect(detections).toMatchObject([{ classId: 3, boxPixels: { xmin: 5, ymin: 5, xmax: 6, ymax: 6 } }]);
    expect(detections[0]?.score).toBeCloseTo(0.8, 6);
    expect(decodeTinyYolov3(input([scores, indices([[0, 2, 0]]), boxes], modelSpec, geometry)).detections.map((detection) => detection.classId)).toEqual([2]);
  });

  it('skips indices outside the boxes and scores under the threshold, and stops at maxDetections', () => {
    const selected = indices([[0, 2, 3], [0, 3, -1], [0, 2, 2], [0, 0, 2], [0, 1, 2], [0, 3, 0], [0, 3, 1]]);
    expect(decodeTinyYolov3(input([boxes, scores, selected], modelSpec, geometry)).detections.map((detection) => detection.classId)).toEqual([3, 3, 1]);
    expect(decodeTinyYolov3(input([boxes, scores, selected], modelSpec, geometry, { scoreThreshold: 0.3 })).detections.map((detection) => detection.classId)).toEqual([3, 3, 1, 2, 0]);
    expect(decodeTinyYolov3(input([boxes, scores, selected], { ...modelSpec, maxDetections: 1 }, geometry)).detections).toHaveLength(1);
  });

  it('skips a class the scores do not have, and returns no classifications', () => {
    const result = decodeTinyYolov3(input([boxes, scores, indices([[0, 9, 0], [0, 2, 0]])], modelSpec, geometry));
    expect(result.detections.map((detection) => detection.classId)).toEqual([2]);
    expect(result.classifications).toEqual([]);
  });

  it('takes the integer tensor whose rows are triples as the indices, whatever other integer outputs come first', () => {
    const extra: Tensor = { shape: [1, 5], data: Int32Array.from([0, 1, 2, 3, 4]) };
    const { detections } = decodeTinyYolov3(input([boxes, scores, extra, indices([[0, 2, 0]])], modelSpec, geometry));
    expect(detections.map((detection) => detection.classId)).toEqual([2]);
  });

  it('refuses outputs without boxes, scores and indices, naming what it got', () => {
    expect(() => decodeTinyYolov3(input([boxes, scores], modelSpec, geometry))).toThrow(ModelOutputMismatchError);
    expect(() => decodeTinyYolov3(input([scores, indices([[0, 0, 0]])], modelSpec, geometry))).toThrow(ModelOutputMismatchError);
    expect(() => decodeTinyYolov3(input([boxes, indices([[0, 0, 0]])], modelSpec, geometry))).toThrow(ModelOutputMismatchError);
  });
});

describe('decodeClassification', () => {
  const modelSpec = spec({ family: 'classification', scoreThreshold: 0.25, topK: 2 });
  const geometry = identity(10, 10);

  it('ranks the top-k classes at or above the threshold, best first, with their labels', () => {
    const { detections, classifications } = decodeClassification(input([f32([1, 4], [0.25, 0.1, 0.6, 0.3])], modelSpec, geometry));
    expect(detections).toEqual([]);
    expect(classifications).toEqual([
      { classId: 2, score: expect.closeTo(0.6, 6) as number, label: 'two' },
      { classId: 3, score: expect.closeTo(0.3, 6) as number, label: 'three' },
    ]);
    expect(decodeClassification(input([f32([1, 4], [0.25, 0.1, 0.6, 0.3])], { ...modelSpec, topK: 5 }, geometry)).classifications.map((entry) => entry.classId)).toEqual([2, 3, 0]);
    expect(decodeClassification(input([f32([1, 4], [0.25, 0.1, 0.6, 0.3])], modelSpec, geometry, { scoreThreshold: 0.5 })).classifications.map((entry) => entry.classId)).toEqual([2]);
  });

  it('dequantises with the output quantisation, and reads raw uint8 as n / 255 without one', () => {
    const quantized = { outputs: [{ shape: [1, 3], data: Uint8Array.from([10, 12, 20]) }], outputInfo: [info('probs', { scale: 0.5, zeroPoint: 10 })] };
    const fromQuantized = decodeClassification({ ...input(quantized.outputs, { ...modelSpec, topK: 3 }, geometry), outputInfo: quantized.outputInfo });
    expect(fromQuantized.classifications.map(({ classId, score }) => [classId, score])).toEqual([[2, 5], [1, 1]]);
    const raw = decodeClassification(input([{ shape: [1, 3], data: Uint8Array.from([0, 255, 51]) }], { ...modelSpec, topK: 3, scoreThreshold: 0 }, geometry));
    expect(raw.classifications.map(({ classId, score }) => [classId, Number(score.toFixed(3))])).toEqual([[1, 1], [2, 0.2], [0, 0]]);
  });

  it('decodes without any tensor information', () => {
    const { classifications } = decodeClassification({ ...input([f32([1, 2], [0.1, 0.9])], modelSpec, geometry), outputInfo: [] });
    expect(classifications.map((entry) => entry.classId)).toEqual([1]);
  });

  it('refuses an output that is not [1, classes]', () => {
    expect(() => decodeClassification(input([f32([1, 2, 2], [0, 0, 0, 0])], modelSpec, geometry))).toThrow(ModelOutputMismatchError);
    expect(() => decodeClassification(input([], modelSpec, geometry))).toThrow(ModelOutputMismatchError);
  });
});

describe('decodeOutputs', () => {
  it('dispatches on the family of the spec', () => {
    const geometry = identity(300, 300);
    const ssd = [f32([1, 1, 4], [0, 0, 0.5, 0.5]), f32([1, 1], [2]), f32([1, 1], [0.9]), f32([1], [1])];
    expect(decodeOutputs(input(ssd, spec({ family: 'ssd' }), geometry)).detections).toMatchObject([{ classId: 2 }]);
    const yolox = { shape: [1, 42, 6], data: new Float32Array(42 * 6).fill(0) };
    yolox.data.set([0, 0, 0, 0, 1, 1], 0);
    expect(decodeOutputs(input([yolox], spec({ family: 'yolox', width: 64, height: 32 }), geometry)).detections).toHaveLength(1);
    const tiny = [f32([1, 1, 4], [0, 0, 1, 1]), f32([1, 1, 1], [0.9]), { shape: [1, 3], data: Int32Array.from([0, 0, 0]) }];
    expect(decodeOutputs(input(tiny, spec({ family: 'tiny-yolov3' }), geometry)).detections).toHaveLength(1);
    expect(decodeOutputs(input([f32([1, 2], [0.1, 0.9])], spec({ family: 'classification' }), geometry)).classifications).toMatchObject([{ classId: 1 }]);
  });
});
