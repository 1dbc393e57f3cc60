import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToFrame } from '../src/image/decode-image.js';
import { ModelPipeline } from '../src/pipeline/model-pipeline.js';
import { TINY_YOLO_BOXES, writeTinyYolov3Model } from './fixtures/tiny-yolov3-model.js';
import { imageFile, modelFile } from './testdata.js';

describe('ONNX zoo Tiny YOLOv3 signature', () => {
  let pipeline: ModelPipeline;
  beforeAll(async () => {
    const modelPath = path.join(await mkdtemp(path.join(tmpdir(), 'tiny-yolo-')), 'tiny-yolov3-11.onnx');
    await writeTinyYolov3Model(modelPath);
    ({ pipeline } = await ModelPipeline.load({
      format: 'onnx',
      modelPath,
      labelsText: await readFile(modelFile('coco_classes.txt'), 'utf8'),
      runtime: { executionProviders: ['cpu'], threads: 1 },
    }));
  });
  afterAll(() => pipeline.dispose());

  it('is recognised from its two inputs and three outputs, with the seed letterbox', () => {
    expect(pipeline.spec).toMatchObject({
      family: 'tiny-yolov3',
      imageInputName: 'input_1',
      imageShapeInputName: 'image_shape',
      input: { width: 416, height: 416, layout: 'nchw', resize: 'letterbox', letterboxPlacement: 'center', padValue: 128 },
    });
  });

  it('decodes the indices selected in the graph into boxes in original pixels', async () => {
    // 640x424: image_shape must carry (height, width) of the original, not of the 416x416 canvas.
    const frame = await decodeToFrame(await readFile(imageFile('darknet_person.jpg')), pipeline.spec.input, { limitPixels: 1e8 });
    const result = await pipeline.infer(frame);
    expect(result.detections.map(({ label, score }) => ({ label, score: Number(score.toFixed(2)) }))).toEqual([
      { label: 'person', score: 0.9 },
      { label: 'dog', score: 0.7 },
    ]);
    const [y1, x1, y2, x2] = TINY_YOLO_BOXES[0];
    expect(result.detections[0]?.boxPixels).toEqual({ xmin: expect.closeTo(x1 * 640, 3), ymin: expect.closeTo(y1 * 424, 3), xmax: expect.closeTo(x2 * 640, 3), ymax: expect.closeTo(y2 * 424, 3) });
    expect(result.detections[0]?.box.xmin).toBeCloseTo(x1, 5);
  });
});
