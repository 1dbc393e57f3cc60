import { assertBmpDecodable, bmpRowBytes, readBmpHeader, type BmpHeader } from './bmp-header.js';
import { assertImageWithinLimits, DEFAULT_MAX_SIDE_PIXELS, UndecodableImageError } from './image-errors.js';

/** Packed 8-bit RGB, rows top to bottom. */
export interface DecodedBmp {
  rgb: Uint8Array;
  width: number;
  height: number;
}

interface Channel {
  mask: number;
  shift: number;
  /** 256 / 2^bits: a sample of `bits` bits is stretched to 8 bits as value * 256 / 2^bits (floor), as OpenCV and jimp do. */
  scale: number;
}

function channel(mask: number): Channel {
  const unsigned = mask >>> 0;
  if (unsigned === 0) return { mask: 0, shift: 0, scale: 0 };
  let shift = 0;
  while (((unsigned >>> shift) & 1) === 0) shift += 1;
  let bits = 0;
  while (((unsigned >>> (shift + bits)) & 1) === 1 && shift + bits < 32) bits += 1;
  return { mask: unsigned, shift, scale: 256 / 2 ** bits };
}

const sample = (value: number, { mask, shift, scale }: Channel) => Math.floor((((value & mask) >>> 0) >>> shift) * scale);

/** The red, green and blue masks of a 16- or 32-bit bitmap: stored ones with bit-field compression, else the defaults (5-5-5, 8-8-8). */
function masks(bytes: Uint8Array, view: DataView, header: BmpHeader): [Channel, Channel, Channel] {
  if (header.compression === 'bitfields' || header.compression === 'alphabitfields') {
    // After a 40-byte header, or inside a V2 to V5 header, at the same offset either way.
    const at = 14 + 40;
    if (at + 12 > bytes.length) throw new UndecodableImageError('truncated BMP: the colour masks run past the end of the file');
    return [channel(view.getUint32(at, true)), channel(view.getUint32(at + 4, true)), channel(view.getUint32(at + 8, true))];
  }
  return header.bitsPerPixel === 16 ? [channel(0x7c00), channel(0x03e0), channel(0x001f)] : [channel(0xff0000), channel(0xff00), channel(0xff)];
}

/**
 * The colour table as packed RGB, 256 entries; entries the file does not store are black, as OpenCV zero-fills its
 * table (an index past the stored entries reads black, where jimp gave white or threw).
 */
function palette(bytes: Uint8Array, header: BmpHeader): Uint8Array {
  const table = new Uint8Array(256 * 3);
  const entries = Math.min(256, header.paletteEntries);
  for (let index = 0; index < entries; index += 1) {
    const at = header.paletteOffset + index * 4;
    table[index * 3] = bytes[at + 2] as number;
    table[index * 3 + 1] = bytes[at + 1] as number;
    table[index * 3 + 2] = bytes[at] as number;
  }
  return table;
}

function decodeUncompressed(bytes: Uint8Array, header: BmpHeader, out: Uint8Array): void {
  const { width, height, bitsPerPixel, topDown, pixelDataOffset } = header;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stride = bmpRowBytes(width, bitsPerPixel);
  const table = bitsPerPixel <= 8 ? palette(bytes, header) : undefined;
  const [red, green, blue] = bitsPerPixel === 16 || bitsPerPixel === 32 ? masks(bytes, view, header) : [channel(0), channel(0), channel(0)];
  for (let y = 0; y < height; y += 1) {
    const row = pixelDataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    if (bitsPerPixel === 24) {
      for (let x = 0, s = row; x < width; x += 1, s += 3, o += 3) {
        out[o] = bytes[s + 2] as number;
        out[o + 1] = bytes[s + 1] as number;
        out[o + 2] = bytes[s] as number;
      }
    } else if (table) {
      const perByte = 8 / bitsPerPixel;
      const indexMask = (1 << bitsPerPixel) - 1;
      for (let x = 0; x < width; x += 1, o += 3) {
        const byte = bytes[row + Math.floor(x / perByte)] as number;
        const index = (byte >> (8 - bitsPerPixel * ((x % perByte) + 1))) & indexMask;
        out[o] = table[index * 3] as number;
        out[o + 1] = table[index * 3 + 1] as number;
        out[o + 2] = table[index * 3 + 2] as number;
      }
    } else {
      const bytesPerPixel = bitsPerPixel / 8;
      for (let x = 0, s = row; x < width; x += 1, s += bytesPerPixel, o += 3) {
        const value = bytesPerPixel === 2 ? view.getUint16(s, true) : view.getUint32(s, true);
        out[o] = sample(value, red);
        out[o + 1] = sample(value, green);
        out[o + 2] = sample(value, blue);
      }
    }
  }
}

