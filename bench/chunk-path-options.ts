/**
 * What the chunk path costs with each design, for a device holding `held` that wants `next` (bytes on the wire,
 * counted as the loader counts them: the list, the block hashes and ranges fetched, and 600 bytes per range request
 * after the list's one request). `groupPath` runs the loader's own planning code (packages/delta, group-plan.ts) on
 * the blob `edge-model delta` uploads; the others are simulations of designs measured against it.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync } from 'node:zlib';
import {
  chunkBytes,
  decodeChunkList,
  decodeGroupList,
  encodeChunkList,
  encodeGroupList,
  failingGroups,
  indexChunks,
  indexGroups,
  planBlocks,
  planChunkAssembly,
  planGroups,
  rangeBytes,
  type Chunk,
  type GroupListOptions,
} from '@edge-ml/delta';

export const REQUEST_OVERHEAD_BYTES = 600;
const COALESCE_GAP_BYTES = 256;

/**
 * What the loader does (two-level list, see docs/delta-updates.md): the list, the block hashes of the runs of groups
 * the device lacks, the blocks it lacks, ranges coalesced across gaps up to the cost of a request; a group that does
 * not check after assembly is fetched again whole, as the loader does.
 */
export function groupPath(held: Uint8Array, next: Uint8Array, options: GroupListOptions = {}) {
  const { blob, listSizeBytes } = encodeGroupList(next, options);
  const list = decodeGroupList(blob.subarray(0, listSizeBytes));
  const plan = planGroups(list, indexGroups([held], list), REQUEST_OVERHEAD_BYTES);
  const blocks = planBlocks(list, plan.runs, (run) => blob.subarray(run.hashes.start, run.hashes.end), [held], REQUEST_OVERHEAD_BYTES);
  const assembled = new Uint8Array(next.length);
  for (const { group, source } of plan.held) assembled.set(held.subarray(source.offset, source.offset + list.groups[group]!.length), list.groups[group]!.offset);
  for (const copy of blocks.copies) assembled.set(held.subarray(copy.source.offset, copy.source.offset + copy.length), copy.at);
  for (const range of blocks.ranges) assembled.set(next.subarray(range.start, range.end), range.start);
  const refetched = failingGroups(list, plan.runs, assembled).map((index) => ({ start: list.groups[index]!.offset, end: list.groups[index]!.offset + list.groups[index]!.length }));
  const hashes = rangeBytes(plan.hashRanges);
  const missing = rangeBytes(blocks.ranges) + rangeBytes(refetched);
  const requests = plan.hashRanges.length + blocks.ranges.length + refetched.length;
  return { total: listSizeBytes + hashes + missing + requests * REQUEST_OVERHEAD_BYTES, list: listSizeBytes, hashes, missing, requests, groupsRefetched: refetched.length, runs: plan.runs.length };
}

/** The design before: one list of content-defined chunks of `averageBytes`, missing chunks fetched as ranges (gaps up to 256 bytes coalesced). */
export function singleLevel(held: Uint8Array, next: Uint8Array, averageBytes: number): DesignCost {
  const list = encodeChunkList(next, averageBytes);
  const plan = planChunkAssembly(decodeChunkList(list), indexChunks([held], averageBytes), COALESCE_GAP_BYTES);
  const missing = plan.ranges.reduce((sum, range) => sum + range.end - range.start, 0);
  return { total: list.length + missing + plan.ranges.length * REQUEST_OVERHEAD_BYTES, list: list.length, hashes: 0, missing, requests: plan.ranges.length };
}

/** Coalesces sorted [start, end) spans whose gap is at most `gapBytes`; returns bytes covered and the count of spans. */
function coalesce(spans: { start: number; end: number }[], gapBytes: number): { bytes: number; count: number } {
  let bytes = 0;
  let count = 0;
  let current: { start: number; end: number } | undefined;
  for (const span of spans) {
    if (current && span.start - current.end <= gapBytes) current.end = span.end;
    else {
      if (current) bytes += current.end - current.start;
      current = { ...span };
      count += 1;
    }
  }
  if (current) bytes += current.end - current.start;
  return { bytes, count };
}

/**
 * Two levels of content-defined chunks (the design the first sweep measured): a coarse list (one key per group of
 * ~2^groupBits fine chunks) fetched whole; for each group the device lacks, its fine list (key + 2-byte length per
 * fine chunk) by range; then the fine chunks it lacks, matched against every fine chunk the device holds.
 */
