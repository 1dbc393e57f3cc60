import { createHash } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { PatchError } from './patch-error.js';
import { rebuildFormat1 } from './patch-format-1.js';
import { planPatch, type PatchOp } from './patch-plan.js';
import { ByteReader, ByteWriter } from './varint.js';

const MAGIC = 'EMDP';
const VERSION = 2;
const HASH_PREFIX = 8;
/** Brotli window of every stream (2^22 = 4 MiB): what a decoder holds per stream at most. */
const WINDOW_BITS = 22;
/** A difference run is stored in pieces of at most this many bytes, so that a decoder transposes lanes in a bounded buffer. */
export const DIFF_PIECE_BYTES = 65_536;

const OP_COPY = 0;
const OP_DIFF = 1;
const OP_LITERAL = 2;
/** Lane modes of a difference piece: plain bytes, or the bytes of each position modulo 4 grouped (fp32 tensors: exponent bytes change least). */
const LANES_PLAIN = 0;

export { PatchError };

export interface PatchInfo {
  /** First bytes of the SHA-256 of the file the patch applies to and of the file it makes. */
  oldSha256Prefix: string;
  newSha256Prefix: string;
  newSizeBytes: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();
const compress = (bytes: Uint8Array) =>
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: WINDOW_BITS, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });

function entropyBits(histogram: Uint32Array, total: number): number {
  let bits = 0;
  for (const count of histogram) if (count > 0) bits -= count * Math.log2(count / total);
  return bits;
}

/**
 * Picks how to store one piece of differences: as they are, or split into four lanes by position modulo 4 when that
 * lowers the estimated size (a 32-bit float's bytes change very differently). The lane with the most zeros goes last.
 */
function chooseLanes(differences: Uint8Array): number {
  if (differences.length < 256) return LANES_PLAIN;
  const plain = new Uint32Array(256);
  const lanes = Array.from({ length: 4 }, () => new Uint32Array(256));
  for (let index = 0; index < differences.length; index += 1) {
    const value = differences[index] ?? 0;
    plain[value]! += 1;
    lanes[index & 3]![value]! += 1;
  }
  const laneBits = lanes.reduce((sum, histogram) => sum + entropyBits(histogram, histogram.reduce((total, count) => total + count, 0)), 0);
  if (laneBits > 0.97 * entropyBits(plain, differences.length)) return LANES_PLAIN;
  let quietest = 0;
  for (let residue = 1; residue < 4; residue += 1) if ((lanes[residue]?.[0] ?? 0) > (lanes[quietest]?.[0] ?? 0)) quietest = residue;
  // Mode 1 + phase: position i goes to lane (i + phase) % 4, so the quietest residue lands in lane 3.
  return 1 + ((3 - quietest + 4) % 4);
}

/** Reorders a piece into its lanes (lane 0 first), or back; `phase` shifts which residue goes to which lane. */
function transposeLanes(piece: Uint8Array, phase: number, inverse: boolean): Uint8Array {
  const out = new Uint8Array(piece.length);
  let at = 0;
  for (let lane = 0; lane < 4; lane += 1) {
    for (let index = (lane - phase + 4) % 4; index < piece.length; index += 4) {
      if (inverse) out[index] = piece[at++] ?? 0;
      else out[at++] = piece[index] ?? 0;
    }
  }
  return out;
}

