import { createHash } from 'node:crypto';
import { chunkBytes } from './chunking.js';
import { blockHash, blocksIn, groupKey, type GroupList } from './group-list.js';
import { PatchError } from './patch-error.js';

/** Bytes of a local file the device holds: `file` indexes the files it passed in. */
export interface LocalPosition {
  file: number;
  offset: number;
}

export interface ByteRange {
  start: number;
  end: number;
}

/** A group of a file the device holds: where it is, and how long. */
export interface LocalGroup extends LocalPosition {
  length: number;
}

/** Every group of the files a device holds, by key; a key two different local groups share (a prefix collision) is left out. */
export function indexGroups(files: readonly Uint8Array[], list: Pick<GroupList, 'groupAverageBytes' | 'groupHashBytes'>): Map<string, LocalGroup> {
  const index = new Map<string, LocalGroup & { digest: string }>();
  const ambiguous = new Set<string>();
  files.forEach((data, file) => {
    for (const group of chunkBytes(data, list.groupAverageBytes)) {
      const digest = createHash('sha256').update(data.subarray(group.offset, group.offset + group.length)).digest('hex');
      const key = digest.slice(0, list.groupHashBytes * 2);
      const known = index.get(key);
      if (!known) index.set(key, { file, offset: group.offset, length: group.length, digest });
      else if (known.digest !== digest) ambiguous.add(key);
    }
  });
  for (const key of ambiguous) index.delete(key);
  return new Map([...index].map(([key, { file, offset, length }]) => [key, { file, offset, length }]));
}

/**
 * Consecutive groups the device lacks. `front` is where the local bytes that would follow the held group before the
 * run start, `back` where those that would precede the held group after it end: the run's blocks are looked for there.
 */
export interface GroupRun {
  firstGroup: number;
  endGroup: number;
  /** The run's bytes in the new file. */
  bytes: ByteRange;
  /** The run's block hashes in the blob. */
  hashes: ByteRange;
  front?: LocalPosition;
  back?: LocalPosition;
}

export interface GroupPlan {
  held: { group: number; source: LocalPosition }[];
  runs: GroupRun[];
  /** The block hashes to fetch: the runs' hashes, neighbours coalesced. */
  hashRanges: ByteRange[];
}

/** Merges sorted ranges whose gap is at most `gapBytes` (fetching the gap costs less than another request). */
export function coalesceRanges(ranges: readonly ByteRange[], gapBytes: number): ByteRange[] {
  const merged: ByteRange[] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last && range.start - last.end <= gapBytes) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  return merged;
}

export const rangeBytes = (ranges: readonly ByteRange[]) => ranges.reduce((sum, range) => sum + range.end - range.start, 0);

/**
 * Which groups the device holds (and where), and the runs of groups it lacks, with the block hashes to fetch for them.
 * A local group with the key but another length is not the group (a key collision, or a list that lies): it is not held,
 * so that nothing is copied from past the end of a local group.
 */
export function planGroups(list: GroupList, index: ReadonlyMap<string, LocalGroup>, coalesceGapBytes: number): GroupPlan {
  const sources = list.groups.map((group) => {
    const local = index.get(group.key);
    return local && local.length === group.length ? { file: local.file, offset: local.offset } : undefined;
  });
  const held: GroupPlan['held'] = [];
  const runs: GroupRun[] = [];
  for (let group = 0; group < list.groups.length; ) {
    const source = sources[group];
    if (source) {
      held.push({ group, source });
      group += 1;
      continue;
    }
    let end = group;
    while (end < list.groups.length && !sources[end]) end += 1;
    const first = list.groups[group]!;
    const last = list.groups[end - 1]!;
    const before = sources[group - 1];
    const after = sources[end];
    runs.push({
      firstGroup: group,
      endGroup: end,
      bytes: { start: first.offset, end: last.offset + last.length },
      hashes: { start: first.blockHashesAt, end: last.blockHashesAt + blocksIn(last.length, list.blockBytes) * list.blockHashBytes },
      ...(before ? { front: { file: before.file, offset: before.offset + list.groups[group - 1]!.length } } : {}),
      ...(after ? { back: { ...after } } : {}),
    });
    group = end;
  }
  return { held, runs, hashRanges: coalesceRanges(runs.map((run) => run.hashes), coalesceGapBytes) };
}

