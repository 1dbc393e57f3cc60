import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkBytes } from './chunking.js';
import { decodeGroupList, encodeGroupList, type GroupListOptions } from './group-list.js';
import { coalesceRanges, failingGroups, groupPathLowerBoundBytes, indexGroups, planBlocks, planGroups, rangeBytes } from './group-plan.js';
import { PatchError } from './patch-error.js';
import { noise } from '../test/noise.js';

const OPTIONS: GroupListOptions = { groupAverageBytes: 1024, blockBytes: 64, groupHashBytes: 4 };
const GAP = 600;

/** What the loader does with a device's files and the blob of `next`: plan, copy what it holds, fetch the rest. */
function update(files: Uint8Array[], next: Uint8Array, options = OPTIONS) {
  const { blob, listSizeBytes } = encodeGroupList(next, options);
  const list = decodeGroupList(blob.subarray(0, listSizeBytes));
  const plan = planGroups(list, indexGroups(files, list), GAP);
  const blocks = planBlocks(list, plan.runs, (run) => blob.subarray(run.hashes.start, run.hashes.end), files, GAP);
  const assembled = new Uint8Array(next.length);
  for (const { group, source } of plan.held) assembled.set(files[source.file]!.subarray(source.offset, source.offset + list.groups[group]!.length), list.groups[group]!.offset);
  for (const copy of blocks.copies) assembled.set(files[copy.source.file]!.subarray(copy.source.offset, copy.source.offset + copy.length), copy.at);
  for (const range of blocks.ranges) assembled.set(next.subarray(range.start, range.end), range.start);
  return { blob, list, plan, blocks, assembled, failing: failingGroups(list, plan.runs, assembled) };
}

const replaced = (data: Uint8Array, at: number, length: number, seed = 99) => {
  const copy = Uint8Array.from(data);
  copy.set(noise(length, seed), at);
  return copy;
};

