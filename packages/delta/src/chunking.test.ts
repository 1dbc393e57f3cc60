import { createHash } from 'node:crypto';
import { brotliCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CHUNK_HASH_BYTES, chunkBytes, chunkKey, decodeChunkList, encodeChunkList, indexChunks, planChunkAssembly, type ChunkList } from './chunking.js';
import { PatchError } from './patch-error.js';
import { ByteWriter } from './varint.js';
import { noise } from '../test/noise.js';


const AVERAGE = 256;
// Computed inside each test (not at collection), so that mutation testing attributes the coverage to the tests.
const sample = () => noise(64 * 1024);

describe('chunkBytes', () => {
  it('cuts exactly where the publisher cuts: the gear table, masks and cut rule are part of the chunk-list format', () => {
    // A device and a publisher of different versions must cut the same bytes the same way, or no chunk is ever reused.
    expect(chunkBytes(noise(8192, 21), 256).map((chunk) => chunk.length)).toEqual([
      213, 357, 348, 427, 305, 364, 341, 148, 407, 271, 278, 289, 142, 367, 274, 375, 265, 93, 563, 222, 278, 433, 324, 524, 375, 209,
    ]);
    expect(chunkBytes(noise(32_768, 22), 1024).map((chunk) => chunk.length)).toEqual([
      1041, 1268, 1655, 1283, 1912, 1263, 1257, 1321, 2298, 1982, 810, 895, 1498, 1620, 901, 1132, 1077, 294, 1495, 1431, 2242, 1858, 741, 268, 1081, 145,
    ]);
  });

  it('covers the data with contiguous chunks, each between the minimum (a quarter of the average, at least 64) and 8 × the average', () => {
    const data = sample();
    const chunks = chunkBytes(data, AVERAGE);
    let offset = 0;
    for (const chunk of chunks) {
      expect(chunk.offset).toBe(offset);
      offset += chunk.length;
    }
    expect(offset).toBe(data.length);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThan(64);
      expect(chunk.length).toBeLessThanOrEqual(8 * AVERAGE);
    }
    expect(Math.min(...chunkBytes(noise(256 * 1024, 9), 4096).slice(0, -1).map((chunk) => chunk.length))).toBeGreaterThan(1024);
  });

  it('cuts near the average size on random data, rarely below it', () => {
    const data = sample();
    const chunks = chunkBytes(data, AVERAGE);
    const mean = data.length / chunks.length;
    expect(mean).toBeGreaterThan(AVERAGE * 0.75);
    expect(mean).toBeLessThan(AVERAGE * 2);
    // Below the average, cuts need one more zero bit than above it.
    const short = chunks.slice(0, -1).filter((chunk) => chunk.length < AVERAGE).length;
    const long = chunks.slice(0, -1).filter((chunk) => chunk.length >= AVERAGE).length;
    expect(short).toBeLessThan(long);
  });

  it('cuts at the maximum where content never says where', () => {
    expect(chunkBytes(new Uint8Array(10_000), AVERAGE).map((chunk) => chunk.length)).toEqual([2048, 2048, 2048, 2048, 1808]);
  });

  it('cuts by content: after an insertion, the chunks that follow are the same bytes at shifted offsets', () => {
    const data = sample();
    const inserted = new Uint8Array([...data.subarray(0, 1000), ...noise(77, 5), ...data.subarray(1000)]);
    const keys = (bytes: Uint8Array) => chunkBytes(bytes, AVERAGE).map((chunk) => chunkKey(bytes.subarray(chunk.offset, chunk.offset + chunk.length)));
    const before = keys(data);
    const after = new Set(keys(inserted));
    const kept = before.filter((key) => after.has(key)).length;
    expect(kept).toBeGreaterThan(before.length - 5);
  });

  it('gives nothing for nothing, and one chunk for less than the minimum', () => {
    expect(chunkBytes(new Uint8Array(0), AVERAGE)).toEqual([]);
    expect(chunkBytes(noise(64), AVERAGE)).toEqual([{ offset: 0, length: 64 }]);
  });

  it('refuses an average it cannot work with (at 0 it cut empty chunks for ever), and works at either end of its bounds', () => {
    for (const average of [0, 1, 63, 64.5, Number.NaN, 2 ** 24 + 1, 2 ** 40]) expect(() => chunkBytes(new Uint8Array(0), average), String(average)).toThrow(RangeError);
    expect(() => chunkBytes(noise(64), 0)).toThrowErrorMatchingInlineSnapshot(`[RangeError: a chunk average of 0 bytes is outside 64–16777216]`);
    expect(chunkBytes(noise(1000), 64).every((chunk) => chunk.length > 0 && chunk.length <= 512)).toBe(true);
    expect(chunkBytes(noise(1000), 2 ** 24)).toEqual([{ offset: 0, length: 1000 }]);
  });

  it('uses 1 KiB chunks by default', () => {
    const big = noise(256 * 1024, 3);
    expect(chunkBytes(big)).toEqual(chunkBytes(big, 1024));
    expect(decodeChunkList(encodeChunkList(big)).averageBytes).toBe(1024);
  });
});

