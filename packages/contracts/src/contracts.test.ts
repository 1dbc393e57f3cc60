import { describe, expect, it } from 'vitest';
import {
  InferenceReportedSchema,
  Md5Schema,
  ModelDescriptorSchema,
  ModelMessageSchema,
  parseLoaderDesired,
  StorageRelativePathSchema,
  toModelAnnouncement,
} from './index.js';

const SHA = 'e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13';

describe('Md5Schema', () => {
  it('accepts hex and the base64 form of Content-MD5, normalised to hex', () => {
    expect(Md5Schema.parse('9E107D9D372BB6826BD81D3542A419D6')).toBe('9e107d9d372bb6826bd81d3542a419d6');
    expect(Md5Schema.parse('nhB9nTcrtoJr2B01QqQZ1g==')).toBe('9e107d9d372bb6826bd81d3542a419d6');
  });
  it('rejects anything else', () => {
    expect(Md5Schema.safeParse('abc').success).toBe(false);
    expect(Md5Schema.safeParse('nhB9nTcrtoJr2B01QqQZ1g').success).toBe(false);
  });
});

describe('StorageRelativePathSchema', () => {
  it.each(['/etc/passwd', '../x/model.onnx', 'a/../../b', 'C:/models/x', 'a\\b', ''])('rejects %j', (path) => {
    expect(StorageRelativePathSchema.safeParse(path).success).toBe(false);
  });
  it('accepts a relative path inside the root', () => {
    expect(StorageRelativePathSchema.parse('tiny-yolov3/tiny-yolov3-11.onnx')).toBe('tiny-yolov3/tiny-yolov3-11.onnx');
  });
});

describe('parseLoaderDesired', () => {
  it('reads the seed flat form with a base64 MD5 and ignores hub metadata', () => {
    const desired = parseLoaderDesired({
      FileName: 'tiny-yolov3.zip',
      DownloadUrl: 'https://acct.blob.core.windows.net/models/tiny-yolov3.zip?sv=2024&sig=abc',
      ContentMD5: 'nhB9nTcrtoJr2B01QqQZ1g==',
      $version: 7,
    });
    expect(desired).toMatchObject({ kind: 'seed', seed: { FileName: 'tiny-yolov3.zip', ContentMD5: '9e107d9d372bb6826bd81d3542a419d6' } });
    expect(desired.policy.keepVersions).toBe(2);
  });
  it('prefers the rich form when both are present', () => {
    const desired = parseLoaderDesired({
      FileName: 'old.zip',
      DownloadUrl: 'https://example.com/old.zip',
      model: { name: 'ssd', version: '2', url: 'https://example.com/ssd.zip', sha256: SHA.toUpperCase() },
      policy: { keepVersions: 3 },
    });
    expect(desired).toMatchObject({ kind: 'rich', model: { name: 'ssd', version: '2', sha256: SHA }, policy: { keepVersions: 3 } });
  });
  it('says none when no model is set (a removed model is null in a patch)', () => {
    expect(parseLoaderDesired({ model: null, $version: 3 }).kind).toBe('none');
  });
  it('names the bad field', () => {
    expect(() => parseLoaderDesired({ FileName: '../../etc/passwd', DownloadUrl: 'https://x/y' })).toThrow(/FileName/);
    expect(() => parseLoaderDesired({ model: { name: 'a', version: '1', url: 'ftp://x/y', sha256: SHA } })).toThrow(/url/);
  });
});

