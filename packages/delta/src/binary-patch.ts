import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { ByteReader, ByteWriter } from './varint.js';

const MAGIC = 'EMDP';
const VERSION = 1;
const BLOCK = 32;
const HASH_BITS = 22;

export class PatchError extends Error {
  readonly code = 'DELTA_PATCH_INVALID';
}

/** One step of a patch: copy `extraLength` literal bytes, then `diffLength` bytes of old (from `oldStart`) plus a byte-wise difference. */
interface Segment {
  extraStart: number;
  extraLength: number;
  oldStart: number;
  newStart: number;
  diffLength: number;
}

function hashAt(bytes: Uint8Array, position: number): number {
  let hash = 0x811c9dc5;
  for (let index = position; index < position + BLOCK; index += 1) hash = Math.imul(hash ^ (bytes[index] ?? 0), 0x01000193);
  return (hash >>> 0) >>> (32 - HASH_BITS);
}

/**
 * Extends a match forward while the bytes mostly agree: scattered changed bytes (a fine-tune nudging weights) stay
 * inside the match as small differences; a run where most bytes differ ends it.
 */
function extendForward(oldBytes: Uint8Array, newBytes: Uint8Array, oldStart: number, newStart: number): number {
  const limit = Math.min(oldBytes.length - oldStart, newBytes.length - newStart);
  let best = 0;
  let score = 0;
  let bestScore = 0;
  for (let length = 0; length < limit; length += 1) {
    score += oldBytes[oldStart + length] === newBytes[newStart + length] ? 1 : -1;
    if (score > bestScore) {
      bestScore = score;
      best = length + 1;
    } else if (bestScore - score > 64) break;
  }
  return best;
}

function extendBackward(oldBytes: Uint8Array, newBytes: Uint8Array, oldStart: number, newStart: number, newFloor: number): number {
  const limit = Math.min(oldStart, newStart - newFloor);
  let best = 0;
  let score = 0;
  let bestScore = 0;
  for (let length = 1; length <= limit; length += 1) {
    score += oldBytes[oldStart - length] === newBytes[newStart - length] ? 1 : -1;
    if (score > bestScore) {
      bestScore = score;
      best = length;
    } else if (bestScore - score > 64) break;
  }
  return best;
}

function findSegments(oldBytes: Uint8Array, newBytes: Uint8Array): Segment[] {
  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  for (let position = 0; position + BLOCK <= oldBytes.length; position += 1) table[hashAt(oldBytes, position)] = position;
  const segments: Segment[] = [];
  let covered = 0;
  let expectedOld = 0;
  let position = 0;
  const sameBlock = (oldAt: number, newAt: number) => {
    if (oldAt < 0 || oldAt + BLOCK > oldBytes.length) return false;
    for (let index = 0; index < BLOCK; index += 1) if (oldBytes[oldAt + index] !== newBytes[newAt + index]) return false;
    return true;
  };
  while (position + BLOCK <= newBytes.length) {
    // Prefer continuing where the last match left off; then ask the index.
    const continuation = expectedOld + (position - covered);
    const indexed = table[hashAt(newBytes, position)] ?? -1;
    const oldAt = sameBlock(continuation, position) ? continuation : sameBlock(indexed, position) ? indexed : -1;
    if (oldAt < 0) {
      position += 1;
      continue;
    }
    const back = extendBackward(oldBytes, newBytes, oldAt, position, covered);
    const forward = extendForward(oldBytes, newBytes, oldAt, position);
    const newStart = position - back;
    segments.push({ extraStart: covered, extraLength: newStart - covered, oldStart: oldAt - back, newStart, diffLength: back + forward });
    covered = newStart + back + forward;
    expectedOld = oldAt + forward;
    position = covered;
  }
  if (covered < newBytes.length) segments.push({ extraStart: covered, extraLength: newBytes.length - covered, oldStart: expectedOld, newStart: newBytes.length, diffLength: 0 });
  return segments;
}

