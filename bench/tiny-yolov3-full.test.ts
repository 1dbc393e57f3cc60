import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToFrame, ModelPipeline } from '@edge-ml/inference';
import { buildFullTinyYolov3 } from './fixtures/tiny-yolov3-full.js';

const testdata = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../testdata');

/** The stand-in for the seed's 35 MB Tiny YOLOv3 that the seed-design benchmark times. */
describe('full-size Tiny YOLOv3 stand-in', () => {
  let directory: string;
  let modelPath: string;
  let parameters: number;
  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'tiny-yolov3-full-'));
    modelPath = path.join(directory, 'tiny-yolov3-full.onnx');
    const built = buildFullTinyYolov3();
    parameters = built.parameters;
    await writeFile(modelPath, built.bytes);
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it("has the zoo model's size: 8.86 M parameters, about 35 MB", async () => {
    expect(parameters).toBeGreaterThan(8.8e6);
    expect(parameters).toBeLessThan(8.9e6);
    expect((await readFile(modelPath)).length).toBeGreaterThan(35e6);
  });

  it('decodes both heads in the graph, with the letterbox undone against image_shape', async () => {
    const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
    try {
      const outputs = await session.run({
        input_1: new ort.Tensor('float32', new Float32Array(3 * 416 * 416).fill(0.5), [1, 3, 416, 416]),
        image_shape: new ort.Tensor('float32', new Float32Array([424, 640]), [1, 2]),
      });
      const boxes = outputs['yolonms_layer_1/ExpandDims_1:0']!;
      expect(boxes.dims).toEqual([1, 2535, 4]);
      expect(outputs['yolonms_layer_1/ExpandDims_3:0']!.dims).toEqual([1, 80, 2535]);
      // A 640x424 image fills 416x276 of the canvas, 70 rows down: y = (y_canvas - 70) * 424 / 276, x = x_canvas * 640 / 416.
      // With near-zero head weights every box sits at its cell's centre with its anchor's size.
      const data = boxes.data as Float32Array;
      const expectBox = (cell: number, grid: number, row: number, column: number, [anchorWidth, anchorHeight]: [number, number]) => {
        const [y1, x1, y2, x2] = Array.from(data.subarray(cell * 4, cell * 4 + 4)) as [number, number, number, number];
        const toY = (canvas: number) => ((canvas - 70) * 424) / 276;
        const toX = (canvas: number) => (canvas * 640) / 416;
        const cellPixels = 416 / grid;
        expect(Math.abs((y1 + y2) / 2 - toY((row + 0.5) * cellPixels))).toBeLessThan(0.1 * cellPixels * (424 / 276));
        expect(Math.abs((x1 + x2) / 2 - toX((column + 0.5) * cellPixels))).toBeLessThan(0.1 * cellPixels * (640 / 416));
        expect(Math.abs((y2 - y1) / ((anchorHeight * 424) / 276) - 1)).toBeLessThan(0.2);
        expect(Math.abs((x2 - x1) / ((anchorWidth * 640) / 416) - 1)).toBeLessThan(0.2);
      };
      expectBox(0, 13, 0, 0, [81, 82]);
      expectBox(2, 13, 0, 0, [344, 319]);
      expectBox((6 * 13 + 9) * 3 + 1, 13, 6, 9, [135, 169]);
      expectBox(507, 26, 0, 0, [10, 14]);
      expectBox(2534, 26, 25, 25, [37, 58]);
    } finally {
      await session.release();
    }
  });

  it('is served by our pipeline as Tiny YOLOv3 from its signature, with no detections from its untrained weights', async () => {
    const { pipeline } = await ModelPipeline.load({
      format: 'onnx',
      modelPath,
      labelsText: await readFile(path.join(testdata, 'models/coco_classes.txt'), 'utf8'),
      runtime: { executionProviders: ['cpu'], threads: 1 },
    });
    try {
      expect(pipeline.spec.family).toBe('tiny-yolov3');
      const frame = await decodeToFrame(await readFile(path.join(testdata, 'images/darknet_person.jpg')), pipeline.spec.input, { limitPixels: 1e8 });
      expect((await pipeline.infer(frame)).detections).toEqual([]);
    } finally {
      await pipeline.dispose();
    }
  });
});