describe('chunk lists', () => {
  it('round-trips offsets, lengths and keys, the key being the first 6 bytes of the SHA-256 of the chunk', () => {
    const data = sample();
    const encoded = encodeChunkList(data, AVERAGE);
    expect(Buffer.from(encoded.subarray(0, 4)).toString('latin1')).toBe('EMCL');
    const list = decodeChunkList(encodeChunkList(data, AVERAGE));
    const chunks = chunkBytes(data, AVERAGE);
    expect(list.averageBytes).toBe(AVERAGE);
    expect(list.chunks.map(({ offset, length }) => ({ offset, length }))).toEqual(chunks);
    for (const chunk of list.chunks) {
      const slice = data.subarray(chunk.offset, chunk.offset + chunk.length);
      expect(chunk.key).toBe(createHash('sha256').update(slice).digest().subarray(0, CHUNK_HASH_BYTES).toString('hex'));
      expect(chunk.key).toBe(chunkKey(slice));
    }
  });

  it('refuses bytes that are not a chunk list, or are cut, extended or corrupted', () => {
    const encoded = Buffer.from(encodeChunkList(sample(), AVERAGE));
    expect(() => decodeChunkList(Buffer.concat([Buffer.from('XMCL'), encoded.subarray(4)]))).toThrow(PatchError);
    expect(() => decodeChunkList(Buffer.from('EMC'))).toThrow(PatchError);
    expect(() => decodeChunkList(Buffer.from('XMCL....'))).toThrow(PatchError);
    expect(() => decodeChunkList(encoded.subarray(0, encoded.length - 1))).toThrow(PatchError);
    expect(() => decodeChunkList(Buffer.concat([encoded, Buffer.from([0])]))).toThrow(PatchError);
    expect(() => decodeChunkList(encoded.subarray(0, 6))).toThrow(PatchError);
    const scrambled = Buffer.from(encoded);
    for (let index = 8; index < 40; index += 1) scrambled[index] = 0xff;
    expect(() => decodeChunkList(scrambled)).toThrow(PatchError);
  });
});

describe('planChunkAssembly', () => {
  const list = (lengths: number[]): ChunkList => {
    let offset = 0;
    const chunks = lengths.map((length, index) => ({ offset: (offset += length) - length, length, key: `k${index}` }));
    return { averageBytes: AVERAGE, chunks, fileSizeBytes: offset };
  };
  const local = (keys: string[]) => new Map(keys.map((key) => [key, { data: new Uint8Array(0), offset: 0 }]));

  it('reuses the chunks held locally and fetches the rest as ranges, neighbours merged', () => {
    const plan = planChunkAssembly(list([10, 20, 30, 40, 50]), local(['k1', 'k3']));
    expect(plan.reused).toBe(60);
    expect(plan.ranges.map(({ start, end, chunks }) => [start, end, chunks.map((chunk) => chunk.key)])).toEqual([
      [0, 10, ['k0']],
      [30, 60, ['k2']],
      [100, 150, ['k4']],
    ]);
    expect(planChunkAssembly(list([10, 20, 30]), local([])).ranges).toEqual([{ start: 0, end: 60, chunks: list([10, 20, 30]).chunks }]);
  });

  it('merges ranges across a reused gap up to coalesceGapBytes, inclusive', () => {
    const target = list([10, 20, 30]);
    expect(planChunkAssembly(target, local(['k1']), 20).ranges.map(({ start, end }) => [start, end])).toEqual([[0, 60]]);
    expect(planChunkAssembly(target, local(['k1']), 19).ranges.map(({ start, end }) => [start, end])).toEqual([[0, 10], [30, 60]]);
  });
});

describe('indexChunks', () => {
  it('finds every chunk of the files by key, the first file holding it winning', () => {
    const data = sample();
    const other = noise(8 * 1024, 4);
    const index = indexChunks([data, other, Uint8Array.from(data)], AVERAGE);
    const chunks = chunkBytes(data, AVERAGE);
    expect(index.size).toBe(chunks.length + chunkBytes(other, AVERAGE).length);
    for (const chunk of chunks) {
      const source = index.get(chunkKey(data.subarray(chunk.offset, chunk.offset + chunk.length)));
      expect(source?.data).toBe(data);
      expect(source?.offset).toBe(chunk.offset);
    }
    const plan = planChunkAssembly(decodeChunkList(encodeChunkList(data, AVERAGE)), index);
    expect(plan).toEqual({ reused: data.length, ranges: [] });
  });

  it('indexes with 1 KiB chunks by default', () => {
    const big = noise(64 * 1024, 6);
    expect([...indexChunks([big]).keys()]).toEqual([...indexChunks([big], 1024).keys()]);
    expect([...indexChunks([big]).keys()]).not.toEqual([...indexChunks([big], AVERAGE).keys()]);
  });
});

