import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from './varint.js';

describe('varints', () => {
  it('writes unsigned LEB128: seven bits a byte, low first, the high bit on all but the last', () => {
    const bytes = (value: number) => {
      const writer = new ByteWriter();
      writer.writeUnsigned(value);
      return Array.from(writer.toBytes());
    };
    expect(bytes(0)).toEqual([0]);
    expect(bytes(127)).toEqual([127]);
    expect(bytes(128)).toEqual([0x80, 1]);
    expect(bytes(300)).toEqual([0xac, 0x02]);
    expect(bytes(2 ** 35 + 5)).toEqual([0x85, 0x80, 0x80, 0x80, 0x80, 0x01]);
  });

  it('zig-zags signed values: 0, -1, 1, -2, 2 … become 0, 1, 2, 3, 4 …', () => {
    const writer = new ByteWriter();
    for (const value of [0, -1, 1, -2, 2, -64, 64]) writer.writeSigned(value);
    expect(Array.from(writer.toBytes())).toEqual([0, 1, 2, 3, 4, 127, 0x80, 1]);
  });

  it('reads back what it wrote, beyond 32 bits and negative, and says when it is done', () => {
    const values = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
    const signed = [0, -1, 1, -(2 ** 33), 2 ** 33, -12_345];
    const writer = new ByteWriter();
    for (const value of values) writer.writeUnsigned(value);
    for (const value of signed) writer.writeSigned(value);
    const reader = new ByteReader(writer.toBytes());
    expect(values.map(() => reader.readUnsigned())).toEqual(values);
    expect(reader.done).toBe(false);
    expect(signed.map(() => reader.readSigned())).toEqual(signed);
    expect(reader.done).toBe(true);
    expect(reader.position).toBe(writer.toBytes().length);
  });

  it('throws on a varint cut short instead of inventing bytes', () => {
    expect(() => new ByteReader(Uint8Array.from([0x80, 0x80])).readUnsigned()).toThrow(RangeError);
    expect(() => new ByteReader(new Uint8Array(0)).readUnsigned()).toThrow(RangeError);
    expect(new ByteReader(new Uint8Array(0)).done).toBe(true);
  });
});
