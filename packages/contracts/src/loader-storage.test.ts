import { describe, expect, it } from 'vitest';
import { InstalledManifestSchema, LoaderStateSchema, PartialDownloadRecordSchema, VerifiedPackageRecordSchema } from './loader-storage.js';
import { parseLoaderDesired } from './loader-twin.js';

const SHA = 'ab'.repeat(32);
const manifest = { name: 'ssd', version: '1', format: 'tflite', modelFile: 'ssd/detect.tflite', labelsFile: 'ssd/labelmap.txt', modelSha256: SHA, packageSha256: SHA, installedAt: '2026-11-30T10:00:00.000Z' };

describe('files the loader reads back from storage', () => {
  it('parses an installed manifest, and refuses one whose files leave the version directory or whose name is a path', () => {
    expect(InstalledManifestSchema.parse(manifest)).toMatchObject({ name: 'ssd', modelFile: 'ssd/detect.tflite' });
    expect(InstalledManifestSchema.safeParse({ ...manifest, modelFile: '../../other/model.onnx' }).success).toBe(false);
    expect(InstalledManifestSchema.safeParse({ ...manifest, name: '..' }).success).toBe(false);
    expect(InstalledManifestSchema.safeParse({ ...manifest, version: 'a/b' }).success).toBe(false);
    expect(InstalledManifestSchema.safeParse({ ...manifest, modelSha256: 'short' }).success).toBe(false);
  });

  it('reads a verified-package record written with an empty md5 (assembled from a patch) as one without', () => {
    const record = VerifiedPackageRecordSchema.parse({ sha256: SHA, md5: '', sizeBytes: 10, path: 'patch', bytesFetched: 5, bytesReused: 5 });
    expect(record.md5).toBeUndefined();
    expect(VerifiedPackageRecordSchema.safeParse({ sha256: SHA, sizeBytes: -1, path: 'full', bytesFetched: 0, bytesReused: 0 }).success).toBe(false);
  });

  it('requires the resource of a partial download', () => {
    expect(PartialDownloadRecordSchema.safeParse({ etag: '"x"' }).success).toBe(false);
    expect(PartialDownloadRecordSchema.parse({ resource: 'https://a/b.zip', etag: '"x"', totalBytes: 3 })).toEqual({ resource: 'https://a/b.zip', etag: '"x"', totalBytes: 3 });
  });

  it('fills a state file from before closed-loop activation with defaults, converting its override', () => {
    const state = LoaderStateSchema.parse({ failure: null, messageSentFor: 'ssd@1#' + SHA, override: { desired: { model: { name: 'ssd' } }, sinceDesiredVersion: 4 } });
    expect(state).toEqual({
      failure: null,
      messageSentFor: `ssd@1#${SHA}`,
      override: { target: { source: 'desired', desired: { model: { name: 'ssd' } } }, sinceDesiredVersion: 4 },
      awaiting: null,
      verdicts: {},
      rejections: [],
      confirmations: {},
    });
    const placeholder = { desired: { model: { name: 'ssd', version: '1', url: 'https://rollback.invalid/installed' } }, sinceDesiredVersion: 4 };
    expect(LoaderStateSchema.parse({ override: placeholder }).override).toBeNull();
    expect(LoaderStateSchema.safeParse({ awaiting: { key: 'not a key' } }).success).toBe(false);
  });
});

describe('the update policy', () => {
  it('waits 300 s for confirmation and re-sends every 30 s by default; 0 means do not wait', () => {
    expect(parseLoaderDesired({}).policy).toEqual({ keepVersions: 2, confirmTimeoutSeconds: 300, confirmResendSeconds: 30 });
    expect(parseLoaderDesired({ policy: { confirmTimeoutSeconds: 0 } }).policy.confirmTimeoutSeconds).toBe(0);
    expect(() => parseLoaderDesired({ policy: { confirmResendSeconds: 0 } })).toThrow();
  });
});
