import type { Box, Classification, Detection } from '@edge-ml/contracts';
import { ModelOutputMismatchError } from './errors.js';
import { labelFor, type Labels } from './labels.js';
import type { ModelSpec } from './model-spec.js';
import { nonMaxSuppression, type ScoredBox } from './nms.js';
import type { FrameGeometry } from './preprocess.js';
import type { Tensor, TensorInfo } from './signature.js';

export interface DecodeInput {
  outputs: Tensor[];
  outputInfo: TensorInfo[];
  spec: ModelSpec;
  geometry: FrameGeometry;
  labels: Labels;
  /** Overrides the model's score threshold for one request. */
  scoreThreshold?: number;
}

export interface DecodedResult {
  detections: Detection[];
  classifications: Classification[];
}

/** Maps a box in model-input pixels back to original-image pixels. */
function inputToOriginal(box: Box, geometry: FrameGeometry): Box {
  return {
    xmin: (box.xmin - geometry.padLeft) / geometry.scaleX,
    ymin: (box.ymin - geometry.padTop) / geometry.scaleY,
    xmax: (box.xmax - geometry.padLeft) / geometry.scaleX,
    ymax: (box.ymax - geometry.padTop) / geometry.scaleY,
  };
}

const clamp = (value: number, max: number) => Math.min(max, Math.max(0, value));

function toDetections(boxes: ScoredBox[], geometry: FrameGeometry, labels: Labels): Detection[] {
  const { originalWidth: width, originalHeight: height } = geometry;
  return boxes.map(({ classId, score, box }) => {
    const pixels = { xmin: clamp(box.xmin, width), ymin: clamp(box.ymin, height), xmax: clamp(box.xmax, width), ymax: clamp(box.ymax, height) };
    return {
      label: labelFor(labels, classId),
      classId,
      score,
      box: { xmin: pixels.xmin / width, ymin: pixels.ymin / height, xmax: pixels.xmax / width, ymax: pixels.ymax / height },
      boxPixels: pixels,
    };
  });
}

function toNumber(value: number | bigint | undefined): number {
  return typeof value === 'bigint' ? Number(value) : (value ?? 0);
}

/** SSD with TFLite_Detection_PostProcess: boxes [ymin,xmin,ymax,xmax] normalised to the input, classes, scores, count. */
export function decodeSsd({ outputs, spec, geometry, labels, scoreThreshold }: DecodeInput): DecodedResult {
  const [boxes, classes, scores, count] = outputs;
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, outputs is a dense array, so when one tensor is missing every later one is too and `!count` alone decides.
  if (!boxes || !classes || !scores || !count) throw new ModelOutputMismatchError('ssd', `expected 4 outputs, got ${outputs.length}`);
  const rows = scores.data.length;
  if (boxes.data.length !== rows * 4 || classes.data.length !== rows || count.data.length < 1) {
    throw new ModelOutputMismatchError('ssd', `boxes [${boxes.shape.join(',')}], classes [${classes.shape.join(',')}], scores [${scores.shape.join(',')}] disagree`);
  }
  const threshold = scoreThreshold ?? spec.scoreThreshold;
  const valid = Math.min(rows, Math.max(0, Math.round(toNumber(count.data[0]))));
  const found: ScoredBox[] = [];
  for (let index = 0; index < valid; index += 1) {
    const score = toNumber(scores.data[index]);
    if (score < threshold) continue;
    const [ymin, xmin, ymax, xmax] = [0, 1, 2, 3].map((k) => toNumber(boxes.data[index * 4 + k]));
    const box = { xmin: (xmin ?? 0) * spec.input.width, ymin: (ymin ?? 0) * spec.input.height, xmax: (xmax ?? 0) * spec.input.width, ymax: (ymax ?? 0) * spec.input.height };
    found.push({ classId: Math.round(toNumber(classes.data[index])), score, box: inputToOriginal(box, geometry) });
  }
  return { detections: toDetections(found.slice(0, spec.maxDetections), geometry, labels), classifications: [] };
}

