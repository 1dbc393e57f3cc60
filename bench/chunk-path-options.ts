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
  chunkKey,
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

/** Today's design: one list of content-defined chunks of `averageBytes`, missing chunks fetched as coalesced ranges. */
export function singleLevel(held: Uint8Array, next: Uint8Array, averageBytes: number): { total: number; list: number; missing: number; ranges: number } {
  const list = encodeChunkList(next, averageBytes);
  const plan = planChunkAssembly(decodeChunkList(list), indexChunks([held], averageBytes), COALESCE_GAP_BYTES);
  const missing = plan.ranges.reduce((sum, range) => sum + range.end - range.start, 0);
  return { total: list.length + missing + plan.ranges.length * REQUEST_OVERHEAD_BYTES, list: list.length, missing, ranges: plan.ranges.length };
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
 * Smaller chunks where changes are: a coarse list (one 6-byte key per group of ~16 fine chunks, ~4 KiB) fetched
 * whole; for each coarse chunk the device lacks, its fine list (6-byte key + 2-byte length per ~256-byte chunk) by
 * range; then the fine chunks it lacks.
 */
export function twoLevel(held: Uint8Array, next: Uint8Array, fineAverageBytes = 256, groupBits = 4): { total: number; list: number; fineLists: number; missing: number; requests: number } {
  const group = (data: Uint8Array) => {
    const fine = chunkBytes(data, fineAverageBytes).map((chunk) => ({ ...chunk, key: chunkKey(data.subarray(chunk.offset, chunk.offset + chunk.length)) }));
    const coarse: { fine: typeof fine; key: string }[] = [];
    let members: typeof fine = [];
    for (const chunk of fine) {
      members.push(chunk);
      if ((Number.parseInt(chunk.key.slice(0, 2), 16) & ((1 << groupBits) - 1)) === 0) {
        coarse.push({ fine: members, key: createHash('sha256').update(members.map((member) => member.key).join('')).digest('hex').slice(0, 12) });
        members = [];
      }
    }
    if (members.length > 0) coarse.push({ fine: members, key: createHash('sha256').update(members.map((member) => member.key).join('')).digest('hex').slice(0, 12) });
    return coarse;
  };
  const local = group(held);
  const localCoarse = new Set(local.map((chunk) => chunk.key));
  const localFine = new Set(local.flatMap((chunk) => chunk.fine.map((member) => member.key)));
  const target = group(next);
  const counts = Uint8Array.from(target.map((chunk) => Math.min(255, chunk.fine.length)));
  const list = 16 + target.length * 6 + brotliCompressSync(counts).length;
  const fineListSpans: { start: number; end: number }[] = [];
  const missingSpans: Chunk[] = [];
  let fineListAt = 0;
  for (const chunk of target) {
    const size = chunk.fine.length * 8;
    if (!localCoarse.has(chunk.key)) {
      fineListSpans.push({ start: fineListAt, end: fineListAt + size });
      for (const member of chunk.fine) if (!localFine.has(member.key)) missingSpans.push(member);
    }
    fineListAt += size;
  }
  const fineLists = coalesce(fineListSpans, REQUEST_OVERHEAD_BYTES);
  const missing = coalesce(missingSpans.map((chunk) => ({ start: chunk.offset, end: chunk.offset + chunk.length })), COALESCE_GAP_BYTES);
  const requests = fineLists.count + missing.count;
  return { total: list + fineLists.bytes + missing.bytes + requests * REQUEST_OVERHEAD_BYTES, list, fineLists: fineLists.bytes, missing: missing.bytes, requests };
}

/** A patch of the missing chunks: today's 1 KiB list, with the missing ranges served brotli-compressed (best case: each range compressed on its own). */
export function compressedRanges(held: Uint8Array, next: Uint8Array): { total: number } {
  const list = encodeChunkList(next);
  const plan = planChunkAssembly(decodeChunkList(list), indexChunks([held]), COALESCE_GAP_BYTES);
  const compressed = plan.ranges.reduce((sum, range) => sum + Math.min(range.end - range.start, brotliCompressSync(next.subarray(range.start, range.end)).length), 0);
  return { total: list.length + compressed + plan.ranges.length * REQUEST_OVERHEAD_BYTES };
}
