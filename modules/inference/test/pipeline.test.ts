import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelFormat } from '@edge-ml/contracts';
import { decodeToFrame } from '../src/image/decode-image.js';
import { ModelPipeline } from '../src/pipeline/model-pipeline.js';
import { imageFile, modelFile } from './testdata.js';

const runtime = { executionProviders: ['cpu'], threads: 1 };

async function loadPipeline(format: ModelFormat, model: string, labels: string) {
  const { pipeline } = await ModelPipeline.load({ format, modelPath: modelFile(model), labelsText: await readFile(modelFile(labels), 'utf8'), runtime });
  return pipeline;
}

async function detect(pipeline: ModelPipeline, image: string, scoreThreshold?: number) {
  const frame = await decodeToFrame(await readFile(imageFile(image)), pipeline.spec.input, { limitPixels: 50_000_000 });
  return pipeline.infer(frame, scoreThreshold === undefined ? {} : { scoreThreshold });
}

const labelsOf = (result: { detections: { label: string }[] }) => result.detections.map((detection) => detection.label).sort();

describe.each([
  ['onnx', 'yolox_nano.onnx'],
  ['tflite', 'yolox_nano_float16_quantize.tflite'],
] as const)('YOLOX (%s)', (format, model) => {
  let pipeline: ModelPipeline;
  beforeAll(async () => {
    pipeline = await loadPipeline(format, model, 'coco_classes.txt');
  });
  afterAll(() => pipeline.dispose());

  it('is recognised as YOLOX from its signature alone', () => {
    expect(pipeline.spec).toMatchObject({ family: 'yolox', input: { width: 416, height: 416, layout: 'nchw', colorOrder: 'bgr', resize: 'letterbox' } });
  });

  it('finds the person, the dog and the horse in darknet_person.jpg', async () => {
    const result = await detect(pipeline, 'darknet_person.jpg');
    expect(labelsOf(result)).toEqual(['dog', 'horse', 'person']);
    const person = result.detections.find((detection) => detection.label === 'person');
    expect(person?.score).toBeGreaterThan(0.8);
    // The standing person is in the middle-left third of the 640x424 photo, tall and narrow.
    expect(person?.boxPixels.xmin).toBeGreaterThan(150);
    expect(person?.boxPixels.xmax).toBeLessThan(320);
    expect(person!.boxPixels.ymax - person!.boxPixels.ymin).toBeGreaterThan(250);
    const horse = result.detections.find((detection) => detection.label === 'horse');
    expect(horse!.box.xmin).toBeGreaterThan(0.55);
  });

  it('finds a person and a tie in the BMP portrait of Grace Hopper', async () => {
    const result = await detect(pipeline, 'grace_hopper.bmp');
    expect(labelsOf(result)).toEqual(expect.arrayContaining(['person', 'tie']));
  });

  it('gives each of two runs at once its own input tensor: the same detections as the same frames one after the other', async () => {
    await detect(pipeline, 'darknet_dog.jpg'); // a finished run: its tensor is the spare the next run reuses
    const decode = async (image: string) => decodeToFrame(await readFile(imageFile(image)), pipeline.spec.input, { limitPixels: 50_000_000 });
    const [personFrame, catsFrame] = await Promise.all([decode('darknet_person.jpg'), decode('coco_000000039769_cats.png')]);
    // Both started in the same tick: the second's tensor is written before the first one runs.
    const [person, cats] = await Promise.all([pipeline.infer(personFrame), pipeline.infer(catsFrame)]);
    expect(labelsOf(person)).toEqual(['dog', 'horse', 'person']);
    expect(person.detections).toEqual((await pipeline.infer(personFrame)).detections);
    expect(cats.detections).toEqual((await pipeline.infer(catsFrame)).detections);
  });

  it('finds two cats in the PNG', async () => {
    const result = await detect(pipeline, 'coco_000000039769_cats.png');
    expect(result.detections.filter((detection) => detection.label === 'cat')).toHaveLength(2);
  });
});

describe.each(['ssd_mobilenet_v1_coco_quant_detect.tflite', 'ssd_mobilenet_v1_1_metadata_1.tflite'])('SSD MobileNet v1 (%s)', (model) => {
  let pipeline: ModelPipeline;
  beforeAll(async () => {
    pipeline = await loadPipeline('tflite', model, 'labelmap.txt');
  });
  afterAll(() => pipeline.dispose());

  it('is recognised as SSD with the detection post-process op', () => {
    expect(pipeline.spec).toMatchObject({ family: 'ssd', input: { width: 300, height: 300, layout: 'nhwc', dtype: 'uint8', resize: 'stretch' } });
  });

  it('finds a person in grace_hopper.bmp', async () => {
    const result = await detect(pipeline, 'grace_hopper.bmp');
    expect(result.detections.map((detection) => detection.label)).toContain('person');
  });

  it('finds the cat in cat_720p.jpg with a box covering most of it', async () => {
    const result = await detect(pipeline, 'cat_720p.jpg', 0.4);
    const cat = result.detections.find((detection) => detection.label === 'cat');
    expect(cat?.score).toBeCloseTo(0.71, 1);
    expect(cat!.box.ymax - cat!.box.ymin).toBeGreaterThan(0.6);
  });
});

describe('MobileNet v2 classifier', () => {
  let pipeline: ModelPipeline;
  beforeAll(async () => {
    pipeline = await loadPipeline('tflite', 'mobilenet_v2_1.0_224_quant.tflite', 'imagenet_labels.txt');
  });
  afterAll(() => pipeline.dispose());

  it('says macaw for the parrot', async () => {
    const result = await detect(pipeline, 'parrot.jpg');
    expect(pipeline.spec.family).toBe('classification');
    expect(result.classifications[0]?.label).toBe('macaw');
    expect(result.classifications[0]?.score).toBeGreaterThan(0.5);
  });

  it('says military uniform for Grace Hopper, as TFLite does', async () => {
    const result = await detect(pipeline, 'grace_hopper.bmp');
    expect(result.classifications[0]?.label).toBe('military uniform');
  });
});