describe('planGroups', () => {
  it('a device holding the file holds every group: nothing to fetch', () => {
    const data = noise(64 * 1024, 1);
    const { plan, blocks, assembled } = update([data], data);
    expect(plan.runs).toEqual([]);
    expect(plan.hashRanges).toEqual([]);
    expect(blocks.ranges).toEqual([]);
    expect(assembled).toEqual(data);
  });

  it('a replaced stretch makes one run of the groups it touches, anchored on the held groups around it', () => {
    const held = noise(64 * 1024, 2);
    const next = replaced(held, 20_000, 300);
    const { list, plan } = update([held], next);
    expect(plan.runs).toHaveLength(1);
    const [run] = plan.runs;
    const groups = list.groups.slice(run!.firstGroup, run!.endGroup);
    expect(run!.bytes).toEqual({ start: groups[0]!.offset, end: groups.at(-1)!.offset + groups.at(-1)!.length });
    expect(run!.bytes.start).toBeLessThanOrEqual(20_000);
    expect(run!.bytes.end).toBeGreaterThanOrEqual(20_300);
    // The same length replaced: the local bytes line up with the run at the same offsets, from the front and the back.
    expect(run!.front).toEqual({ file: 0, offset: run!.bytes.start });
    expect(run!.back).toEqual({ file: 0, offset: run!.bytes.end });
    expect(run!.hashes).toEqual({ start: groups[0]!.blockHashesAt, end: groups.at(-1)!.blockHashesAt + Math.ceil(groups.at(-1)!.length / 64) * 2 });
    expect(plan.held.length + run!.endGroup - run!.firstGroup).toBe(list.groups.length);
  });

  it('a run at the start of the file has no front anchor, one at the end no back anchor, and with nothing held neither', () => {
    const held = noise(64 * 1024, 3);
    const edges = replaced(replaced(held, 0, 100), held.length - 100, 100);
    const { plan } = update([held], edges);
    expect(plan.runs).toHaveLength(2);
    expect(plan.runs[0]).not.toHaveProperty('front');
    expect(plan.runs[0]).toHaveProperty('back');
    expect(plan.runs[1]).toHaveProperty('front');
    expect(plan.runs[1]).not.toHaveProperty('back');
    const unrelated = update([noise(64 * 1024, 4)], held);
    expect(unrelated.plan.runs).toEqual([expect.objectContaining({ bytes: { start: 0, end: held.length } })]);
    expect(unrelated.plan.runs[0]).not.toHaveProperty('front');
    expect(unrelated.plan.runs[0]).not.toHaveProperty('back');
  });

  it('coalesces the block hashes of nearby runs into one range', () => {
    const held = noise(64 * 1024, 5);
    const next = replaced(replaced(held, 10_000, 50), 12_500, 50);
    const { plan } = update([held], next);
    expect(plan.runs.length).toBeGreaterThanOrEqual(2);
    expect(plan.hashRanges).toEqual([{ start: plan.runs[0]!.hashes.start, end: plan.runs.at(-1)!.hashes.end }]);
  });

  it('a group whose key a local group has, but not its length, is not held: nothing is copied from past a local group', () => {
    const held = noise(64 * 1024, 11);
    const local = indexGroups([held], { groupAverageBytes: 1024, groupHashBytes: 4 });
    const [key, last] = [...local].at(-1)!;
    // A list that says the file's last group is 8 KiB long (its key taken from the device's own last group).
    const lying = { groupAverageBytes: 1024, blockBytes: 64, groupHashBytes: 4, blockHashBytes: 2, listSizeBytes: 0, blobSizeBytes: 0, fileSizeBytes: 8192, groups: [{ offset: 0, length: 8192, key, blockHashesAt: 0 }] };
    expect(last.offset + 8192).toBeGreaterThan(held.length);
    const plan = planGroups(lying, local, GAP);
    expect(plan.held).toEqual([]);
    expect(plan.runs).toEqual([expect.objectContaining({ firstGroup: 0, endGroup: 1 })]);
    expect(planGroups({ ...lying, fileSizeBytes: last.length, groups: [{ ...lying.groups[0]!, length: last.length }] }, local, GAP).held).toEqual([{ group: 0, source: { file: 0, offset: last.offset } }]);
  });

  it('finds groups in any file the device holds, and anchors runs in the file their neighbours came from', () => {
    const first = noise(32 * 1024, 6);
    const second = noise(32 * 1024, 7);
    const next = replaced(second, 9_000, 200);
    const { plan, assembled, failing } = update([first, second], next);
    expect(plan.held.every(({ source }) => source.file === 1)).toBe(true);
    expect(plan.runs[0]?.front?.file).toBe(1);
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });
});

describe('indexGroups', () => {
  it('keeps each key that names one content, and leaves out keys that different groups share', () => {
    // 1-byte keys over a few hundred groups: many collide.
    const data = noise(256 * 1024, 8);
    const index = indexGroups([data], { groupAverageBytes: 256, groupHashBytes: 1 });
    const contents = new Map<string, Set<string>>();
    for (const chunk of chunkBytes(data, 256)) {
      const digest = createHash('sha256').update(data.subarray(chunk.offset, chunk.offset + chunk.length)).digest('hex');
      contents.set(digest.slice(0, 2), (contents.get(digest.slice(0, 2)) ?? new Set()).add(digest));
    }
    const unique = [...contents].filter(([, digests]) => digests.size === 1).map(([key]) => key);
    expect(unique.length).toBeGreaterThan(0);
    expect(unique.length).toBeLessThan(contents.size);
    expect([...index.keys()].sort()).toEqual(unique.sort());
  });

  it('keeps a key that the same content has in two places (the first place)', () => {
    const data = noise(16 * 1024, 9);
    const index = indexGroups([data, Uint8Array.from(data)], OPTIONS as { groupAverageBytes: number; groupHashBytes: number });
    expect(index.size).toBe(chunkBytes(data, 1024).length);
    expect([...index.values()].every((position) => position.file === 0)).toBe(true);
  });
});

