/** The fixtures the reference check writes, and our pipeline run the way the server runs it, for comparing the two. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelDescriptor, ModelFormat } from '@edge-ml/contracts';
import { decodeToFrame, ModelPipeline } from '@edge-ml/inference';
import type { ReferenceDetection } from './compare-detections.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURE_DIRECTORY = path.join(ROOT, 'bench', 'fixtures', 'reference');
export const IMAGE_DIRECTORY = path.join(ROOT, 'testdata', 'images');

export interface ReferenceCase {
  /** Fixture file name under bench/fixtures/reference. */
  fixture: string;
  model: string;
  labels: string;
  format: ModelFormat;
  /** Channel order of the reference's canvas, whose sha256 the fixture keeps. */
  canvasOrder: 'rgb' | 'bgr';
}

export const REFERENCE_CASES: ReferenceCase[] = [
  { fixture: 'yolox-nano-onnx.json', model: 'yolox_nano.onnx', labels: 'coco_classes.txt', format: 'onnx', canvasOrder: 'bgr' },
  { fixture: 'ssd-mobilenet-v1-metadata.json', model: 'ssd_mobilenet_v1_1_metadata_1.tflite', labels: 'labelmap.txt', format: 'tflite', canvasOrder: 'rgb' },
  { fixture: 'ssd-mobilenet-v1-coco-quant.json', model: 'ssd_mobilenet_v1_coco_quant_detect.tflite', labels: 'labelmap.txt', format: 'tflite', canvasOrder: 'rgb' },
];

export interface ReferenceFixture {
  generatedBy: string;
  model: string;
  reference: string;
  runtime: string;
  /** The family's default threshold, at which the comparison is made. */
  scoreThreshold: number;
  images: Record<string, { width: number; height: number; canvasSha256: string; detections: ReferenceDetection[] }>;
}

export async function listPhotos(): Promise<string[]> {
  return (await readdir(IMAGE_DIRECTORY)).filter((name) => /\.(jpe?g|png|bmp|webp)$/i.test(name)).sort();
}

export async function readFixture(name: string): Promise<ReferenceFixture> {
  return JSON.parse(await readFile(path.join(FIXTURE_DIRECTORY, name), 'utf8')) as ReferenceFixture;
}

export interface OurResult {
  canvasSha256: string;
  detections: ReferenceDetection[];
}

/** Loads the model with the family's defaults (or a model.json) and runs every photo through decode, preprocess, inference and decoding. */
export async function runOurPipeline(
  testCase: ReferenceCase,
  photos: string[],
  descriptor?: ModelDescriptor,
): Promise<{ scoreThreshold: number; results: Record<string, OurResult> }> {
  const { pipeline } = await ModelPipeline.load({
    format: testCase.format,
    ...(descriptor ? { descriptor } : {}),
    modelPath: path.join(ROOT, 'testdata', 'models', testCase.model),
    labelsText: await readFile(path.join(ROOT, 'testdata', 'models', testCase.labels), 'utf8'),
    runtime: { executionProviders: ['cpu'], threads: 1 },
  });
  try {
    const results: Record<string, OurResult> = {};
    for (const photo of photos) {
      const frame = await decodeToFrame(await readFile(path.join(IMAGE_DIRECTORY, photo)), pipeline.spec.input, { limitPixels: 40_000_000 });
      const { detections } = await pipeline.infer(frame);
      const content = canvasContent(frame.rgb, testCase.canvasOrder);
      results[photo] = {
        canvasSha256: createHash('sha256').update(content).digest('hex'),
        detections: detections.map((d) => ({ classId: d.classId, score: d.score, box: [d.boxPixels.xmin, d.boxPixels.ymin, d.boxPixels.xmax, d.boxPixels.ymax] })),
      };
    }
    return { scoreThreshold: pipeline.spec.scoreThreshold, results };
  } finally {
    await pipeline.dispose();
  }
}

/** The whole canvas in the reference's channel order (YOLOX's preproc hashes its BGR canvas). */
function canvasContent(rgb: Uint8Array, order: 'rgb' | 'bgr'): Uint8Array {
  if (order === 'rgb') return rgb;
  const bgr = new Uint8Array(rgb.length);
  for (let index = 0; index < rgb.length; index += 3) {
    bgr[index] = rgb[index + 2] ?? 0;
    bgr[index + 1] = rgb[index + 1] ?? 0;
    bgr[index + 2] = rgb[index] ?? 0;
  }
  return bgr;
}
