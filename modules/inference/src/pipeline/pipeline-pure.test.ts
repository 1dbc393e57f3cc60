import { describe, expect, it } from 'vitest';
import { labelFor, parseLabels } from './labels.js';
import { inferFamily, resolveModelSpec } from './model-spec.js';
import { nonMaxSuppression } from './nms.js';
import { computeGeometry, frameToTensorData } from './preprocess.js';
import type { ResolvedInputSpec } from './model-spec.js';
import type { ModelSignature } from './signature.js';

describe('labels', () => {
  it('reads a TensorFlow labelmap with ??? placeholders as index = class + 1', () => {
    const labels = parseLabels('???\nperson\nbicycle\n');
    expect(labels.format).toBe('labelmap');
    expect(labelFor(labels, 0)).toBe('person');
  });
  it("reads Coral's coco_labels with n/a placeholders as index = class", () => {
    const labels = parseLabels('person\nbicycle\nn/a\ncar\n');
    expect(labels.format).toBe('coco-labels');
    expect(labelFor(labels, 3)).toBe('car');
  });
  it('reads numbered "id name" lines and plain lists, with Windows line endings', () => {
    expect(labelFor(parseLabels('0  person\r\n2  car\r\n'), 2)).toBe('car');
    expect(labelFor(parseLabels('person\r\nbicycle\r\n'), 1)).toBe('bicycle');
  });
  it('names unknown classes instead of failing', () => {
    expect(labelFor(parseLabels('a\nb'), 7)).toBe('class_7');
  });
});

const tensor = (name: string, shape: number[], dtype: 'float32' | 'uint8' = 'float32') => ({ name, shape, dtype });

describe('inferFamily', () => {
  it.each<[string, ModelSignature, string]>([
    ['SSD', { inputs: [tensor('in', [1, 300, 300, 3], 'uint8')], outputs: [0, 1, 2, 3].map((k) => tensor(`TFLite_Detection_PostProcess${k ? `:${k}` : ''}`, [])), hasDetectionPostProcess: true }, 'ssd'],
    ['YOLOX', { inputs: [tensor('images', [1, 3, 416, 416])], outputs: [tensor('output', [1, 3549, 85])], hasDetectionPostProcess: false }, 'yolox'],
    ['Tiny YOLOv3', { inputs: [tensor('input_1', [-1, 3, -1, -1]), tensor('image_shape', [-1, 2])], outputs: [tensor('a', [1, -1, 4]), tensor('b', [1, 80, -1]), tensor('c', [-1, 3])], hasDetectionPostProcess: false }, 'tiny-yolov3'],
    ['a classifier', { inputs: [tensor('input', [1, 224, 224, 3], 'uint8')], outputs: [tensor('probs', [1, 1001], 'uint8')], hasDetectionPostProcess: false }, 'classification'],
  ])('recognises %s', (_name, signature, family) => {
    expect(inferFamily(signature)).toBe(family);
  });
  it('says what it saw and what to do when it cannot tell', () => {
    const signature = { inputs: [tensor('x', [1, 10])], outputs: [tensor('y', [1, 2, 3, 4])], hasDetectionPostProcess: false };
    expect(() => inferFamily(signature)).toThrow(/x:float32\[1,10\].*model\.json.*family/);
  });
  it("gives YOLOX its official demo's pipeline and SSD the cv2 resize by default", () => {
    const yolox = { inputs: [tensor('images', [1, 3, 416, 416])], outputs: [tensor('output', [1, 3549, 85])], hasDetectionPostProcess: false };
    expect(resolveModelSpec(yolox)).toMatchObject({
      input: { interpolation: 'opencv-linear', letterboxRounding: 'floor' },
      iouThreshold: 0.45,
      nmsMode: 'class-agnostic',
      nmsBoxArea: 'pixel-inclusive',
    });
    const ssd = { inputs: [tensor('in', [1, 300, 300, 3], 'uint8')], outputs: [], hasDetectionPostProcess: true };
    expect(resolveModelSpec(ssd).input.interpolation).toBe('opencv-linear');
  });
  it('lets model.json choose the resize and NMS of the pipeline that validated the model', () => {
    const signature = { inputs: [tensor('images', [1, 3, 416, 416])], outputs: [tensor('output', [1, 3549, 85])], hasDetectionPostProcess: false };
    const descriptor = { schemaVersion: 1 as const, input: { interpolation: 'antialiased-linear' as const, letterboxRounding: 'round' as const }, nmsMode: 'per-class' as const, nmsBoxArea: 'continuous' as const, iouThreshold: 0.65 };
    expect(resolveModelSpec(signature, descriptor)).toMatchObject({
      input: { interpolation: 'antialiased-linear', letterboxRounding: 'round' },
      iouThreshold: 0.65,
      nmsMode: 'per-class',
      nmsBoxArea: 'continuous',
    });
  });
  it('lets model.json override the family defaults', () => {
    const signature = { inputs: [tensor('images', [1, 3, 416, 416])], outputs: [tensor('output', [1, 3549, 85])], hasDetectionPostProcess: false };
    expect(resolveModelSpec(signature, { schemaVersion: 1, scoreThreshold: 0.6, input: { colorOrder: 'rgb' } })).toMatchObject({ scoreThreshold: 0.6, input: { colorOrder: 'rgb', padValue: 114 } });
  });
});