/** A patch that rebuilds `newBytes` from `oldBytes` (see planPatch for how stretches are chosen; docs/delta-updates.md for the format). */
export function createPatch(oldBytes: Uint8Array, newBytes: Uint8Array): Uint8Array {
  const ops: PatchOp[] = planPatch(oldBytes, newBytes);
  const control = new ByteWriter();
  const differences: Uint8Array[] = [];
  const literals: Uint8Array[] = [];
  let oldCursor = 0;
  let newAt = 0;
  for (const op of ops) {
    if (op.kind === 'literal') {
      control.writeUnsigned(op.length * 4 + OP_LITERAL);
      literals.push(newBytes.subarray(newAt, newAt + op.length));
      newAt += op.length;
      continue;
    }
    // Stryker disable next-line ConditionalExpression,StringLiteral,BlockStatement: equivalent, a copy written as a difference of zeros rebuilds the same bytes.
    if (op.kind === 'copy') {
      // Stryker disable next-line ArithmeticOperator: equivalent, OP_COPY is 0.
      control.writeUnsigned(op.length * 4 + OP_COPY);
      control.writeSigned(op.oldStart - oldCursor);
      oldCursor = op.oldStart + op.length;
      newAt += op.length;
      continue;
    }
    // Stryker disable next-line EqualityOperator: equivalent, the extra piece it allows is empty.
    for (let offset = 0; offset < op.length; offset += DIFF_PIECE_BYTES) {
      const length = Math.min(DIFF_PIECE_BYTES, op.length - offset);
      const oldStart = op.oldStart + offset;
      const piece = new Uint8Array(length);
      // Stryker disable next-line EqualityOperator: equivalent, the one index past the piece is outside the array and ignored.
      for (let index = 0; index < length; index += 1) piece[index] = ((newBytes[newAt + index] ?? 0) - (oldBytes[oldStart + index] ?? 0)) & 0xff;
      const lanes = chooseLanes(piece);
      control.writeUnsigned(length * 4 + OP_DIFF);
      control.writeSigned(oldStart - oldCursor);
      control.writeUnsigned(lanes);
      differences.push(lanes === LANES_PLAIN ? piece : transposeLanes(piece, lanes - 1, false));
      oldCursor = oldStart + length;
      newAt += length;
    }
  }
  const streams = [compress(control.toBytes()), compress(Buffer.concat(differences)), compress(Buffer.concat(literals))];
  const header = new ByteWriter();
  header.writeUnsigned(VERSION);
  header.writeUnsigned(newBytes.length);
  for (const stream of streams) header.writeUnsigned(stream.length);
  return Buffer.concat([Buffer.from(MAGIC), sha256(oldBytes).subarray(0, HASH_PREFIX), sha256(newBytes).subarray(0, HASH_PREFIX), header.toBytes(), ...streams]);
}

interface ParsedPatch extends PatchInfo {
  version: number;
  /** Format 1 only. */
  flags: number;
  streams: Uint8Array[];
}

/**
 * The most a stream can inflate to in a patch that writes `newSizeBytes`: the byte streams (differences, literals;
 * format 1's values and extra bytes) at most the new file; the control streams (format 1's gaps too) a few varints per
 * step, and every step writes at least one byte. A stream past its bound is a compression bomb and is cut off there.
 */
function inflatedLimit(version: number, stream: number, newSizeBytes: number): number {
  const isControl = stream === 0 || (version === 1 && stream === 1);
  return Math.min(bufferConstants.MAX_LENGTH, Math.max(1, isControl ? 16 * newSizeBytes + 64 : newSizeBytes));
}

/** Reads the header (either format) and decompresses the streams; throws a PatchError for anything malformed. */
function parsePatch(patch: Uint8Array, decompress: boolean): ParsedPatch {
  const fixed = 4 + 2 * HASH_PREFIX;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, a patch cut inside the fixed part fails the magic or the header read with the same PatchError.
  if (patch.length < fixed || Buffer.from(patch.subarray(0, 4)).toString('latin1') !== MAGIC) throw new PatchError('not a model patch (magic EMDP missing)');
  const reader = new ByteReader(patch.subarray(fixed));
  let version: number;
  let newSizeBytes: number;
  let flags = 0;
  let streamLengths: number[];
  try {
    version = reader.readUnsigned();
    if (version !== VERSION && version !== 1) throw new PatchError(`patch format version ${version} is not supported (this loader reads versions 1 and ${VERSION})`);
    newSizeBytes = reader.readUnsigned();
    if (version === 1) flags = reader.readUnsigned();
    streamLengths = Array.from({ length: version === 1 ? 4 : 3 }, () => reader.readUnsigned());
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the patch header is truncated');
  }
  let offset = fixed + reader.position;
  const streams = decompress
    ? streamLengths.map((length, stream) => {
        const slice = patch.subarray(offset, offset + length);
        offset += length;
        try {
          return new Uint8Array(brotliDecompressSync(slice, { maxOutputLength: inflatedLimit(version, stream, newSizeBytes) }));
          // Stryker disable next-line BlockStatement: equivalent, a stream that is not there fails the rebuild, which throws the same PatchError.
        } catch {
          throw new PatchError('the patch is corrupt (a stream does not decompress)');
        }
      })
    : // Stryker disable next-line ArrayDeclaration: equivalent, the streams of a header read are never used.
      [];
  return {
    oldSha256Prefix: Buffer.from(patch.subarray(4, 4 + HASH_PREFIX)).toString('hex'),
    newSha256Prefix: Buffer.from(patch.subarray(4 + HASH_PREFIX, fixed)).toString('hex'),
    newSizeBytes,
    version,
    flags,
    streams,
  };
}

export function readPatchInfo(patch: Uint8Array): PatchInfo {
  const { oldSha256Prefix, newSha256Prefix, newSizeBytes } = parsePatch(patch, false);
  return { oldSha256Prefix, newSha256Prefix, newSizeBytes };
}

