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

  it('fills a state file from before closed-loop activation with defaults, converting its override into the entry it names', () => {
    const state = LoaderStateSchema.parse({ failure: null, messageSentFor: 'ssd@1#' + SHA, override: { desired: { model: { name: 'ssd' } }, sinceDesiredVersion: 4 } });
    expect(state).toEqual({
      entries: { ssd: { failure: null, messageSentFor: `ssd@1#${SHA}`, override: { target: { source: 'desired', desired: { model: { name: 'ssd' } } }, sinceDesiredVersion: 4 }, awaiting: null, removedAt: null, deltaAttempts: null } },
      verdicts: {},
      rejections: [],
      confirmations: {},
    });
    const placeholder = { desired: { model: { name: 'ssd', version: '1', url: 'https://rollback.invalid/installed' } }, sinceDesiredVersion: 4 };
    expect(LoaderStateSchema.parse({ override: placeholder }).entries.ssd?.override).toBeNull();
    expect(LoaderStateSchema.safeParse({ awaiting: { key: 'not a key' } }).success).toBe(false);
  });

  it('moves a single-model state file into per-model entries: each field into the entry of the name it mentions', () => {
    const awaiting = { key: `yolox@2#${SHA}`, name: 'yolox', version: '2', announcedAt: '2026-01-01T00:00:00Z', deadline: '2026-01-01T00:05:00Z' };
    const failure = { key: 'k', url: 'https://a/b.zip', code: 'LOADER_PACKAGE_NOT_FOUND', message: '404' };
    const state = LoaderStateSchema.parse({ failure, messageSentFor: `ssd@1#${SHA}`, awaiting, override: { target: { source: 'installed', name: 'ssd', version: '1', modelSha256: SHA }, sinceDesiredVersion: 2 }, verdicts: {} });
    expect(state.entries.yolox).toMatchObject({ awaiting, failure, messageSentFor: null });
    expect(state.entries.ssd).toMatchObject({ messageSentFor: `ssd@1#${SHA}`, override: { target: { name: 'ssd' } }, awaiting: null, failure: null });
    // A failure alone names no model: it is dropped, and the next attempt records it again.
    expect(LoaderStateSchema.parse({ failure }).entries).toEqual({});
    // A state file in today's form is read as it is.
    expect(LoaderStateSchema.parse({ entries: { ssd: { removedAt: '2026-01-01T00:00:00Z' } } }).entries.ssd).toMatchObject({ removedAt: '2026-01-01T00:00:00Z', awaiting: null });
  });
});

describe('the update policy', () => {
  it('waits 300 s for confirmation and re-sends every 30 s by default; 0 means do not wait', () => {
    expect(parseLoaderDesired({}).policy).toEqual({ keepVersions: 2, confirmTimeoutSeconds: 300, confirmResendSeconds: 30, removeGraceSeconds: 3600 });
    expect(parseLoaderDesired({ policy: { confirmTimeoutSeconds: 0 } }).policy.confirmTimeoutSeconds).toBe(0);
    expect(() => parseLoaderDesired({ policy: { confirmResendSeconds: 0 } })).toThrow();
  });
});