describe('DLModelOutput message', () => {
  it('accepts the seed body and derives name and format', () => {
    const message = ModelMessageSchema.parse({ local_model_path: 'tiny-yolov3/tiny-yolov3-11.onnx', local_labelmap_path: 'tiny-yolov3/coco_classes.txt' });
    expect(toModelAnnouncement(message)).toEqual({
      name: 'tiny-yolov3',
      version: 'unversioned',
      format: 'onnx',
      modelPath: 'tiny-yolov3/tiny-yolov3-11.onnx',
      labelsPath: 'tiny-yolov3/coco_classes.txt',
    });
  });
  it('accepts the rich body', () => {
    const message = ModelMessageSchema.parse({
      schemaVersion: 1,
      name: 'ssd',
      version: '1.0.0',
      format: 'tflite',
      sha256: SHA,
      local_model_path: 'models/ssd/1.0.0/detect.tflite',
      local_labelmap_path: 'models/ssd/1.0.0/labelmap.txt',
      descriptor_path: 'models/ssd/1.0.0/model.json',
    });
    expect(toModelAnnouncement(message)).toMatchObject({ name: 'ssd', version: '1.0.0', descriptorPath: 'models/ssd/1.0.0/model.json', sha256: SHA });
  });
  it('rejects a path outside the storage root', () => {
    expect(ModelMessageSchema.safeParse({ local_model_path: '../secrets/model.onnx', local_labelmap_path: 'x/labels.txt' }).success).toBe(false);
  });
});

describe('ModelDescriptorSchema', () => {
  it('rejects unknown keys so that typos are caught', () => {
    expect(ModelDescriptorSchema.safeParse({ family: 'yolox', scoreTreshold: 0.3 }).success).toBe(false);
  });
  it('accepts a full descriptor', () => {
    const descriptor = ModelDescriptorSchema.parse({
      family: 'yolox',
      model: 'yolox_nano.onnx',
      labels: 'coco_classes.txt',
      input: { width: 416, height: 416, layout: 'nchw', colorOrder: 'bgr', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114 },
      scoreThreshold: 0.3,
    });
    expect(descriptor.schemaVersion).toBe(1);
  });
  it('accepts the resize and NMS of a reference pipeline and rejects values it does not know', () => {
    const descriptor = ModelDescriptorSchema.parse({
      input: { interpolation: 'opencv-linear', letterboxRounding: 'floor' },
      iouThreshold: 0.45,
      nmsMode: 'class-agnostic',
      nmsBoxArea: 'pixel-inclusive',
    });
    expect(descriptor).toMatchObject({ input: { interpolation: 'opencv-linear', letterboxRounding: 'floor' }, nmsMode: 'class-agnostic', nmsBoxArea: 'pixel-inclusive' });
    expect(ModelDescriptorSchema.safeParse({ input: { interpolation: 'bicubic' } }).success).toBe(false);
    expect(ModelDescriptorSchema.safeParse({ nmsMode: 'agnostic' }).success).toBe(false);
  });
});

describe('InferenceReportedSchema', () => {
  const before = { activeModel: null, lastSwapError: null, swapCount: 0 };
  it('reads what modules before lastActivation reported, and lastActivation with its not-applicable fields null', () => {
    expect(InferenceReportedSchema.parse(before)).toEqual(before);
    const lastActivation = { name: 'ssd', version: '2', sha256: SHA, outcome: 'rejected', trigger: 'pointer', error: { code: 'MODEL_LOAD_FAILED', message: 'x' }, loadMs: null, warmupMs: null, acceptance: null, at: '2026-11-30T10:00:00.000Z' };
    expect(InferenceReportedSchema.parse({ ...before, lastActivation }).lastActivation).toEqual(lastActivation);
    expect(InferenceReportedSchema.safeParse({ ...before, lastActivation: { ...lastActivation, outcome: 'superseded' } }).success).toBe(false);
  });
});

describe('seed message in the model repository layout', () => {
  it('takes name and version from models/<name>/<version>/<file>', () => {
    const message = ModelMessageSchema.parse({ local_model_path: 'models/ssd/1.2.0/detect.tflite', local_labelmap_path: 'models/ssd/1.2.0/labelmap.txt' });
    expect(toModelAnnouncement(message)).toMatchObject({ name: 'ssd', version: '1.2.0', format: 'tflite' });
  });
});
