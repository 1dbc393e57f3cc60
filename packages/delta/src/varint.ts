/** Unsigned LEB128 and zig-zag signed integers, for the patch's control stream. */
export class ByteWriter {
  private chunks: number[] = [];
  writeUnsigned(value: number): void {
    let remaining = value;
    while (remaining >= 0x80) {
      this.chunks.push((remaining % 0x80) | 0x80);
      remaining = Math.floor(remaining / 0x80);
    }
    this.chunks.push(remaining);
  }
  writeSigned(value: number): void {
    this.writeUnsigned(value >= 0 ? value * 2 : -value * 2 - 1);
  }
  toBytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export class ByteReader {
  position = 0;
  constructor(private readonly bytes: Uint8Array) {}
  get done(): boolean {
    return this.position >= this.bytes.length;
  }
  readUnsigned(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.position >= this.bytes.length) throw new RangeError('truncated varint');
      const byte = this.bytes[this.position++] ?? 0;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }
  readSigned(): number {
    const raw = this.readUnsigned();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
}
