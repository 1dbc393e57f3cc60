import { createHash } from 'node:crypto';
import { brotliCompressSync } from 'node:zlib';
import { chunkBytes, MAX_CHUNK_AVERAGE_BYTES, MIN_CHUNK_AVERAGE_BYTES, type Chunk } from './chunking.js';
import { readBounded, readPackedLengths } from './list-header.js';
import { PatchError } from './patch-error.js';
import { ByteReader, ByteWriter } from './varint.js';

/**
 * The two-level chunk list (`EMCG`): the file cut into content-defined groups (16 KiB average), each named by a
 * SHA-256 prefix; then, in the same blob after the list, the hashes of every group's fixed-size blocks (256 bytes,
 * a 2-byte SHA-256 prefix each), group after group. A device fetches the list, matches groups against the groups of
 * the files it holds, then fetches by range only the block hashes of the groups it lacks, and only the blocks it lacks.
 * Sizes measured on the bench's pairs (docs/delta-updates.md, "The chunk path").
 */
export const GROUP_AVERAGE_BYTES = 16 * 1024;
export const BLOCK_BYTES = 256;
/** Short, because a block is only compared with the local bytes its group's matched neighbours line up with, and a wrong match is caught by its group's hash. */
export const BLOCK_HASH_BYTES = 2;
const MAGIC = 'EMCG';
const MAX_GROUP_HASH_BYTES = 16;
const MAX_BLOCK_HASH_BYTES = 8;

/**
 * Bytes of a group's hash prefix for a file of `sizeBytes`: the chance that any group the device lacks matches one it
 * holds by accident stays at or below 2^-20 when every group is missing and the device holds four files of this size.
 */
export function groupHashBytesFor(sizeBytes: number, groupAverageBytes = GROUP_AVERAGE_BYTES): number {
  const groups = Math.max(1, Math.ceil(sizeBytes / groupAverageBytes));
  return Math.min(MAX_GROUP_HASH_BYTES, Math.max(4, Math.ceil((2 * Math.log2(groups) + 2 + 20) / 8)));
}

export interface Group extends Chunk {
  /** Hex of the first `groupHashBytes` bytes of the group's SHA-256. */
  key: string;
  /** Where the group's block hashes start in the blob (after the list). */
  blockHashesAt: number;
}

export interface GroupList {
  groupAverageBytes: number;
  blockBytes: number;
  groupHashBytes: number;
  blockHashBytes: number;
  groups: Group[];
  /** Bytes of the list: the block hashes follow it in the blob. */
  listSizeBytes: number;
  /** Bytes of the whole blob (the list and every group's block hashes). */
  blobSizeBytes: number;
  /** Bytes of the file the list describes. */
  fileSizeBytes: number;
}

export interface GroupListOptions {
  groupAverageBytes?: number;
  blockBytes?: number;
  groupHashBytes?: number;
  blockHashBytes?: number;
}

const prefix = (data: Uint8Array, bytes: number) => createHash('sha256').update(data).digest().subarray(0, bytes);
export const groupKey = (data: Uint8Array, groupHashBytes: number) => prefix(data, groupHashBytes).toString('hex');
export const blockHash = (data: Uint8Array, blockHashBytes: number) => prefix(data, blockHashBytes);
export const blocksIn = (groupLength: number, blockBytes: number) => Math.ceil(groupLength / blockBytes);

/** The blob a publisher uploads: the list, then every group's block hashes; `listSizeBytes` is where the list ends. */
export function encodeGroupList(data: Uint8Array, options: GroupListOptions = {}): { blob: Uint8Array; listSizeBytes: number } {
  const groupAverageBytes = options.groupAverageBytes ?? GROUP_AVERAGE_BYTES;
  const blockBytes = options.blockBytes ?? BLOCK_BYTES;
  const groupHashBytes = options.groupHashBytes ?? groupHashBytesFor(data.length, groupAverageBytes);
  const blockHashBytes = options.blockHashBytes ?? BLOCK_HASH_BYTES;
  const groups = chunkBytes(data, groupAverageBytes);
  const lengths = new ByteWriter();
  for (const group of groups) lengths.writeUnsigned(group.length);
  const packedLengths = brotliCompressSync(lengths.toBytes());
  const header = new ByteWriter();
  for (const value of [groupAverageBytes, blockBytes, groupHashBytes, blockHashBytes, groups.length, packedLengths.length]) header.writeUnsigned(value);
  const keys = groups.map((group) => prefix(data.subarray(group.offset, group.offset + group.length), groupHashBytes));
  const blockHashes: Buffer[] = [];
  for (const group of groups) {
    for (let at = group.offset; at < group.offset + group.length; at += blockBytes) blockHashes.push(blockHash(data.subarray(at, Math.min(at + blockBytes, group.offset + group.length)), blockHashBytes));
  }
  const list = Buffer.concat([Buffer.from(MAGIC), header.toBytes(), packedLengths, ...keys]);
  return { blob: Buffer.concat([list, ...blockHashes]), listSizeBytes: list.length };
}

/** Whether `bytes` start like a two-level chunk list (the loader also reads single-level `EMCL` lists). */
export const isGroupList = (bytes: Uint8Array) => bytes.length >= 4 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === MAGIC;

/** Reads the list (the blob's first `listSizeBytes` bytes, exactly); PatchError when it is not one or is corrupt. */
export function decodeGroupList(bytes: Uint8Array): GroupList {
  if (!isGroupList(bytes)) throw new PatchError('not a two-level chunk list (magic EMCG missing)');
  try {
    const header = new ByteReader(bytes.subarray(4));
    const groupAverageBytes = readBounded(header, 'group size', MIN_CHUNK_AVERAGE_BYTES, MAX_CHUNK_AVERAGE_BYTES);
    const blockBytes = readBounded(header, 'block size', 16, groupAverageBytes);
    const groupHashBytes = readBounded(header, 'group hash length', 4, MAX_GROUP_HASH_BYTES);
    const blockHashBytes = readBounded(header, 'block hash length', 1, MAX_BLOCK_HASH_BYTES);
    const { lengths, keysStart } = readPackedLengths(bytes, header, 'group', groupHashBytes, groupAverageBytes * 8);
    const groups: Group[] = [];
    let offset = 0;
    let blockHashesAt = bytes.length;
    for (const [index, length] of lengths.entries()) {
      const key = Buffer.from(bytes.subarray(keysStart + index * groupHashBytes, keysStart + (index + 1) * groupHashBytes)).toString('hex');
      groups.push({ offset, length, key, blockHashesAt });
      offset += length;
      blockHashesAt += blocksIn(length, blockBytes) * blockHashBytes;
    }
    return { groupAverageBytes, blockBytes, groupHashBytes, blockHashBytes, groups, listSizeBytes: bytes.length, blobSizeBytes: blockHashesAt, fileSizeBytes: offset };
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the chunk list is corrupt');
  }
}