/** YOLOX: rows [tx, ty, tw, th, obj, cls...] over strides 8, 16, 32, grid decoded here, then NMS in original-image pixels as the spec says. */
export function decodeYolox({ outputs, spec, geometry, labels, scoreThreshold }: DecodeInput): DecodedResult {
  const [output] = outputs;
  if (!output || output.shape.length !== 3) throw new ModelOutputMismatchError('yolox', `expected one [1, anchors, 5 + classes] output`);
  const rowLength = output.shape[2] ?? 0;
  const rows = output.shape[1] ?? 0;
  const strides = [8, 16, 32];
  const grids = strides.map((stride) => ({ stride, columns: Math.floor(spec.input.width / stride), rowsOfGrid: Math.floor(spec.input.height / stride) }));
  const expectedRows = grids.reduce((sum, grid) => sum + grid.columns * grid.rowsOfGrid, 0);
  if (rows !== expectedRows || rowLength < 6) {
    throw new ModelOutputMismatchError('yolox', `output [${output.shape.join(',')}] does not fit a ${spec.input.width}x${spec.input.height} input (expected ${expectedRows} rows)`);
  }
  const data = output.data as Float32Array;
  const threshold = scoreThreshold ?? spec.scoreThreshold;
  const candidates: ScoredBox[] = [];
  let row = 0;
  for (const { stride, columns, rowsOfGrid } of grids) {
    for (let gy = 0; gy < rowsOfGrid; gy += 1) {
      for (let gx = 0; gx < columns; gx += 1, row += 1) {
        const base = row * rowLength;
        const objectness = data[base + 4] ?? 0;
        // Stryker disable next-line ConditionalExpression: equivalent, class scores are probabilities (at most 1), so the score below is under the threshold whenever objectness is; this saves the class loop.
        if (objectness < threshold) continue;
        let bestClass = 0;
        let bestScore = 0;
        for (let k = 5; k < rowLength; k += 1) {
          const value = data[base + k] ?? 0;
          if (value > bestScore) {
            bestScore = value;
            bestClass = k - 5;
          }
        }
        const score = objectness * bestScore;
        if (score < threshold) continue;
        const cx = ((data[base] ?? 0) + gx) * stride;
        const cy = ((data[base + 1] ?? 0) + gy) * stride;
        const w = Math.exp(data[base + 2] ?? 0) * stride;
        const h = Math.exp(data[base + 3] ?? 0) * stride;
        candidates.push({ classId: bestClass, score, box: inputToOriginal({ xmin: cx - w / 2, ymin: cy - h / 2, xmax: cx + w / 2, ymax: cy + h / 2 }, geometry) });
      }
    }
  }
  return { detections: toDetections(nonMaxSuppression(candidates, { iouThreshold: spec.iouThreshold, mode: spec.nmsMode, boxArea: spec.nmsBoxArea }, spec.maxDetections), geometry, labels), classifications: [] };
}

/**
 * The ONNX zoo Tiny YOLOv3 signature: boxes [1, N, 4] as [y1, x1, y2, x2] in original pixels, scores [1, classes, N],
 * and selected indices [M, 3] of (batch, class, box) produced by NMS inside the graph.
 */
export function decodeTinyYolov3({ outputs, outputInfo, spec, geometry, labels, scoreThreshold }: DecodeInput): DecodedResult {
  const isInteger = (tensor: Tensor) => tensor.data instanceof Int32Array || tensor.data instanceof BigInt64Array;
  const indicesIndex = outputs.findIndex((tensor) => isInteger(tensor) && tensor.shape[tensor.shape.length - 1] === 3);
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent for the zoo signature, where the indices are 2-D and no other output is 3-D with a last dimension of 4.
  const boxesIndex = outputs.findIndex((tensor, index) => index !== indicesIndex && tensor.shape.length === 3 && tensor.shape[2] === 4);
  const scoresIndex = outputs.findIndex((_, index) => index !== indicesIndex && index !== boxesIndex);
  const boxes = outputs[boxesIndex];
  const scores = outputs[scoresIndex];
  const indices = outputs[indicesIndex];
  if (!boxes || !scores || !indices) {
    throw new ModelOutputMismatchError('tiny-yolov3', `expected boxes [1,N,4], scores [1,C,N] and indices [M,3]; got ${outputInfo.map((info) => info.name).join(', ')}`);
  }
  const boxCount = boxes.shape[1] ?? 0;
  const threshold = scoreThreshold ?? spec.scoreThreshold;
  const found: ScoredBox[] = [];
  const selected = indices.data.length / 3;
  for (let index = 0; index < selected; index += 1) {
    const classId = toNumber(indices.data[index * 3 + 1]);
    const boxIndex = toNumber(indices.data[index * 3 + 2]);
    if (boxIndex < 0 || boxIndex >= boxCount) continue;
    const score = toNumber(scores.data[classId * boxCount + boxIndex]);
    if (score < threshold) continue;
    const [y1, x1, y2, x2] = [0, 1, 2, 3].map((k) => toNumber(boxes.data[boxIndex * 4 + k]));
    found.push({ classId, score, box: { xmin: x1 ?? 0, ymin: y1 ?? 0, xmax: x2 ?? 0, ymax: y2 ?? 0 } });
  }
  found.sort((a, b) => b.score - a.score);
  return { detections: toDetections(found.slice(0, spec.maxDetections), geometry, labels), classifications: [] };
}

/** Image classification: the top-k classes of a [1, classes] score vector, dequantised when the output is quantised. */
export function decodeClassification({ outputs, outputInfo, spec, labels, scoreThreshold }: DecodeInput): DecodedResult {
  const [output] = outputs;
  if (!output || output.shape.length !== 2) throw new ModelOutputMismatchError('classification', 'expected one [1, classes] output');
  const quantization = outputInfo[0]?.quantization;
  const scale = quantization?.scale ?? (output.data instanceof Uint8Array ? 1 / 255 : 1);
  const zeroPoint = quantization?.zeroPoint ?? 0;
  const scores = Array.from(output.data as ArrayLike<number>, (value) => (value - zeroPoint) * scale);
  const threshold = scoreThreshold ?? spec.scoreThreshold;
  const ranked = scores
    .map((score, classId) => ({ classId, score }))
    .filter((entry) => entry.score >= threshold)
    .sort((a, b) => b.score - a.score)
    .slice(0, spec.topK);
  return { detections: [], classifications: ranked.map(({ classId, score }) => ({ classId, score, label: labelFor(labels, classId) })) };
}

export function decodeOutputs(input: DecodeInput): DecodedResult {
  switch (input.spec.family) {
    case 'ssd':
      return decodeSsd(input);
    case 'yolox':
      return decodeYolox(input);
    case 'tiny-yolov3':
      return decodeTinyYolov3(input);
    case 'classification':
      return decodeClassification(input);
  }
}