export function twoLevelCdc(held: Uint8Array, next: Uint8Array, { fineAverageBytes = 256, groupBits = 5, coarseHashBytes = 4, fineHashBytes = 4 } = {}) {
  const key = (data: Uint8Array, bytes: number) => createHash('sha256').update(data).digest('hex').slice(0, bytes * 2);
  const group = (data: Uint8Array) => {
    const fine = chunkBytes(data, fineAverageBytes).map((chunk) => ({ ...chunk, key: key(data.subarray(chunk.offset, chunk.offset + chunk.length), fineHashBytes) }));
    const coarse: { fine: typeof fine; key: string }[] = [];
    let members: typeof fine = [];
    const close = () => {
      const first = members[0]!;
      const last = members.at(-1)!;
      coarse.push({ fine: members, key: key(data.subarray(first.offset, last.offset + last.length), coarseHashBytes) });
      members = [];
    };
    for (const chunk of fine) {
      members.push(chunk);
      if ((Number.parseInt(chunk.key.slice(0, 2), 16) & ((1 << groupBits) - 1)) === 0) close();
    }
    if (members.length > 0) close();
    return coarse;
  };
  const local = group(held);
  const localCoarse = new Set(local.map((chunk) => chunk.key));
  const localFine = new Set(local.flatMap((chunk) => chunk.fine.map((member) => member.key)));
  const target = group(next);
  const counts = Uint8Array.from(target.map((chunk) => Math.min(255, chunk.fine.length)));
  const list = 16 + target.length * coarseHashBytes + brotliCompressSync(counts).length;
  const fineListSpans: { start: number; end: number }[] = [];
  const missingSpans: Chunk[] = [];
  let fineListAt = 0;
  for (const chunk of target) {
    const size = chunk.fine.length * (fineHashBytes + 2);
    if (!localCoarse.has(chunk.key)) {
      fineListSpans.push({ start: fineListAt, end: fineListAt + size });
      for (const member of chunk.fine) if (!localFine.has(member.key)) missingSpans.push(member);
    }
    fineListAt += size;
  }
  const fineLists = coalesce(fineListSpans, REQUEST_OVERHEAD_BYTES);
  const missing = coalesce(missingSpans.map((chunk) => ({ start: chunk.offset, end: chunk.offset + chunk.length })), REQUEST_OVERHEAD_BYTES);
  const requests = fineLists.count + missing.count;
  return { total: list + fineLists.bytes + missing.bytes + requests * REQUEST_OVERHEAD_BYTES, list, hashes: fineLists.bytes, missing: missing.bytes, requests };
}

/** One round after the list: the loader's groups, every group the device lacks fetched whole (no block hashes). */
export function wholeGroups(held: Uint8Array, next: Uint8Array) {
  const { blob, listSizeBytes } = encodeGroupList(next);
  const list = decodeGroupList(blob.subarray(0, listSizeBytes));
  const plan = planGroups(list, indexGroups([held], list), REQUEST_OVERHEAD_BYTES);
  const missing = coalesce(plan.runs.map((run) => run.bytes), REQUEST_OVERHEAD_BYTES);
  return { total: listSizeBytes + missing.bytes + missing.count * REQUEST_OVERHEAD_BYTES, list: listSizeBytes, hashes: 0, missing: missing.bytes, requests: missing.count };
}

/** A patch of the missing chunks: the 1 KiB single-level list, with the missing ranges served brotli-compressed (best case: each range compressed on its own). */
export function compressedRanges(held: Uint8Array, next: Uint8Array) {
  const list = encodeChunkList(next);
  const plan = planChunkAssembly(decodeChunkList(list), indexChunks([held]), COALESCE_GAP_BYTES);
  const compressed = plan.ranges.reduce((sum, range) => sum + Math.min(range.end - range.start, brotliCompressSync(next.subarray(range.start, range.end)).length), 0);
  return { total: list.length + compressed + plan.ranges.length * REQUEST_OVERHEAD_BYTES, list: list.length, hashes: 0, missing: compressed, requests: plan.ranges.length };
}

/**
 * Less than any design with two rounds of range requests after the list can fetch, where the changed bytes are known:
 * every changed byte (stretches closer than a request's cost merged), and two requests per stretch (one for what
 * says which bytes are missing, one for the bytes); no list, no bytes around the changes.
 */
export function twoRoundFloor(regions: readonly { offset: number; length: number }[]): number {
  const sorted = [...regions].sort((a, b) => a.offset - b.offset).map((region) => ({ start: region.offset, end: region.offset + region.length }));
  const merged = coalesce(sorted, REQUEST_OVERHEAD_BYTES);
  return merged.bytes + 2 * merged.count * REQUEST_OVERHEAD_BYTES;
}

export interface DesignCost {
  total: number;
  list: number;
  hashes: number;
  missing: number;
  requests: number;
}

/** The designs the benchmark measures on every pair; the first is what the loader does. */
export const CHUNK_DESIGNS: { label: string; cost: (held: Uint8Array, next: Uint8Array) => DesignCost }[] = [
  { label: 'two-level: 16 KiB groups, 256 B blocks, 2-byte block hashes (the loader)', cost: (held, next) => groupPath(held, next) },
  { label: 'the same, 8 KiB groups, 128 B blocks', cost: (held, next) => groupPath(held, next, { groupAverageBytes: 8192, blockBytes: 128 }) },
  { label: 'the same, 32 KiB groups, 512 B blocks', cost: (held, next) => groupPath(held, next, { groupAverageBytes: 32_768, blockBytes: 512 }) },
  { label: 'the same, 4-byte block hashes', cost: (held, next) => groupPath(held, next, { blockHashBytes: 4 }) },
  { label: 'the same groups fetched whole (one round, no block hashes)', cost: wholeGroups },
  { label: 'two-level CDC: 256 B chunks, groups of ~32, 4-byte hashes', cost: (held, next) => twoLevelCdc(held, next) },
  { label: 'two-level CDC: 128 B chunks, groups of ~32, 4-byte hashes', cost: (held, next) => twoLevelCdc(held, next, { fineAverageBytes: 128 }) },
  { label: 'single-level: 1 KiB chunks (the loader before)', cost: (held, next) => singleLevel(held, next, 1024) },
  { label: 'single-level: 512 B chunks', cost: (held, next) => singleLevel(held, next, 512) },
  { label: 'single-level: 2 KiB chunks', cost: (held, next) => singleLevel(held, next, 2048) },
  { label: 'single-level 1 KiB, missing ranges served compressed (best case)', cost: compressedRanges },
];