const compress = (bytes: Uint8Array) =>
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });

const HASH_PREFIX = 8;
const FLAG_NEW_VALUES = 1;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

export interface PatchInfo {
  /** First bytes of the SHA-256 of the file the patch applies to and of the file it makes. */
  oldSha256Prefix: string;
  newSha256Prefix: string;
  newSizeBytes: number;
}

/**
 * A patch from `oldBytes` to `newBytes`, bsdiff-style. Segments copy old bytes; where a fine-tune nudged a few bytes
 * inside a segment, only those positions are stored (as gaps and run lengths) with either their differences or their
 * new values, whichever compresses smaller; bytes with no match in the old file are literals. Each stream is brotli'd.
 * Applying it needs old + new + patch in memory.
 */
export function createPatch(oldBytes: Uint8Array, newBytes: Uint8Array): Uint8Array {
  const segments = findSegments(oldBytes, newBytes);
  const control = new ByteWriter();
  const gaps = new ByteWriter();
  const differences: number[] = [];
  const newValues: number[] = [];
  const extra = new Uint8Array(segments.reduce((sum, segment) => sum + segment.extraLength, 0));
  let extraAt = 0;
  let oldCursor = 0;
  let sinceLastChange = 0;
  for (const segment of segments) {
    control.writeUnsigned(segment.extraLength);
    control.writeUnsigned(segment.diffLength);
    control.writeSigned(segment.oldStart - oldCursor);
    extra.set(newBytes.subarray(segment.extraStart, segment.extraStart + segment.extraLength), extraAt);
    extraAt += segment.extraLength;
    let index = 0;
    while (index < segment.diffLength) {
      if (newBytes[segment.newStart + index] === oldBytes[segment.oldStart + index]) {
        index += 1;
        sinceLastChange += 1;
        continue;
      }
      const runStart = index;
      while (index < segment.diffLength && newBytes[segment.newStart + index] !== oldBytes[segment.oldStart + index]) {
        const after = newBytes[segment.newStart + index] ?? 0;
        differences.push((after - (oldBytes[segment.oldStart + index] ?? 0)) & 0xff);
        newValues.push(after);
        index += 1;
      }
      gaps.writeUnsigned(sinceLastChange);
      gaps.writeUnsigned(index - runStart);
      sinceLastChange = 0;
    }
    oldCursor = segment.oldStart + segment.diffLength;
  }
  const asDifferences = compress(Uint8Array.from(differences));
  const asNewValues = compress(Uint8Array.from(newValues));
  const useNewValues = asNewValues.length < asDifferences.length;
  const streams = [compress(control.toBytes()), compress(gaps.toBytes()), useNewValues ? asNewValues : asDifferences, compress(extra)];
  const header = new ByteWriter();
  header.writeUnsigned(VERSION);
  header.writeUnsigned(newBytes.length);
  header.writeUnsigned(useNewValues ? FLAG_NEW_VALUES : 0);
  for (const stream of streams) header.writeUnsigned(stream.length);
  return Buffer.concat([Buffer.from(MAGIC), sha256(oldBytes).subarray(0, HASH_PREFIX), sha256(newBytes).subarray(0, HASH_PREFIX), header.toBytes(), ...streams]);
}

function parseHeader(patch: Uint8Array): PatchInfo & { flags: number; headerLength: number; streamLengths: number[] } {
  const fixed = 4 + 2 * HASH_PREFIX;
  if (patch.length < fixed || Buffer.from(patch.subarray(0, 4)).toString('latin1') !== MAGIC) throw new PatchError('not a model patch (magic EMDP missing)');
  const reader = new ByteReader(patch.subarray(fixed));
  try {
    const version = reader.readUnsigned();
    if (version !== VERSION) throw new PatchError(`patch format version ${version} is not supported`);
    const newSizeBytes = reader.readUnsigned();
    const flags = reader.readUnsigned();
    const streamLengths = [reader.readUnsigned(), reader.readUnsigned(), reader.readUnsigned(), reader.readUnsigned()];
    return {
      oldSha256Prefix: Buffer.from(patch.subarray(4, 4 + HASH_PREFIX)).toString('hex'),
      newSha256Prefix: Buffer.from(patch.subarray(4 + HASH_PREFIX, fixed)).toString('hex'),
      newSizeBytes,
      flags,
      headerLength: fixed + reader.position,
      streamLengths,
    };
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the patch header is truncated');
  }
}

