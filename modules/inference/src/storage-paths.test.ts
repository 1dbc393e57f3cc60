import { describe, expect, it } from 'vitest';
import { relativizeStoragePaths, rewriteStrings } from './storage-paths.js';

describe('relativizeStoragePaths', () => {
  const roots = ['/iotedge/storage'];

  it('makes a path under the root relative to it', () => {
    expect(relativizeStoragePaths("Load model from /iotedge/storage/models/ssd/2/model.onnx failed: protobuf parsing failed", roots)).toBe(
      'Load model from models/ssd/2/model.onnx failed: protobuf parsing failed',
    );
  });

  it('rewrites every occurrence, quoted or not, and the root itself as "."', () => {
    expect(relativizeStoragePaths("ENOENT: no such file or directory, open '/iotedge/storage/a.txt' (in /iotedge/storage)", roots)).toBe(
      "ENOENT: no such file or directory, open 'a.txt' (in .)",
    );
  });

  it('leaves alone paths that only start like the root', () => {
    const text = 'see /iotedge/storage-old/x and /mnt/iotedge/storage/y';
    expect(relativizeStoragePaths(text, roots)).toBe(text);
  });

  it('matches the longest root first, so a nested root is stripped whole', () => {
    expect(relativizeStoragePaths('/data/real/storage/models/x', ['/data', '/data/real/storage'])).toBe('models/x');
  });

  it('ignores an empty root or "/"', () => {
    expect(relativizeStoragePaths('/etc/passwd', ['', '/'])).toBe('/etc/passwd');
  });
});

describe('rewriteStrings', () => {
  it('rewrites the strings of nested objects and arrays and keeps everything else', () => {
    const value = { a: 'x/1', b: [1, 'x/2', null, { c: 'x/3', d: true }], e: null };
    expect(rewriteStrings(value, (text) => text.replace('x/', ''))).toEqual({ a: '1', b: [1, '2', null, { c: '3', d: true }], e: null });
  });
});