describe('decodeChunkList refuses what is not a list it can trust, with a PatchError', () => {
  /** A list written field by field, for the corruptions the encoder never makes. */
  const handMade = (fields: { header: number[]; lengths: number[]; packed?: Buffer; hashes?: number }) => {
    const lengths = new ByteWriter();
    for (const length of fields.lengths) lengths.writeUnsigned(length);
    const packed = fields.packed ?? brotliCompressSync(lengths.toBytes());
    const header = new ByteWriter();
    for (const value of [...fields.header, packed.length]) header.writeUnsigned(value);
    return Buffer.concat([Buffer.from('EMCL'), header.toBytes(), packed, Buffer.alloc((fields.hashes ?? fields.header[1]!) * CHUNK_HASH_BYTES)]);
  };
  const refused = (bytes: Uint8Array) => {
    try {
      decodeChunkList(bytes);
    } catch (error) {
      expect(error).toBeInstanceOf(PatchError);
      return (error as PatchError).message;
    }
    throw new Error('decoded');
  };

  it('an average of 0 (which made the loader cut empty chunks for ever) or outside what chunkBytes works with', () => {
    // "EMCL" 00 00 <len> brotli(""): average 0, no chunk; its SHA-256 is all a manifest needs to name it.
    expect(refused(handMade({ header: [0, 0], lengths: [] }))).toBe("the chunk list's chunk average (0) is outside 64–16777216");
    expect(refused(handMade({ header: [63, 1], lengths: [10] }))).toMatch(/chunk average \(63\)/);
    expect(refused(handMade({ header: [2 ** 24 + 1, 1], lengths: [10] }))).toMatch(/chunk average \(16777217\)/);
  });

  it('a count the list cannot hold, or a packed size past the list, before any arithmetic on them', () => {
    expect(refused(handMade({ header: [1024, 5_000_000], lengths: [10], hashes: 1 }))).toMatch(/^the chunk list's chunk count \(5000000\) is outside 0–\d+$/);
    const lengths = new ByteWriter();
    lengths.writeUnsigned(10);
    const header = new ByteWriter();
    for (const value of [1024, 1, 2 ** 40]) header.writeUnsigned(value);
    expect(refused(Buffer.concat([Buffer.from('EMCL'), header.toBytes(), brotliCompressSync(lengths.toBytes()), Buffer.alloc(CHUNK_HASH_BYTES)]))).toMatch(/packed lengths size \(1099511627776\)/);
  });

  it('chunk lengths that are zero, longer than 8 × the average, fewer or more than the chunks', () => {
    expect(refused(handMade({ header: [1024, 2], lengths: [100, 0] }))).toBe('chunk 1 of the chunk list is 0 bytes long');
    expect(refused(handMade({ header: [1024, 1], lengths: [8193] }))).toBe('chunk 0 of the chunk list is 8193 bytes long');
    expect(refused(handMade({ header: [1024, 2], lengths: [100] }))).toBe('the chunk list is corrupt');
    expect(refused(handMade({ header: [1024, 1], lengths: [100, 200] }))).toBe('the chunk list has more chunk lengths than chunks');
  });

  it('a lengths stream that inflates past what its count can need (a compression bomb) is cut off, not inflated', () => {
    // 16 MiB of zeros in a few hundred bytes; the loader inflated 1 GiB from a 1.6 KB list before the bound.
    const bomb = brotliCompressSync(new Uint8Array(16 << 20));
    expect(bomb.length).toBeLessThan(2_000);
    expect(refused(handMade({ header: [1024, 1], lengths: [], packed: bomb }))).toBe('the chunk list is corrupt');
  });

  it('accepts the hand-made list when it is right, and says how many bytes it describes', () => {
    const list = decodeChunkList(handMade({ header: [1024, 2], lengths: [100, 200] }));
    expect(list.chunks.map(({ offset, length }) => ({ offset, length }))).toEqual([{ offset: 0, length: 100 }, { offset: 100, length: 200 }]);
    expect(list.fileSizeBytes).toBe(300);
    expect(decodeChunkList(encodeChunkList(sample(), AVERAGE)).fileSizeBytes).toBe(sample().length);
  });
});
