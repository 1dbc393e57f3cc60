import { createHash } from 'node:crypto';
import { brotliCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chunkBytes, encodeChunkList } from './chunking.js';
import { BLOCK_BYTES, BLOCK_HASH_BYTES, decodeGroupList, encodeGroupList, GROUP_AVERAGE_BYTES, groupHashBytesFor, isGroupList } from './group-list.js';
import { PatchError } from './patch-error.js';
import { ByteWriter } from './varint.js';
import { noise } from '../test/noise.js';

const OPTIONS = { groupAverageBytes: 1024, blockBytes: 64, groupHashBytes: 4 };
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

/** A list written field by field, for the corruptions the encoder never makes. */
function handMade(fields: { header: number[]; lengths: number[]; keys?: Buffer; packed?: Buffer }): Buffer {
  const lengths = new ByteWriter();
  for (const length of fields.lengths) lengths.writeUnsigned(length);
  const packed = fields.packed ?? brotliCompressSync(lengths.toBytes());
  const header = new ByteWriter();
  for (const value of [...fields.header, packed.length]) header.writeUnsigned(value);
  return Buffer.concat([Buffer.from('EMCG'), header.toBytes(), packed, fields.keys ?? Buffer.alloc(fields.header[4]! * fields.header[2]!)]);
}

describe('encodeGroupList / decodeGroupList', () => {
  it('round-trips the groups (content-defined at the group average), their keys and where their block hashes sit', () => {
    const data = noise(48 * 1024, 7);
    const { blob, listSizeBytes } = encodeGroupList(data, OPTIONS);
    const list = decodeGroupList(blob.subarray(0, listSizeBytes));
    expect(list).toMatchObject({ groupAverageBytes: 1024, blockBytes: 64, groupHashBytes: 4, blockHashBytes: BLOCK_HASH_BYTES, listSizeBytes, blobSizeBytes: blob.length, fileSizeBytes: data.length });
    expect(list.groups.map(({ offset, length }) => ({ offset, length }))).toEqual(chunkBytes(data, 1024));
    let at = listSizeBytes;
    for (const group of list.groups) {
      expect(group.key).toBe(sha256(data.subarray(group.offset, group.offset + group.length)).subarray(0, 4).toString('hex'));
      expect(group.blockHashesAt).toBe(at);
      for (let block = group.offset; block < group.offset + group.length; block += 64) {
        const expected = sha256(data.subarray(block, Math.min(block + 64, group.offset + group.length))).subarray(0, BLOCK_HASH_BYTES);
        expect(Buffer.from(blob.subarray(at, at + BLOCK_HASH_BYTES))).toEqual(expected);
        at += BLOCK_HASH_BYTES;
      }
    }
    expect(at).toBe(blob.length);
  });

  it('defaults to 16 KiB groups of 256-byte blocks with 2-byte block hashes, and a group hash sized for the file', () => {
    const data = noise(200 * 1024, 8);
    const { blob, listSizeBytes } = encodeGroupList(data);
    expect(decodeGroupList(blob.subarray(0, listSizeBytes))).toMatchObject({ groupAverageBytes: GROUP_AVERAGE_BYTES, blockBytes: BLOCK_BYTES, blockHashBytes: 2, groupHashBytes: groupHashBytesFor(data.length) });
    expect([GROUP_AVERAGE_BYTES, BLOCK_BYTES, BLOCK_HASH_BYTES]).toEqual([16_384, 256, 2]);
  });

  it('sizes the group hash so that an accidental match stays at or below 2^-20 with every group missing: 4 bytes up to 512 KiB, 5 for 4 MB, 6 for 100 MB', () => {
    expect(groupHashBytesFor(1000)).toBe(4);
    expect(groupHashBytesFor(512 * 1024)).toBe(4);
    expect(groupHashBytesFor(512 * 1024 + 1)).toBe(5);
    expect(groupHashBytesFor(4_185_003)).toBe(5);
    expect(groupHashBytesFor(100 * 1024 * 1024)).toBe(6);
    expect(groupHashBytesFor(2 ** 50)).toBe(12);
  });

  it('an empty file is an empty list', () => {
    const { blob, listSizeBytes } = encodeGroupList(new Uint8Array(0));
    expect(blob.length).toBe(listSizeBytes);
    expect(decodeGroupList(blob)).toMatchObject({ groups: [], fileSizeBytes: 0, blobSizeBytes: listSizeBytes });
  });

  it('a file without cut points (zeros) round-trips: its groups are as long as the chunker cuts them, 8 × the average', () => {
    const data = new Uint8Array(20_000);
    const { blob, listSizeBytes } = encodeGroupList(data, OPTIONS);
    const list = decodeGroupList(blob.subarray(0, listSizeBytes));
    expect(list.groups.map((group) => group.length)).toEqual([8192, 8192, 20_000 - 2 * 8192]);
    expect(list).toMatchObject({ fileSizeBytes: data.length, blobSizeBytes: blob.length });
  });

  it('tells the two list formats apart by their magic', () => {
    const data = noise(8 * 1024, 9);
    expect(isGroupList(encodeGroupList(data).blob)).toBe(true);
    expect(isGroupList(encodeChunkList(data))).toBe(false);
    expect(isGroupList(Buffer.from('EMC'))).toBe(false);
    // The magic alone starts a list (a corrupt one), so the loader takes the two-level path and refuses it there.
    expect(isGroupList(Buffer.from('EMCG'))).toBe(true);
  });
});

