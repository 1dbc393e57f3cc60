import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes read per step; the one buffer is reused for the whole file. */
const CHUNK_BYTES = 1 << 16;

/**
 * The SHA-256 of a file, read in steps into one buffer: models are never read whole to be hashed, and no chunk
 * outlives its step. A read stream's 64 KiB chunks (one new Buffer each) left glibc's heap ~3.5 MiB larger after
 * a 3.5 MiB model was hashed, for good (docs/benchmarks.md).
 */
export async function sha256OfFile(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(filePath, 'r');
  try {
    const buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}
