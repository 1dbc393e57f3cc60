import { Transform, type TransformCallback } from 'node:stream';

/** Passes bytes on at no more than `bytesPerSecond`, on average over the last second. */
export class Throttle extends Transform {
  private windowStart = Date.now();
  private windowBytes = 0;
  constructor(private readonly bytesPerSecond: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.windowBytes += chunk.length;
    const elapsedMs = Date.now() - this.windowStart;
    const dueMs = (this.windowBytes / this.bytesPerSecond) * 1000;
    const waitMs = Math.max(0, dueMs - elapsedMs);
    if (elapsedMs > 1000) {
      this.windowStart = Date.now();
      this.windowBytes = 0;
    }
    setTimeout(() => done(null, chunk), waitMs);
  }
}
