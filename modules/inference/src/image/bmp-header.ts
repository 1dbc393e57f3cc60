import { UndecodableImageError } from './image-errors.js';

/** The `biCompression` values of the BMP format. */
export const BMP_COMPRESSION = {
  0: 'rgb',
  1: 'rle8',
  2: 'rle4',
  3: 'bitfields',
  4: 'jpeg',
  5: 'png',
  6: 'alphabitfields',
  11: 'cmyk',
  12: 'cmykrle8',
  13: 'cmykrle4',
} as const;
export type BmpCompression = (typeof BMP_COMPRESSION)[keyof typeof BMP_COMPRESSION];

/** DIB header sizes: BITMAPCOREHEADER (12), OS/2 2.x (16, 64), BITMAPINFOHEADER (40) and its V2 to V5 (52, 56, 108, 124). */
const HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);
/** What our decoder (bmp-decode.ts) reads; the others are refused before it sees them. */
const DECODER_HEADER_SIZES = new Set([40, 52, 56, 108, 124]);
const DECODER_COMPRESSIONS = new Set<BmpCompression>(['rgb', 'rle8', 'rle4', 'bitfields', 'alphabitfields']);
const FILE_HEADER_BYTES = 14;

export interface BmpHeader {
  width: number;
  /** Rows, always positive; `topDown` says whether the header stored them as a negative height. */
  height: number;
  topDown: boolean;
  bitsPerPixel: number;
  compression: BmpCompression;
  dibHeaderBytes: number;
  pixelDataOffset: number;
  /** Colour-table entries stored after the header (and after the masks a BITMAPINFOHEADER with bit fields carries). */
  paletteEntries: number;
  paletteOffset: number;
}

const malformed = (detail: string) => new UndecodableImageError(`malformed BMP header: ${detail}`);

/**
 * Reads a BMP's file and DIB headers without touching its pixels, so that the declared size can be checked before
 * anything is allocated for them. Refuses what no decoder could read: unknown header sizes, zero or negative width,
 * zero height, planes other than 1, bit depths and compressions that do not go together.
 */
export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < FILE_HEADER_BYTES + 12 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw malformed('too short for a BMP file header');
  const pixelDataOffset = view.getUint32(10, true);
  const dibHeaderBytes = view.getUint32(14, true);
  if (!HEADER_SIZES.has(dibHeaderBytes)) throw malformed(`unknown DIB header size ${dibHeaderBytes}`);
  if (bytes.length < FILE_HEADER_BYTES + dibHeaderBytes) throw malformed(`the ${dibHeaderBytes}-byte DIB header is truncated`);

  let width: number;
  let signedHeight: number;
  let planes: number;
  let bitsPerPixel: number;
  let compressionValue = 0;
  let colorsUsed = 0;
  if (dibHeaderBytes === 12) {
    width = view.getUint16(18, true);
    signedHeight = view.getUint16(20, true);
    planes = view.getUint16(22, true);
    bitsPerPixel = view.getUint16(24, true);
  } else {
    width = view.getInt32(18, true);
    signedHeight = view.getInt32(22, true);
    planes = view.getUint16(26, true);
    bitsPerPixel = view.getUint16(28, true);
    if (dibHeaderBytes >= 20) compressionValue = view.getUint32(30, true);
    if (dibHeaderBytes >= 40) colorsUsed = view.getUint32(46, true);
  }

  if (width <= 0) throw malformed(`width ${width}`);
  if (signedHeight === 0 || signedHeight === -0x80000000) throw malformed(`height ${signedHeight}`);
  if (planes !== 1) throw malformed(`${planes} colour planes (must be 1)`);
  const compression = BMP_COMPRESSION[compressionValue as keyof typeof BMP_COMPRESSION] as BmpCompression | undefined;
  if (compression === undefined) throw malformed(`unknown compression ${compressionValue}`);
  const embedded = compression === 'jpeg' || compression === 'png';
  if (embedded ? bitsPerPixel !== 0 : ![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw malformed(`${bitsPerPixel} bits per pixel with ${compression} compression`);
  const required: Partial<Record<BmpCompression, number[]>> = { rle8: [8], rle4: [4], cmykrle8: [8], cmykrle4: [4], bitfields: [16, 32], alphabitfields: [16, 32] };
  if (required[compression] && !required[compression].includes(bitsPerPixel)) throw malformed(`${compression} compression with ${bitsPerPixel} bits per pixel`);
  const topDown = signedHeight < 0;
  if (topDown && (compression === 'rle8' || compression === 'rle4' || compression === 'cmykrle8' || compression === 'cmykrle4')) {
    throw malformed('a top-down (negative height) bitmap cannot be run-length encoded');
  }
  const maxColors = bitsPerPixel <= 8 ? 2 ** bitsPerPixel : 0;
  if (bitsPerPixel <= 8 && colorsUsed > maxColors) throw malformed(`${colorsUsed} palette entries for ${bitsPerPixel} bits per pixel`);
  if (bitsPerPixel > 8 && colorsUsed > 256) throw malformed(`${colorsUsed} palette entries`);
  const paletteEntries = colorsUsed > 0 ? colorsUsed : maxColors;
  const masksBytes = dibHeaderBytes === 40 ? (compression === 'bitfields' ? 12 : compression === 'alphabitfields' ? 16 : 0) : 0;
  const paletteOffset = FILE_HEADER_BYTES + dibHeaderBytes + masksBytes;
  if (pixelDataOffset < FILE_HEADER_BYTES + dibHeaderBytes || pixelDataOffset > bytes.length) {
    throw malformed(`pixel data offset ${pixelDataOffset} outside the ${bytes.length}-byte file`);
  }
  return { width, height: Math.abs(signedHeight), topDown, bitsPerPixel, compression, dibHeaderBytes, pixelDataOffset, paletteEntries, paletteOffset };
}

/** Bytes of one stored row of an uncompressed bitmap: rows are padded to a multiple of 4 bytes. */
export function bmpRowBytes(width: number, bitsPerPixel: number): number {
  return Math.floor((bitsPerPixel * width + 31) / 32) * 4;
}

/**
 * Refuses, before any pixel buffer exists, a BMP that the decoder cannot read or whose pixel data is not all in the
 * file: core and OS/2 headers, embedded JPEG or PNG, CMYK, a palette or uncompressed rows that run past the end.
 * Run-length encoded data cannot be measured before decoding; its size is bounded by the pixel limit alone.
 */
export function assertBmpDecodable(header: BmpHeader, byteLength: number): void {
  if (!DECODER_HEADER_SIZES.has(header.dibHeaderBytes)) throw new UndecodableImageError(`BMP with a ${header.dibHeaderBytes}-byte (core or OS/2) header is not supported`);
  if (!DECODER_COMPRESSIONS.has(header.compression)) throw new UndecodableImageError(`BMP with ${header.compression} compression is not supported`);
  if (header.paletteOffset + header.paletteEntries * 4 > byteLength) throw new UndecodableImageError('truncated BMP: the colour table runs past the end of the file');
  const runLength = header.compression === 'rle8' || header.compression === 'rle4';
  const pixelBytes = bmpRowBytes(header.width, header.bitsPerPixel) * header.height;
  if (!runLength && header.pixelDataOffset + pixelBytes > byteLength) {
    throw new UndecodableImageError(`truncated BMP: ${header.width}x${header.height} at ${header.bitsPerPixel} bits needs ${pixelBytes} bytes of pixels, the file has ${byteLength - header.pixelDataOffset}`);
  }
}