describe('planBlocks', () => {
  it('fetches the blocks a replaced stretch touches and copies the rest of its groups from the bytes it replaced', () => {
    const held = noise(64 * 1024, 10);
    const next = replaced(held, 20_000, 300);
    const { blocks, assembled, failing, plan } = update([held], next);
    expect(blocks.ranges).toHaveLength(1);
    const [range] = blocks.ranges;
    expect(range!.start).toBeLessThanOrEqual(20_000);
    expect(range!.end).toBeGreaterThanOrEqual(20_300);
    // At most a block on either side of the stretch, against a whole run of groups.
    expect(range!.end - range!.start).toBeLessThanOrEqual(300 + 2 * 64);
    expect(plan.runs[0]!.bytes.end - plan.runs[0]!.bytes.start).toBeGreaterThan(1024);
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('after an insertion, finds the blocks that follow it through the back anchor', () => {
    const held = noise(64 * 1024, 11);
    const next = new Uint8Array([...held.subarray(0, 30_000), ...noise(100, 12), ...held.subarray(30_000)]);
    const { blocks, assembled, failing } = update([held], next);
    expect(rangeBytes(blocks.ranges)).toBeLessThanOrEqual(100 + 2 * 64);
    expect(blocks.copies.some((copy) => copy.at > 30_100 && copy.source.offset === copy.at - 100)).toBe(true);
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('fetches everything of a run that nothing held lines up', () => {
    const next = noise(16 * 1024, 13);
    const { blocks, plan } = update([noise(16 * 1024, 14)], next);
    expect(blocks.copies).toEqual([]);
    expect(blocks.ranges).toEqual([{ start: 0, end: next.length }]);
    expect(groupPathLowerBoundBytes(plan, GAP)).toBe(rangeBytes(plan.hashRanges) + GAP + next.length + GAP);
  });

  it('coalesces missing blocks across held bytes up to the gap', () => {
    const held = noise(64 * 1024, 15);
    const next = replaced(replaced(held, 20_000, 64), 20_400, 64);
    expect(update([held], next).blocks.ranges).toHaveLength(1);
    const far = replaced(replaced(held, 20_000, 64), 21_000, 64);
    expect(update([held], far).blocks.ranges).toHaveLength(2);
  });

  it('a run of several groups: every block outside the replaced stretch is copied, in each of its groups', () => {
    const held = noise(64 * 1024, 23);
    const next = replaced(held, 20_000, 3_000);
    const { blocks, plan, assembled, failing } = update([held], next);
    expect(plan.runs).toHaveLength(1);
    expect(plan.runs[0]!.endGroup - plan.runs[0]!.firstGroup).toBeGreaterThanOrEqual(3);
    expect(blocks.ranges).toHaveLength(1);
    expect(blocks.ranges[0]!.start).toBeGreaterThan(20_000 - 64);
    expect(blocks.ranges[0]!.end).toBeLessThan(23_000 + 64);
    expect(rangeBytes(blocks.copies.map((copy) => ({ start: copy.at, end: copy.at + copy.length })))).toBe(rangeBytes([plan.runs[0]!.bytes]) - rangeBytes(blocks.ranges));
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('a run through a zero-filled stretch (a group cut at its longest, a whole number of blocks) lines up the groups after it', () => {
    // Zeros have no cut points: the group that runs into them is cut at 8 × the average, 128 blocks of 64 bytes.
    const held = Uint8Array.from([...noise(20_000, 30), ...new Uint8Array(10_000), ...noise(30_000, 31)]);
    const next = replaced(replaced(held, 20_100, 50), 29_000, 50);
    const { blocks, plan, list, assembled, failing } = update([held], next);
    expect(plan.runs).toHaveLength(1);
    const groups = list.groups.slice(plan.runs[0]!.firstGroup, plan.runs[0]!.endGroup);
    expect(groups.map((group) => group.length)[0]).toBe(8192);
    expect(groups.length).toBeGreaterThanOrEqual(2);
    expect(blocks.ranges).toHaveLength(2);
    expect(rangeBytes(blocks.ranges)).toBeLessThanOrEqual(2 * (50 + 2 * 64));
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('copies the first block of a file through the back anchor and the last through the front anchor', () => {
    const held = noise(64 * 1024, 24);
    const next = replaced(replaced(held, 100, 50), held.length - 200, 50);
    const { blocks, plan, assembled, failing } = update([held], next);
    expect(plan.runs.map((run) => [run.front !== undefined, run.back !== undefined])).toEqual([[false, true], [true, false]]);
    expect(blocks.copies[0]).toEqual({ at: 0, length: 64, source: { file: 0, offset: 0 } });
    const last = blocks.copies.at(-1)!;
    expect(last.at + last.length).toBe(next.length);
    expect(last.source).toEqual({ file: 0, offset: last.at });
    expect(rangeBytes(blocks.ranges)).toBeLessThanOrEqual(2 * 2 * 64);
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('a run between groups held in two different files takes the blocks before the stretch from one, those after it from the other', () => {
    // Two unrelated files of one length; the new file is the first's front half and the second's back half with the
    // seam replaced: the run's front and back anchors sit at the same offset, in different files.
    const first = noise(32 * 1024, 25);
    const second = noise(32 * 1024, 26);
    const next = replaced(Uint8Array.from([...first.subarray(0, 16_000), ...second.subarray(16_000)]), 15_900, 200);
    const { blocks, plan, assembled, failing } = update([first, second], next);
    expect(plan.runs).toHaveLength(1);
    const [run] = plan.runs;
    expect(run!.front).toEqual({ file: 0, offset: run!.bytes.start });
    expect(run!.back).toEqual({ file: 1, offset: run!.bytes.end });
    expect(blocks.copies.some((copy) => copy.source.file === 0 && copy.at < 15_900)).toBe(true);
    expect(blocks.copies.some((copy) => copy.source.file === 1 && copy.at >= 16_100)).toBe(true);
    expect(rangeBytes(blocks.ranges)).toBeLessThanOrEqual(200 + 2 * 64);
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('never takes a block from outside a local file, even where a short hash would match there', () => {
    // 1-byte block hashes, so a comparison with the wrong bytes matches one time in 256. An insertion at the start puts
    // the run's blocks before the start of the held file as seen from the back anchor, an append puts them past its end
    // as seen from the front anchor: a thousand blocks each way.
    const held = noise(32 * 1024, 27);
    const options = { ...OPTIONS, blockHashBytes: 1 };
    for (const next of [Uint8Array.from([...noise(64 * 1024, 28), ...held]), Uint8Array.from([...held, ...noise(64 * 1024, 29)])]) {
      const { blocks, assembled, failing, list } = update([held], next, options);
      for (const copy of blocks.copies) {
        expect(copy.source.offset).toBeGreaterThanOrEqual(0);
        expect(copy.source.offset + copy.length).toBeLessThanOrEqual(held.length);
      }
      // Whatever matched by accident inside the file fails its group's check, and nothing else does.
      for (const index of failing) expect(blocks.copies.some((copy) => copy.at >= list.groups[index]!.offset && copy.at < list.groups[index]!.offset + list.groups[index]!.length)).toBe(true);
      const good = list.groups.filter((_, index) => !failing.includes(index));
      for (const group of good) expect(assembled.subarray(group.offset, group.offset + group.length)).toEqual(next.subarray(group.offset, group.offset + group.length));
    }
  });

  it('never takes a block from just past the end of a file, where reading there gives no bytes whose hash matches', () => {
    // An appended tail: its first block is compared, from the front anchor, with the bytes past the held file's end.
    // 1-byte block hashes and a tail chosen so that this block hashes like no bytes at all.
    const held = noise(8 * 1024, 40);
    const options = { ...OPTIONS, blockHashBytes: 1 };
    const hashOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest()[0];
    const firstBlockPastEnd = (next: Uint8Array) => {
      const { blob, listSizeBytes } = encodeGroupList(next, options);
      for (const group of decodeGroupList(blob.subarray(0, listSizeBytes)).groups) {
        for (let at = group.offset; at < group.offset + group.length; at += 64) if (at >= held.length) return next.subarray(at, Math.min(at + 64, group.offset + group.length));
      }
      throw new Error('no block past the end');
    };
    const appended = (seed: number) => Uint8Array.from([...held, ...noise(300, seed)]);
    let seed = 2000;
    while (hashOf(firstBlockPastEnd(appended(seed))) !== hashOf(new Uint8Array(0))) seed += 1;
    const next = appended(seed);
    const { blocks, assembled, failing } = update([held], next, options);
    for (const copy of blocks.copies) expect(copy.source.offset + copy.length).toBeLessThanOrEqual(held.length);
    expect(rangeBytes(blocks.ranges)).toBeGreaterThanOrEqual(300);
    expect(assembled).toEqual(next);
    expect(failing).toEqual([]);
  });

  it('refuses block hashes of the wrong size with a PatchError', () => {
    const held = noise(32 * 1024, 16);
    const next = replaced(held, 5_000, 100);
    const { blob, listSizeBytes } = encodeGroupList(next, OPTIONS);
    const list = decodeGroupList(blob.subarray(0, listSizeBytes));
    const plan = planGroups(list, indexGroups([held], list), GAP);
    expect(() => planBlocks(list, plan.runs, (run) => blob.subarray(run.hashes.start, run.hashes.end - 1), [held], GAP)).toThrow(PatchError);
  });

  it('a block that matches by accident (a short hash) fails its group check after assembly', () => {
    // 1-byte block hashes: find a replacement block whose hash byte equals the replaced one's, so the plan copies it.
    const held = noise(32 * 1024, 17);
    const options = { ...OPTIONS, blockHashBytes: 1 };
    const probe = update([held], replaced(held, 10_000, 300), options);
    const run = probe.plan.runs[0]!;
    const at = run.bytes.start + Math.ceil((10_000 - run.bytes.start) / 64) * 64 + 64;
    const hashOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest()[0];
    let seed = 1000;
    while (hashOf(noise(64, seed)) !== hashOf(held.subarray(at, at + 64))) seed += 1;
    const next = replaced(held, at, 64, seed);
    const { blocks, failing, list } = update([held], next, options);
    expect(blocks.copies.some((copy) => copy.at === at)).toBe(true);
    expect(failing).toHaveLength(1);
    const group = list.groups[failing[0]!]!;
    expect(group.offset).toBeLessThanOrEqual(at);
    expect(group.offset + group.length).toBeGreaterThan(at);
  });
});

describe('groupPathLowerBoundBytes', () => {
  it('nothing missing costs nothing', () => {
    const data = noise(32 * 1024, 20);
    expect(groupPathLowerBoundBytes(update([data], data).plan, GAP)).toBe(0);
  });

  it('an anchored run costs its block hashes and the requests, not its bytes (held bytes may line up with them)', () => {
    const held = noise(64 * 1024, 21);
    const { plan } = update([held], replaced(held, 20_000, 300));
    expect(plan.runs).toHaveLength(1);
    expect(groupPathLowerBoundBytes(plan, GAP)).toBe(rangeBytes(plan.hashRanges) + plan.hashRanges.length * GAP + GAP);
  });

  it('a run anchored on one side only (at either end of the file) is not counted as unanchored', () => {
    const held = noise(64 * 1024, 22);
    const { plan } = update([held], replaced(replaced(held, 0, 100), held.length - 100, 100));
    expect(plan.runs.map((run) => [run.front !== undefined, run.back !== undefined])).toEqual([[false, true], [true, false]]);
    expect(groupPathLowerBoundBytes(plan, GAP)).toBe(rangeBytes(plan.hashRanges) + plan.hashRanges.length * GAP + GAP);
  });
});

describe('coalesceRanges', () => {
  it('merges ranges whose gap is at most the given bytes, inclusive', () => {
    const ranges = [{ start: 0, end: 10 }, { start: 30, end: 40 }, { start: 100, end: 110 }];
    expect(coalesceRanges(ranges, 20)).toEqual([{ start: 0, end: 40 }, { start: 100, end: 110 }]);
    expect(coalesceRanges(ranges, 19)).toEqual(ranges);
    expect(coalesceRanges(ranges, 60)).toEqual([{ start: 0, end: 110 }]);
    expect(ranges[0]).toEqual({ start: 0, end: 10 });
  });
});
