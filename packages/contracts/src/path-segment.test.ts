import { describe, expect, it } from 'vitest';
import { DesiredModelSchema, ModelNameSchema, ModelVersionSchema, PackageFileNameSchema, parseLoaderDesired, RichModelMessageSchema } from './index.js';
import { pathSegmentProblem } from './path-segment.js';

const HOSTILE = ['', '.', '..', '../x', 'a/b', 'a\\b', 'a\0b', 'a\nb', '.hidden', 'trailing.', ' lead', 'trail ', 'CON', 'nul.txt', 'Com1', 'LPT9.zip', 'x'.repeat(256)];

describe('pathSegmentProblem', () => {
  it.each(HOSTILE)('refuses %j', (value) => {
    expect(pathSegmentProblem(value)).toBeDefined();
  });

  it.each(['ssd', '2.0.0', 'md5-0123456789ab', 'ssd v1.zip', 'modèle.onnx', 'console', 'a..b', 'x'.repeat(255)])('accepts %j', (value) => {
    expect(pathSegmentProblem(value)).toBeUndefined();
  });

  it('counts bytes, not characters, against the limit', () => {
    expect(pathSegmentProblem('é'.repeat(128))).toBe('must be at most 255 bytes');
  });

  it('says what is wrong in words a user reads', () => {
    expect(HOSTILE.slice(0, 12).map((value) => pathSegmentProblem(value))).toMatchInlineSnapshot(`
      [
        "must not be empty",
        "must not be "."",
        "must not be ".."",
        "must not contain "/" or "\\"",
        "must not contain "/" or "\\"",
        "must not contain "/" or "\\"",
        "must not contain NUL or control characters",
        "must not contain NUL or control characters",
        "must not start or end with "." or a space",
        "must not start or end with "." or a space",
        "must not start or end with "." or a space",
        "must not start or end with "." or a space",
      ]
    `);
  });
});

describe('schemas built on path segments', () => {
  const model = { name: 'ssd', version: '1', url: 'https://example.test/ssd.zip', sha256: 'a'.repeat(64) };

  it.each(['..', '.', '.1', '1.', 'CON', 'a/b', ''])('refuses version %j in the twin', (version) => {
    expect(DesiredModelSchema.safeParse({ ...model, version }).success).toBe(false);
    expect(() => parseLoaderDesired({ model: { ...model, version } })).toThrow();
  });

  it.each(['..', 'announced.json', 'Confirmed.JSON', 'aux'])('refuses model name %j', (name) => {
    expect(ModelNameSchema.safeParse(name).success).toBe(false);
  });

  it('refuses a seed FileName that is not one plain segment', () => {
    for (const FileName of ['..', '../ssd.zip', '.zip', 'ssd.zip ', 'a/ssd.zip']) {
      expect(() => parseLoaderDesired({ FileName, DownloadUrl: 'https://example.test/ssd.zip' })).toThrow();
    }
    expect(PackageFileNameSchema.parse('ssd v1.zip')).toBe('ssd v1.zip');
  });

  it('refuses a DLModelOutput body whose name or version is not a segment', () => {
    const body = { schemaVersion: 1, name: 'ssd', version: '1', format: 'onnx', sha256: 'a'.repeat(64), local_model_path: 'models/ssd/1/m.onnx', local_labelmap_path: 'models/ssd/1/l.txt' };
    expect(RichModelMessageSchema.safeParse(body).success).toBe(true);
    expect(RichModelMessageSchema.safeParse({ ...body, version: '..' }).success).toBe(false);
    expect(ModelVersionSchema.safeParse('2.0.0').success).toBe(true);
  });
});
