import { brotliDecompressSync } from 'node:zlib';
import { PatchError } from './patch-error.js';
import { ByteReader } from './varint.js';

/** Reads one header field of a chunk list; PatchError when it is outside `min`–`max`. */
export function readBounded(reader: ByteReader, what: string, min: number, max: number): number {
  const value = reader.readUnsigned();
  if (value < min || value > max) throw new PatchError(`the chunk list's ${what} (${value}) is outside ${min}–${max}`);
  return value;
}

/**
 * The part both chunk lists (`EMCL`, `EMCG`) end with, read after their own header fields: the entry count and the
 * packed lengths' size (both bounded by the list's own size), the brotli-packed lengths, then `keyBytes` per entry
 * to the list's end. PatchError when the sizes do not add up, the lengths stream inflates past what the count can
 * need, a length is 0 or over `maxLength`, or lengths are left over. `unit` names an entry in the messages.
 */
export function readPackedLengths(bytes: Uint8Array, header: ByteReader, unit: string, keyBytes: number, maxLength: number): { lengths: number[]; keysStart: number } {
  // Each entry takes keyBytes of the list: a count the list cannot hold is refused before any arithmetic on it.
  const count = readBounded(header, `${unit} count`, 0, Math.floor(bytes.length / keyBytes));
  const packedLength = readBounded(header, 'packed lengths size', 0, bytes.length);
  const lengthsStart = 4 + header.position;
  const keysStart = lengthsStart + packedLength;
  if (bytes.length !== keysStart + count * keyBytes) throw new PatchError('the chunk list has the wrong size');
  // A varint length takes at most 5 bytes: a larger stream is corrupt (a compression bomb), and is not inflated past that.
  const packed = new ByteReader(new Uint8Array(brotliDecompressSync(bytes.subarray(lengthsStart, keysStart), { maxOutputLength: count * 5 + 16 })));
  const lengths: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const length = packed.readUnsigned();
    if (length === 0 || length > maxLength) throw new PatchError(`${unit} ${index} of the chunk list is ${length} bytes long`);
    lengths.push(length);
  }
  if (!packed.done) throw new PatchError(`the chunk list has more ${unit} lengths than ${unit}s`);
  return { lengths, keysStart };
}