describe('decodeGroupList refuses what is not a list it can trust, with a PatchError', () => {
  const list = () => {
    const { blob, listSizeBytes } = encodeGroupList(noise(32 * 1024, 10), OPTIONS);
    return Buffer.from(blob.subarray(0, listSizeBytes));
  };
  const refused = (bytes: Uint8Array) => {
    try {
      decodeGroupList(bytes);
    } catch (error) {
      expect(error).toBeInstanceOf(PatchError);
      expect((error as PatchError).code).toBe('DELTA_PATCH_INVALID');
      return (error as PatchError).message;
    }
    throw new Error('decoded');
  };

  it('another format, or bytes cut, extended or scrambled', () => {
    const bytes = list();
    expect(refused(encodeChunkList(noise(8 * 1024)))).toBe('not a two-level chunk list (magic EMCG missing)');
    expect(refused(Buffer.from('EMC'))).toMatch(/magic/);
    expect(refused(bytes.subarray(0, bytes.length - 1))).toBe('the chunk list has the wrong size');
    expect(refused(Buffer.concat([bytes, Buffer.from([0])]))).toBe('the chunk list has the wrong size');
    expect(refused(bytes.subarray(0, 7))).toBe('the chunk list is corrupt');
    // The whole blob is not the list: the block hashes after it make it the wrong size.
    const { blob } = encodeGroupList(noise(32 * 1024, 10), OPTIONS);
    expect(refused(blob)).toBe('the chunk list has the wrong size');
    const scrambled = Buffer.from(bytes);
    for (let index = 12; index < 40; index += 1) scrambled[index] = 0xff;
    expect(refused(scrambled)).toMatch(/chunk list/);
  });

  it('parameters outside their bounds', () => {
    // header: group average, block size, group hash bytes, block hash bytes, group count
    expect(refused(handMade({ header: [1024, 8, 4, 2, 1], lengths: [100] }))).toMatchInlineSnapshot(`"the chunk list's block size (8) is outside 16–1024"`);
    expect(refused(handMade({ header: [1024, 2048, 4, 2, 1], lengths: [100] }))).toMatch(/block size \(2048\)/);
    expect(refused(handMade({ header: [32, 16, 4, 2, 1], lengths: [100] }))).toMatch(/group size \(32\)/);
    expect(refused(handMade({ header: [1024, 64, 3, 2, 1], lengths: [100] }))).toMatch(/group hash length \(3\)/);
    expect(refused(handMade({ header: [1024, 64, 4, 0, 1], lengths: [100] }))).toMatch(/block hash length \(0\)/);
    expect(refused(handMade({ header: [1024, 64, 4, 9, 1], lengths: [100] }))).toMatch(/block hash length \(9\)/);
  });

  it('accepts every parameter at either end of its bounds', () => {
    // header: group average, block size, group hash bytes, block hash bytes, group count
    const lowest = decodeGroupList(handMade({ header: [64, 16, 4, 1, 1], lengths: [100] }));
    expect(lowest).toMatchObject({ groupAverageBytes: 64, blockBytes: 16, groupHashBytes: 4, blockHashBytes: 1 });
    expect(lowest.blobSizeBytes - lowest.listSizeBytes).toBe(7); // 100 bytes in 16-byte blocks, 1 byte a hash
    const highest = decodeGroupList(handMade({ header: [1 << 24, 1 << 24, 16, 8, 1], lengths: [100] }));
    expect(highest).toMatchObject({ groupAverageBytes: 1 << 24, blockBytes: 1 << 24, groupHashBytes: 16, blockHashBytes: 8 });
    expect(highest.groups[0]!.key).toHaveLength(32);
    expect(highest.blobSizeBytes - highest.listSizeBytes).toBe(8);
  });

  it('a group count the list cannot hold, or a packed size past the list, before any arithmetic on them', () => {
    expect(refused(handMade({ header: [1024, 64, 4, 2, 5_000_000], lengths: [100], keys: Buffer.alloc(4) }))).toMatch(/^the chunk list's group count \(5000000\) is outside 0–\d+$/);
    const lengths = new ByteWriter();
    lengths.writeUnsigned(100);
    const header = new ByteWriter();
    for (const value of [1024, 64, 4, 2, 1, 2 ** 40]) header.writeUnsigned(value);
    expect(refused(Buffer.concat([Buffer.from('EMCG'), header.toBytes(), brotliCompressSync(lengths.toBytes()), Buffer.alloc(4)]))).toMatch(/packed lengths size \(1099511627776\)/);
  });

  it('group lengths that are zero, longer than 8 × the average, fewer or more than the groups', () => {
    expect(refused(handMade({ header: [1024, 64, 4, 2, 2], lengths: [100, 0] }))).toBe('group 1 of the chunk list is 0 bytes long');
    expect(refused(handMade({ header: [1024, 64, 4, 2, 1], lengths: [8193] }))).toBe('group 0 of the chunk list is 8193 bytes long');
    expect(refused(handMade({ header: [1024, 64, 4, 2, 2], lengths: [100] }))).toBe('the chunk list is corrupt');
    expect(refused(handMade({ header: [1024, 64, 4, 2, 1], lengths: [100, 200] }))).toBe('the chunk list has more group lengths than groups');
    expect(refused(handMade({ header: [1024, 64, 4, 2, 1], lengths: [], packed: Buffer.from('not brotli at all') }))).toBe('the chunk list is corrupt');
  });

  it('a lengths stream that inflates past what its groups can need (a compression bomb) is cut off', () => {
    const bomb = brotliCompressSync(new Uint8Array(1 << 20).fill(1));
    expect(refused(handMade({ header: [1024, 64, 4, 2, 1], lengths: [], packed: bomb }))).toBe('the chunk list is corrupt');
  });

  it('accepts the hand-made list when it is right (the corruptions above are the only faults)', () => {
    expect(decodeGroupList(handMade({ header: [1024, 64, 4, 2, 2], lengths: [100, 200] })).groups.map((group) => group.length)).toEqual([100, 200]);
  });
});
