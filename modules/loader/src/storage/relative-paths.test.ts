import { describe, expect, it } from 'vitest';
import { withRelativeStoragePaths } from './relative-paths.js';

describe('withRelativeStoragePaths', () => {
  it('turns paths under the storage root into paths relative to it', () => {
    expect(withRelativeStoragePaths("ENOTDIR: not a directory, mkdir '/iotedge/storage/models/ssd'", '/iotedge/storage')).toBe("ENOTDIR: not a directory, mkdir 'models/ssd'");
    expect(withRelativeStoragePaths('rename /iotedge/storage/.staging/a -> /iotedge/storage/models/ssd/1', '/iotedge/storage/')).toBe('rename .staging/a -> models/ssd/1');
    expect(withRelativeStoragePaths("statfs '/iotedge/storage'", '/iotedge/storage')).toBe("statfs '.'");
  });

  it('leaves paths outside the root, and roots that merely share a prefix, alone', () => {
    expect(withRelativeStoragePaths('open /iotedge/storage2/x and /etc/passwd', '/iotedge/storage')).toBe('open /iotedge/storage2/x and /etc/passwd');
  });
});