/**
 * Rebuilds the new file from the old one (format 2, or format 1 from earlier publishers); throws a PatchError when the
 * patch is corrupt or meant for another file, or (with `expectedSizeBytes`) would write a file of another size: then
 * nothing is inflated or allocated for it.
 */
export function applyPatch(oldBytes: Uint8Array, patch: Uint8Array, options: { expectedSizeBytes?: number } = {}): Uint8Array {
  // Stryker disable next-line BooleanLiteral: equivalent, decompressing early only costs time.
  const parsed = parsePatch(patch, false);
  if (options.expectedSizeBytes !== undefined && parsed.newSizeBytes !== options.expectedSizeBytes) throw new PatchError(`the patch writes a ${parsed.newSizeBytes}-byte file, not the ${options.expectedSizeBytes} bytes expected`);
  // Stryker disable next-line ConditionalExpression: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
  if (sha256(oldBytes).subarray(0, HASH_PREFIX).toString('hex') !== parsed.oldSha256Prefix) throw new PatchError('the patch was made for another version of the model');
  const { streams, version, flags, newSizeBytes, newSha256Prefix } = parsePatch(patch, true);
  const output = version === 1 ? rebuildFormat1(oldBytes, newSizeBytes, flags, streams) : rebuild(oldBytes, newSizeBytes, streams);
  if (sha256(output).subarray(0, HASH_PREFIX).toString('hex') !== newSha256Prefix) throw new PatchError("the rebuilt model does not match the patch's checksum");
  return output;
}

/**
 * Format 2: the output is written front to back and each stream is read once, front to back; old bytes are read where
 * the control stream says. A difference piece is at most DIFF_PIECE_BYTES, so lanes are undone in a bounded buffer.
 */
function rebuild(oldBytes: Uint8Array, newSizeBytes: number, streams: Uint8Array[]): Uint8Array {
  const [controlBytes, differences, literals] = streams as [Uint8Array, Uint8Array, Uint8Array];
  const control = new ByteReader(controlBytes);
  const output = new Uint8Array(newSizeBytes);
  let written = 0;
  let oldCursor = 0;
  let differenceAt = 0;
  let literalAt = 0;
  try {
    while (!control.done) {
      const word = control.readUnsigned();
      const kind = word % 4;
      const length = Math.floor(word / 4);
      // Stryker disable next-line ConditionalExpression,ArithmeticOperator: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
      if (written + length > output.length) throw new PatchError('the patch is corrupt (it writes past the end of the file)');
      if (kind === OP_LITERAL) {
        // Stryker disable next-line ConditionalExpression,ArithmeticOperator: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
        if (literalAt + length > literals.length) throw new PatchError('the patch is corrupt (literal bytes run out)');
        output.set(literals.subarray(literalAt, literalAt + length), written);
        literalAt += length;
        written += length;
        continue;
      }
      if (kind !== OP_COPY && kind !== OP_DIFF) throw new PatchError('the patch is corrupt (unknown step)');
      const oldStart = oldCursor + control.readSigned();
      // Stryker disable next-line ConditionalExpression,LogicalOperator,ArithmeticOperator: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
      if (oldStart < 0 || oldStart + length > oldBytes.length) throw new PatchError('the patch is corrupt (it reads outside the old file)');
      output.set(oldBytes.subarray(oldStart, oldStart + length), written);
      if (kind === OP_DIFF) {
        const lanes = control.readUnsigned();
        // Stryker disable next-line ArithmeticOperator: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
        if (lanes > 4 || length > DIFF_PIECE_BYTES || differenceAt + length > differences.length) throw new PatchError('the patch is corrupt (a difference piece is malformed)');
        const stored = differences.subarray(differenceAt, differenceAt + length);
        const piece = lanes === LANES_PLAIN ? stored : transposeLanes(stored, lanes - 1, true);
        // Stryker disable next-line EqualityOperator: equivalent, one index too far adds nothing (no difference byte is there) to a byte the next step writes.
        for (let index = 0; index < length; index += 1) output[written + index] = ((output[written + index] ?? 0) + (piece[index] ?? 0)) & 0xff;
        differenceAt += length;
      }
      written += length;
      oldCursor = oldStart + length;
    }
    // Stryker disable next-line BlockStatement: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the patch is corrupt (control stream)');
  }
  // Stryker disable next-line ConditionalExpression: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
  if (written !== output.length || differenceAt !== differences.length || literalAt !== literals.length) throw new PatchError('the patch is corrupt (it does not rebuild the whole file)');
  return output;
}
