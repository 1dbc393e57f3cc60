import { createHash } from 'node:crypto';
import { brotliCompressSync } from 'node:zlib';
import { readBounded, readPackedLengths } from './list-header.js';
import { PatchError } from './patch-error.js';
import { ByteReader, ByteWriter } from './varint.js';

/** 1 KiB average: measured best for the test pairs (docs/delta-updates.md): small enough to isolate scattered changes, large enough that the chunk list stays ~0.6% of the file. */
export const CHUNK_AVERAGE_BYTES = 1024;
export const CHUNK_HASH_BYTES = 6;
/** The averages chunkBytes works with: below 64 its minimum passes its maximum; above 2^24 its masks overflow 32 bits. */
export const MIN_CHUNK_AVERAGE_BYTES = 64;
export const MAX_CHUNK_AVERAGE_BYTES = 1 << 24;
const MAGIC = 'EMCL';

const GEAR = (() => {
  const table = new Uint32Array(256);
  let seed = 0x9e3779b9;
  for (let index = 0; index < 256; index += 1) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    table[index] = seed;
  }
  return table;
})();

export interface Chunk {
  offset: number;
  length: number;
}

/**
 * Content-defined chunks (FastCDC-style gear hash with normalised cut points): the same content cuts the same way
 * wherever it sits. RangeError for an average outside MIN_CHUNK_AVERAGE_BYTES–MAX_CHUNK_AVERAGE_BYTES (at 0 it would
 * cut empty chunks for ever).
 */
export function chunkBytes(data: Uint8Array, averageBytes = CHUNK_AVERAGE_BYTES): Chunk[] {
  if (!Number.isInteger(averageBytes) || averageBytes < MIN_CHUNK_AVERAGE_BYTES || averageBytes > MAX_CHUNK_AVERAGE_BYTES) {
    throw new RangeError(`a chunk average of ${averageBytes} bytes is outside ${MIN_CHUNK_AVERAGE_BYTES}–${MAX_CHUNK_AVERAGE_BYTES}`);
  }
  const bits = Math.round(Math.log2(averageBytes));
  const strictMask = (1 << (bits + 1)) - 1;
  const looseMask = (1 << (bits - 1)) - 1;
  const minimum = Math.max(64, averageBytes >> 2);
  const maximum = averageBytes * 8;
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < data.length) {
    const end = Math.min(data.length, start + maximum);
    let cut = end;
    let hash = 0;
    for (let index = start + minimum; index < end; index += 1) {
      hash = ((hash << 1) + (GEAR[data[index] ?? 0] ?? 0)) >>> 0;
      if ((hash & (index - start < averageBytes ? strictMask : looseMask)) === 0) {
        cut = index + 1;
        break;
      }
    }
    chunks.push({ offset: start, length: cut - start });
    start = cut;
  }
  return chunks;
}

export const chunkKey = (data: Uint8Array) => createHash('sha256').update(data).digest().subarray(0, CHUNK_HASH_BYTES).toString('hex');

/** The chunk list of a file: brotli'd varint lengths, then a 6-byte SHA-256 prefix per chunk (the whole file's SHA-256 is checked after assembly). */
export function encodeChunkList(data: Uint8Array, averageBytes = CHUNK_AVERAGE_BYTES): Uint8Array {
  const chunks = chunkBytes(data, averageBytes);
  const lengths = new ByteWriter();
  for (const chunk of chunks) lengths.writeUnsigned(chunk.length);
  const packedLengths = brotliCompressSync(lengths.toBytes());
  const header = new ByteWriter();
  header.writeUnsigned(averageBytes);
  header.writeUnsigned(chunks.length);
  header.writeUnsigned(packedLengths.length);
  const hashes = Buffer.concat(chunks.map((chunk) => createHash('sha256').update(data.subarray(chunk.offset, chunk.offset + chunk.length)).digest().subarray(0, CHUNK_HASH_BYTES)));
  return Buffer.concat([Buffer.from(MAGIC), header.toBytes(), packedLengths, hashes]);
}

export interface ChunkList {
  averageBytes: number;
  chunks: (Chunk & { key: string })[];
  /** Bytes of the file the list describes (its chunks' lengths added up). */
  fileSizeBytes: number;
}

/**
 * Reads a single-level list; PatchError when it is not one or is corrupt: every header field is bounded (the average
 * by what chunkBytes works with, the count and the packed lengths by the list's own size), the lengths stream is not
 * inflated past what the count can need, and every length is between 1 and 8 × the average.
 */
export function decodeChunkList(bytes: Uint8Array): ChunkList {
  if (bytes.length < 4 || Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== MAGIC) throw new PatchError('not a chunk list (magic EMCL missing)');
  try {
    const header = new ByteReader(bytes.subarray(4));
    const averageBytes = readBounded(header, 'chunk average', MIN_CHUNK_AVERAGE_BYTES, MAX_CHUNK_AVERAGE_BYTES);
    const { lengths, keysStart } = readPackedLengths(bytes, header, 'chunk', CHUNK_HASH_BYTES, averageBytes * 8);
    const chunks: ChunkList['chunks'] = [];
    let offset = 0;
    for (const [index, length] of lengths.entries()) {
      const key = Buffer.from(bytes.subarray(keysStart + index * CHUNK_HASH_BYTES, keysStart + (index + 1) * CHUNK_HASH_BYTES)).toString('hex');
      chunks.push({ offset, length, key });
      offset += length;
    }
    return { averageBytes, chunks, fileSizeBytes: offset };
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the chunk list is corrupt');
  }
}

export interface ChunkSource {
  data: Uint8Array;
  offset: number;
}

/** Where each chunk of `target` can come from locally, and the byte ranges to fetch for the rest (neighbours coalesced). */
export function planChunkAssembly(target: ChunkList, local: Map<string, ChunkSource>, coalesceGapBytes = 0): { reused: number; ranges: { start: number; end: number; chunks: (Chunk & { key: string })[] }[] } {
  const ranges: { start: number; end: number; chunks: (Chunk & { key: string })[] }[] = [];
  let reused = 0;
  for (const chunk of target.chunks) {
    if (local.has(chunk.key)) {
      reused += chunk.length;
      continue;
    }
    const last = ranges.at(-1);
    if (last && chunk.offset - last.end <= coalesceGapBytes) {
      last.end = chunk.offset + chunk.length;
      last.chunks.push(chunk);
    } else ranges.push({ start: chunk.offset, end: chunk.offset + chunk.length, chunks: [chunk] });
  }
  return { reused, ranges };
}

/** Indexes every chunk of the files a device holds, by key. */
export function indexChunks(files: readonly Uint8Array[], averageBytes = CHUNK_AVERAGE_BYTES): Map<string, ChunkSource> {
  const index = new Map<string, ChunkSource>();
  for (const data of files) {
    for (const chunk of chunkBytes(data, averageBytes)) {
      const key = chunkKey(data.subarray(chunk.offset, chunk.offset + chunk.length));
      if (!index.has(key)) index.set(key, { data, offset: chunk.offset });
    }
  }
  return index;
}