/**
 * RLE8 and RLE4 (always bottom-up): runs, absolute runs, end of line, delta and end of bitmap. Pixels the stream
 * skips (delta, early end of line or bitmap) keep the first palette colour, as OpenCV fills them; a run past the end
 * of its row is refused, as OpenCV refuses it. Work is bounded by the output size and the input length.
 */
function decodeRunLength(bytes: Uint8Array, header: BmpHeader, out: Uint8Array): void {
  const { width, height, pixelDataOffset } = header;
  const table = palette(bytes, header);
  for (let o = 0; o < out.length; o += 3) out.set(table.subarray(0, 3), o);
  const four = header.compression === 'rle4';
  let position = pixelDataOffset;
  let x = 0;
  let y = height - 1;
  const read = () => {
    if (position >= bytes.length) throw new UndecodableImageError('truncated BMP: the run-length data ends before its end-of-bitmap marker');
    return bytes[position++] as number;
  };
  const put = (index: number) => {
    if (x >= width || y < 0) throw new UndecodableImageError('corrupt BMP: a run-length run goes past the end of its row');
    const o = (y * width + x) * 3;
    out[o] = table[index * 3] as number;
    out[o + 1] = table[index * 3 + 1] as number;
    out[o + 2] = table[index * 3 + 2] as number;
    x += 1;
  };
  for (;;) {
    const count = read();
    const value = read();
    if (count > 0) {
      for (let i = 0; i < count; i += 1) put(four ? (i & 1 ? value & 0x0f : value >> 4) : value);
    } else if (value === 0) {
      x = 0;
      y -= 1;
      if (y < 0) return;
    } else if (value === 1) {
      return;
    } else if (value === 2) {
      x += read();
      y -= read();
      if (y < 0) return;
    } else {
      const stored = four ? Math.ceil(value / 2) : value;
      let byte = 0;
      for (let i = 0; i < value; i += 1) {
        if (four) {
          if ((i & 1) === 0) byte = read();
          put(i & 1 ? byte & 0x0f : byte >> 4);
        } else {
          put(read());
        }
      }
      if (stored & 1) read();
    }
  }
}

/**
 * Decodes a BMP to packed RGB: 1, 4, 8 (palette, uncompressed or RLE), 16 and 32 bits (default or bit-field masks)
 * and 24 bits, bottom-up or top-down, BITMAPINFOHEADER and its V2 to V5. The header is read and the declared size
 * checked against `limitPixels` and `maxSidePixels` before the pixel buffer is allocated; uncompressed rows must all be in the file.
 * Alpha is dropped, as the model reads RGB (cv2.imread's IMREAD_COLOR drops it too).
 */
export function decodeBmp(bytes: Uint8Array, limitPixels: number, maxSidePixels = DEFAULT_MAX_SIDE_PIXELS): DecodedBmp {
  const header = readBmpHeader(bytes);
  assertImageWithinLimits(header.width, header.height, limitPixels, maxSidePixels);
  assertBmpDecodable(header, bytes.length);
  const rgb = new Uint8Array(header.width * header.height * 3);
  if (header.compression === 'rle8' || header.compression === 'rle4') decodeRunLength(bytes, header, rgb);
  else decodeUncompressed(bytes, header, rgb);
  return { rgb, width: header.width, height: header.height };
}