describe('geometry and tensors', () => {
  const input: ResolvedInputSpec = {
    width: 416, height: 416, layout: 'nchw', colorOrder: 'bgr', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114, dtype: 'float32',
    scale: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'opencv-linear', letterboxRounding: 'round',
  };
  it('letterboxes a landscape image at the top left, keeping its aspect ratio', () => {
    const geometry = computeGeometry(640, 424, { ...input, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(geometry).toMatchObject({ contentWidth: 416, contentHeight: 276, padLeft: 0, padTop: 0, scaleX: 416 / 640 });
    expect(geometry.scaleY).toBeCloseTo(276 / 424, 6);
  });
  it("truncates the content size and maps boxes by the ratio itself with letterboxRounding: floor, as YOLOX's preproc", () => {
    // 512 × 416/929 = 229.27 and 333 × 416/1000 = 138.53: int() gives 229 and 138 where rounding gives 229 and 139.
    const portrait = computeGeometry(512, 929, { ...input, letterboxRounding: 'floor' });
    expect(portrait).toMatchObject({ contentWidth: 229, contentHeight: 416, scaleX: 416 / 929, scaleY: 416 / 929 });
    expect(computeGeometry(512, 929, input)).toMatchObject({ contentWidth: 229, scaleX: 229 / 512 });
    const landscape = computeGeometry(1000, 333, { ...input, letterboxRounding: 'floor' });
    expect(landscape).toMatchObject({ contentHeight: 138, scaleY: 0.416 });
    expect(computeGeometry(1000, 333, input)).toMatchObject({ contentHeight: 139, scaleY: 139 / 333 });
  });
  it('centres the image when asked to', () => {
    expect(computeGeometry(100, 200, { ...input, mean: [0, 0, 0], std: [1, 1, 1], letterboxPlacement: 'center' })).toMatchObject({ contentWidth: 208, padLeft: 104, padTop: 0 });
  });
  it('writes NCHW BGR floats from packed RGB', () => {
    const small = { ...input, width: 2, height: 1, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    const frame = { rgb: new Uint8Array([10, 20, 30, 40, 50, 60]), width: 2, height: 1, geometry: computeGeometry(2, 1, small) };
    expect(Array.from(frameToTensorData(frame, small))).toEqual([30, 60, 20, 50, 10, 40]);
    expect(Array.from(frameToTensorData(frame, { ...small, layout: 'nhwc', colorOrder: 'rgb', dtype: 'uint8' }))).toEqual([10, 20, 30, 40, 50, 60]);
    expect(Array.from(frameToTensorData(frame, { ...small, colorOrder: 'rgb', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }))[0]).toBeCloseTo((10 / 255 - 0.5) / 0.5, 6);
  });
});

describe('nonMaxSuppression', () => {
  const box = (xmin: number, ymin: number, xmax: number, ymax: number) => ({ xmin, ymin, xmax, ymax });
  const candidates = [
    { classId: 0, score: 0.9, box: box(0, 0, 10, 10) },
    { classId: 0, score: 0.8, box: box(1, 1, 10, 10) },
    { classId: 1, score: 0.7, box: box(1, 1, 10, 10) },
    { classId: 0, score: 0.6, box: box(20, 20, 30, 30) },
  ];
  it('per-class drops overlapping boxes of the same class only', () => {
    const kept = nonMaxSuppression(candidates, { iouThreshold: 0.45, mode: 'per-class' }, 10);
    expect(kept.map((entry) => entry.score)).toEqual([0.9, 0.7, 0.6]);
  });
  it('class-agnostic drops an overlapping box whatever its class, as YOLOX’s demo does', () => {
    const kept = nonMaxSuppression(candidates, { iouThreshold: 0.45, mode: 'class-agnostic' }, 10);
    expect(kept.map((entry) => entry.score)).toEqual([0.9, 0.6]);
  });
  it('pixel-inclusive areas count x2 - x1 + 1 pixels, which raises the overlap of small boxes', () => {
    // Continuous: 4 / (9 + 9 - 4) = 0.286; pixel-inclusive: 9 / (16 + 16 - 9) = 0.391.
    const pair = [
      { classId: 0, score: 0.9, box: box(0, 0, 3, 3) },
      { classId: 0, score: 0.8, box: box(1, 1, 4, 4) },
    ];
    expect(nonMaxSuppression(pair, { iouThreshold: 0.3, mode: 'per-class', boxArea: 'continuous' }, 10)).toHaveLength(2);
    expect(nonMaxSuppression(pair, { iouThreshold: 0.3, mode: 'per-class', boxArea: 'pixel-inclusive' }, 10)).toHaveLength(1);
  });
});
