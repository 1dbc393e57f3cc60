import { describe, expect, it } from 'vitest';
import { assertBmpDecodable, bmpRowBytes, readBmpHeader } from './bmp-header.js';
import { UndecodableImageError } from './image-errors.js';

/** A file header and BITMAPINFOHEADER (or a larger header of zeros past it) with the given fields, then `tail`. */
function bmp(fields: { width?: number; height?: number; planes?: number; bits?: number; compression?: number; colors?: number; headerBytes?: number; offset?: number }, tail = Buffer.alloc(0)) {
  const headerBytes = fields.headerBytes ?? 40;
  const bytes = Buffer.alloc(14 + Math.max(headerBytes, 40));
  bytes.write('BM', 0, 'latin1');
  bytes.writeUInt32LE(fields.offset ?? 14 + headerBytes, 10);
  bytes.writeUInt32LE(headerBytes, 14);
  bytes.writeInt32LE(fields.width ?? 4, 18);
  bytes.writeInt32LE(fields.height ?? 2, 22);
  bytes.writeUInt16LE(fields.planes ?? 1, 26);
  bytes.writeUInt16LE(fields.bits ?? 24, 28);
  bytes.writeUInt32LE(fields.compression ?? 0, 30);
  bytes.writeUInt32LE(fields.colors ?? 0, 46);
  return Buffer.concat([bytes.subarray(0, 14 + headerBytes), tail]);
}

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UndecodableImageError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('readBmpHeader', () => {
  it('reads the size a BITMAPINFOHEADER declares without needing the pixels', () => {
    expect(readBmpHeader(bmp({ width: 20_000, height: 20_000, bits: 8, compression: 1 }))).toMatchObject({
      width: 20_000,
      height: 20_000,
      topDown: false,
      bitsPerPixel: 8,
      compression: 'rle8',
      paletteEntries: 256,
    });
  });

  it('reads a negative height as a top-down bitmap of that many rows', () => {
    expect(readBmpHeader(bmp({ width: 3, height: -7 }))).toMatchObject({ width: 3, height: 7, topDown: true });
  });

  it.each([40, 52, 56, 108, 124])('reads the %i-byte header variants', (headerBytes) => {
    expect(readBmpHeader(bmp({ width: 5, height: 6, headerBytes }))).toMatchObject({ width: 5, height: 6, dibHeaderBytes: headerBytes });
  });

  it('reads a BITMAPCOREHEADER, whose sizes are 16 bits', () => {
    const core = Buffer.alloc(26);
    core.write('BM', 0, 'latin1');
    core.writeUInt32LE(26, 10);
    core.writeUInt32LE(12, 14);
    core.writeUInt16LE(60_000, 18);
    core.writeUInt16LE(50_000, 20);
    core.writeUInt16LE(1, 22);
    core.writeUInt16LE(24, 24);
    expect(readBmpHeader(core)).toMatchObject({ width: 60_000, height: 50_000, dibHeaderBytes: 12 });
  });

  it.each([
    ['a file cut inside the header', bmp({}).subarray(0, 30), /truncated/],
    ['an unknown header size', bmp({ headerBytes: 41 }), /unknown DIB header size 41/],
    ['a zero width', bmp({ width: 0 }), /width 0/],
    ['a negative width', bmp({ width: -5 }), /width -5/],
    ['a zero height', bmp({ height: 0 }), /height 0/],
    ['two colour planes', bmp({ planes: 2 }), /2 colour planes/],
    ['7 bits per pixel', bmp({ bits: 7 }), /7 bits per pixel/],
    ['an unknown compression', bmp({ compression: 9 }), /unknown compression 9/],
    ['RLE8 at 24 bits', bmp({ compression: 1, bits: 24 }), /rle8 compression with 24 bits/],
    ['RLE4 stored top-down', bmp({ compression: 2, bits: 4, height: -4 }), /top-down/],
    ['more palette entries than the depth allows', bmp({ bits: 8, colors: 257 }), /257 palette entries/],
    ['a pixel offset past the end', bmp({ offset: 10_000 }), /pixel data offset 10000/],
    ['a pixel offset inside the header', bmp({ offset: 20 }), /pixel data offset 20/],
  ])('refuses %s as malformed', (_name, bytes, message) => {
    expect(refusal(() => readBmpHeader(bytes))).toMatch(message);
  });
});

describe('assertBmpDecodable', () => {
  it('accepts uncompressed rows that are all in the file', () => {
    const bytes = bmp({ width: 3, height: 2 }, Buffer.alloc(bmpRowBytes(3, 24) * 2));
    expect(() => assertBmpDecodable(readBmpHeader(bytes), bytes.length)).not.toThrow();
  });

  it('refuses uncompressed rows that run past the end, before a decoder allocates for them', () => {
    const bytes = bmp({ width: 3000, height: 3000 }, Buffer.alloc(100));
    expect(refusal(() => assertBmpDecodable(readBmpHeader(bytes), bytes.length))).toMatch(/truncated BMP: 3000x3000 at 24 bits needs 27000000 bytes/);
  });

  it('refuses a colour table that runs past the end', () => {
    const bytes = bmp({ width: 2, height: 2, bits: 8, compression: 1 }, Buffer.alloc(16));
    expect(refusal(() => assertBmpDecodable(readBmpHeader(bytes), bytes.length))).toMatch(/colour table/);
  });

  it.each([
    ['embedded JPEG', bmp({ bits: 0, compression: 4 }), /jpeg compression is not supported/],
    ['CMYK', bmp({ compression: 11 }), /cmyk compression is not supported/],
    ['an OS/2 header', bmp({ headerBytes: 64 }), /64-byte \(core or OS\/2\) header/],
  ])('refuses %s, which the decoder cannot read', (_name, bytes, message) => {
    expect(refusal(() => assertBmpDecodable(readBmpHeader(bytes), bytes.length))).toMatch(message);
  });

  it('pads rows to 4 bytes', () => {
    expect([bmpRowBytes(1, 1), bmpRowBytes(33, 1), bmpRowBytes(3, 24), bmpRowBytes(5, 8), bmpRowBytes(2, 32)]).toEqual([4, 8, 12, 8, 8]);
  });
});