/**
 * The least the rest of the path can cost once the groups are planned: the block hashes and their requests, every
 * byte of a run that no held group lines up (nothing local can match it), and one request for data if any is missing.
 */
export function groupPathLowerBoundBytes(plan: GroupPlan, requestOverheadBytes: number): number {
  const unanchored = plan.runs.filter((run) => !run.front && !run.back);
  return rangeBytes(plan.hashRanges) + plan.hashRanges.length * requestOverheadBytes + rangeBytes(unanchored.map((run) => run.bytes)) + (plan.runs.length > 0 ? requestOverheadBytes : 0);
}

export interface BlockPlan {
  /** Blocks the device takes from its own files. */
  copies: { at: number; length: number; source: LocalPosition }[];
  /** Byte ranges of the new file to fetch, neighbours coalesced. */
  ranges: ByteRange[];
}

// Stryker disable next-line ArrowFunction: equivalent, it only spares comparing a block twice with the same bytes (same answer).
const samePosition = (a: LocalPosition | undefined, b: LocalPosition | undefined) => a !== undefined && b !== undefined && a.file === b.file && a.offset === b.offset;

/**
 * For each run, which blocks the device holds and which byte ranges it fetches. A block is compared with the local
 * bytes at its offset from the run's front, then from its back, and nowhere else: so few comparisons that a short
 * hash rarely matches by accident, and an accidental match fails its group's check after assembly.
 */
export function planBlocks(list: GroupList, runs: readonly GroupRun[], hashesOf: (run: GroupRun) => Uint8Array, files: readonly Uint8Array[], coalesceGapBytes: number): BlockPlan {
  const copies: BlockPlan['copies'] = [];
  const missing: ByteRange[] = [];
  const hashBytes = list.blockHashBytes;
  const matches = (position: LocalPosition | undefined, length: number, expected: Uint8Array) => {
    const file = position && files[position.file];
    if (!position || !file || position.offset < 0 || position.offset + length > file.length) return false;
    return Buffer.from(blockHash(file.subarray(position.offset, position.offset + length), hashBytes)).equals(expected);
  };
  for (const run of runs) {
    const hashes = hashesOf(run);
    if (hashes.length !== run.hashes.end - run.hashes.start) throw new PatchError(`the block hashes of groups ${run.firstGroup}–${run.endGroup - 1} are ${hashes.length} bytes, not ${run.hashes.end - run.hashes.start}`);
    let hashAt = 0;
    for (let index = run.firstGroup; index < run.endGroup; index += 1) {
      const group = list.groups[index]!;
      const groupEnd = group.offset + group.length;
      for (let at = group.offset; at < groupEnd; at += list.blockBytes) {
        const length = Math.min(list.blockBytes, groupEnd - at);
        const expected = hashes.subarray(hashAt, hashAt + hashBytes);
        hashAt += hashBytes;
        const fromFront = run.front && { file: run.front.file, offset: run.front.offset + at - run.bytes.start };
        const fromBack = run.back && { file: run.back.file, offset: run.back.offset - (run.bytes.end - at) };
        const source = matches(fromFront, length, expected) ? fromFront : !samePosition(fromFront, fromBack) && matches(fromBack, length, expected) ? fromBack : undefined;
        if (source) copies.push({ at, length, source });
        else if (missing.at(-1)?.end === at) missing.at(-1)!.end = at + length;
        else missing.push({ start: at, end: at + length });
      }
    }
  }
  return { copies, ranges: coalesceRanges(missing, coalesceGapBytes) };
}

/** The groups of the runs whose assembled bytes do not match their key: a block matched by accident, or bad bytes. */
export function failingGroups(list: GroupList, runs: readonly GroupRun[], file: Uint8Array): number[] {
  const failing: number[] = [];
  for (const run of runs) {
    for (let index = run.firstGroup; index < run.endGroup; index += 1) {
      const group = list.groups[index]!;
      if (groupKey(file.subarray(group.offset, group.offset + group.length), list.groupHashBytes) !== group.key) failing.push(index);
    }
  }
  return failing;
}
