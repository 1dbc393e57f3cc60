import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on loopback that counts the bytes it forwards from the server to the client (what really crossed the
 * link) and cuts connections after a planned number of bytes, with an abrupt close or a TCP RST.
 */
export class DroppingProxy {
  private readonly server: net.Server;
  /** Bytes forwarded to clients, per connection in order. */
  readonly forwarded: number[] = [];
  /** Cut points for the next connections, in bytes forwarded; later connections run uncut. */
  readonly cuts: { bytes: number; mode: 'close' | 'rst' }[] = [];

  /** Link speed to emulate; unset forwards as fast as loopback goes. */
  bytesPerSecond: number | undefined;

  constructor(private readonly upstreamPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  get totalForwarded(): number {
    return this.forwarded.reduce((a, b) => a + b, 0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const index = this.forwarded.push(0) - 1;
    const cut = this.cuts.shift();
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    client.pipe(upstream);
    let queued = 0;
    let cutDone = false;
    const startedAt = Date.now();
    // Bytes count once the kernel has taken them (the write callback): on loopback they have then reached the client.
    const forward = (chunk: Buffer) => {
      queued += chunk.length;
      const writable = client.write(chunk, () => {
        this.forwarded[index] = (this.forwarded[index] ?? 0) + chunk.length;
      });
      if (!writable) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
      if (this.bytesPerSecond) {
        const aheadMs = (queued / this.bytesPerSecond) * 1000 - (Date.now() - startedAt);
        if (aheadMs > 1) {
          upstream.pause();
          setTimeout(() => upstream.resume(), aheadMs);
        }
      }
    };
    upstream.on('data', (chunk: Buffer) => {
      if (cutDone) return;
      if (cut && queued + chunk.length >= cut.bytes) {
        cutDone = true;
        forward(chunk.subarray(0, Math.max(0, cut.bytes - queued)));
        upstream.destroy();
        // The cut strikes after what was queued before it has been handed over.
        client.write(Buffer.alloc(0), () => (cut.mode === 'rst' ? client.resetAndDestroy() : client.destroy()));
        return;
      }
      forward(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  }
}