export function readPatchInfo(patch: Uint8Array): PatchInfo {
  const { oldSha256Prefix, newSha256Prefix, newSizeBytes } = parseHeader(patch);
  return { oldSha256Prefix, newSha256Prefix, newSizeBytes };
}

/** Rebuilds the new file from the old one; throws a PatchError when the patch is corrupt or meant for another file. */
export function applyPatch(oldBytes: Uint8Array, patch: Uint8Array): Uint8Array {
  const info = parseHeader(patch);
  if (sha256(oldBytes).subarray(0, HASH_PREFIX).toString('hex') !== info.oldSha256Prefix) throw new PatchError('the patch was made for another version of the model');
  let offset = info.headerLength;
  const streams = info.streamLengths.map((length) => {
    const slice = patch.subarray(offset, offset + length);
    offset += length;
    try {
      return new Uint8Array(brotliDecompressSync(slice));
    } catch {
      throw new PatchError('the patch is corrupt (a stream does not decompress)');
    }
  });
  const [controlBytes, gapBytes, values, extra] = streams as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const newValues = (info.flags & FLAG_NEW_VALUES) !== 0;
  const control = new ByteReader(controlBytes);
  const gaps = new ByteReader(gapBytes);
  const output = new Uint8Array(info.newSizeBytes);
  let written = 0;
  let extraAt = 0;
  let valueAt = 0;
  let oldCursor = 0;
  // Changes are positions within the concatenated segments: the next one is `untilChange` copied bytes away.
  let untilChange = gaps.done ? Infinity : gaps.readUnsigned();
  let changeLength = Number.isFinite(untilChange) ? gaps.readUnsigned() : 0;
  try {
    while (!control.done) {
      const extraLength = control.readUnsigned();
      const diffLength = control.readUnsigned();
      const oldStart = oldCursor + control.readSigned();
      if (written + extraLength + diffLength > output.length || extraAt + extraLength > extra.length || oldStart < 0 || oldStart + diffLength > oldBytes.length) {
        throw new PatchError('the patch is corrupt (a segment runs out of bounds)');
      }
      output.set(extra.subarray(extraAt, extraAt + extraLength), written);
      written += extraLength;
      extraAt += extraLength;
      output.set(oldBytes.subarray(oldStart, oldStart + diffLength), written);
      let index = 0;
      while (index < diffLength) {
        if (untilChange > 0) {
          const skip = Math.min(untilChange, diffLength - index);
          untilChange -= skip;
          index += skip;
          continue;
        }
        if (valueAt >= values.length) throw new PatchError('the patch is corrupt (values run out)');
        const value = values[valueAt++] ?? 0;
        output[written + index] = newValues ? value : ((oldBytes[oldStart + index] ?? 0) + value) & 0xff;
        index += 1;
        changeLength -= 1;
        if (changeLength === 0) {
          untilChange = gaps.done ? Infinity : gaps.readUnsigned();
          changeLength = Number.isFinite(untilChange) ? gaps.readUnsigned() : 0;
        }
      }
      written += diffLength;
      oldCursor = oldStart + diffLength;
    }
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the patch is corrupt (control stream)');
  }
  if (written !== output.length) throw new PatchError('the patch is corrupt (it does not rebuild the whole file)');
  if (sha256(output).subarray(0, HASH_PREFIX).toString('hex') !== info.newSha256Prefix) throw new PatchError("the rebuilt model does not match the patch's checksum");
  return output;
}
