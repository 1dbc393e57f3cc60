import { coalesceRanges, decodeGroupList, failingGroups, groupPathLowerBoundBytes, indexGroups, planBlocks, planGroups, rangeBytes, type ByteRange, type GroupRun } from '@edge-ml/delta';
import { failpoint, type Failpoint } from '../failpoint.js';
import { RANGE_PARALLELISM, RANGE_REQUEST_OVERHEAD_BYTES, type AssembledModel, type ChunkAssembly } from './chunk-assembly.js';
import { PatchPathUnavailable } from './fetch-by-patch.js';
import { fetchRange, forEachParallel } from './fetch-range.js';

const OVERHEAD = RANGE_REQUEST_OVERHEAD_BYTES;

/**
 * The two-level list (`EMCG`, see packages/delta/src/group-list.ts): groups the device holds are copied; for the runs
 * of groups it lacks, their block hashes are fetched by range from the list's blob, then the blocks it lacks from the
 * model blob. Every group built from fetched bytes or matched blocks is checked against its key: one that fails
 * because a block matched by accident is fetched again whole; one built from fetched bytes alone that fails means the
 * blob is not what the list says, and the full package is used.
 */
export async function assembleFromGroups(assembly: ChunkAssembly, listBytes: Uint8Array): Promise<AssembledModel> {
  const list = decodeGroupList(listBytes);
  if (list.fileSizeBytes !== assembly.modelSizeBytes) throw new PatchPathUnavailable(`the chunk list describes ${list.fileSizeBytes} bytes, the manifest's model is ${assembly.modelSizeBytes}`);
  const plan = planGroups(list, indexGroups(assembly.localFiles, list), OVERHEAD);
  const atLeast = assembly.spentBytes + groupPathLowerBoundBytes(plan, OVERHEAD);
  if (atLeast >= assembly.packageSizeBytes) throw new PatchPathUnavailable(`chunks would cost at least ${atLeast} bytes, the full package ${assembly.packageSizeBytes}`);

  let fetched = 0;
  let resumed = 0;
  let done = 0;
  let total = rangeBytes(plan.hashRanges);
  /** Fetches ranges of a blob (or takes them from staging), handing each to `use` as it arrives. */
  const fetchAll = (url: string, kind: 'hashes-' | 'model-', stored: Failpoint, ranges: readonly ByteRange[], use: (range: ByteRange, data: Buffer) => void) =>
    forEachParallel(ranges, RANGE_PARALLELISM, async (range) => {
      assembly.guards.signal.throwIfAborted();
      let data = await assembly.stage.read(kind, range);
      if (data) resumed += data.length;
      else {
        data = await fetchRange(url, range, kind === 'model-' ? 'model' : 'block hashes', assembly.guards);
        fetched += data.length;
        assembly.meter.bytes += data.length;
        await assembly.stage.store(kind, range, data);
        failpoint(stored);
      }
      use(range, data);
      done += data.length;
      assembly.onProgress?.(done, total);
    });

  const hashes: { range: ByteRange; data: Buffer }[] = [];
  await fetchAll(assembly.listUrl, 'hashes-', 'delta.hashes-stored', plan.hashRanges, (range, data) => hashes.push({ range, data }));
  const hashesOf = (run: GroupRun) => {
    const holder = hashes.find(({ range }) => range.start <= run.hashes.start && run.hashes.end <= range.end);
    return holder ? holder.data.subarray(run.hashes.start - holder.range.start, run.hashes.end - holder.range.start) : new Uint8Array(0);
  };
  const blocks = planBlocks(list, plan.runs, hashesOf, assembly.localFiles, OVERHEAD);
  const cost = assembly.spentBytes + rangeBytes(plan.hashRanges) + rangeBytes(blocks.ranges) + (plan.hashRanges.length + blocks.ranges.length) * OVERHEAD;
  if (cost >= assembly.packageSizeBytes) throw new PatchPathUnavailable(`chunks would cost ${cost} bytes, the full package ${assembly.packageSizeBytes}`);
  total += rangeBytes(blocks.ranges);

  const model = new Uint8Array(assembly.modelSizeBytes);
  const local = (file: number, offset: number, length: number) => assembly.localFiles[file]!.subarray(offset, offset + length);
  for (const { group, source } of plan.held) model.set(local(source.file, source.offset, list.groups[group]!.length), list.groups[group]!.offset);
  for (const copy of blocks.copies) model.set(local(copy.source.file, copy.source.offset, copy.length), copy.at);
  await fetchAll(assembly.modelUrl, 'model-', 'delta.range-stored', blocks.ranges, (range, data) => model.set(data, range.start));

  const failing = failingGroups(list, plan.runs, model);
  const copied = (index: number) => {
    const group = list.groups[index]!;
    return blocks.copies.some((copy) => copy.at >= group.offset && copy.at < group.offset + group.length);
  };
  const bad = failing.find((index) => !copied(index));
  if (bad !== undefined) throw new PatchPathUnavailable(`fetched bytes of group ${bad} (offset ${list.groups[bad]!.offset}) do not match the chunk list`);
  let refetched: ByteRange[] = [];
  if (failing.length > 0) {
    refetched = coalesceRanges(failing.map((index) => ({ start: list.groups[index]!.offset, end: list.groups[index]!.offset + list.groups[index]!.length })), 0);
    assembly.logger.info({ groups: failing.length }, 'model.chunks.refetching');
    total += rangeBytes(refetched);
    await fetchAll(assembly.modelUrl, 'model-', 'delta.range-stored', refetched, (range, data) => model.set(data, range.start));
    const still = failingGroups(list, plan.runs, model)[0];
    if (still !== undefined) throw new PatchPathUnavailable(`fetched bytes of group ${still} (offset ${list.groups[still]!.offset}) do not match the chunk list`);
  }
  const fetchedRanges = coalesceRanges([...blocks.ranges, ...refetched].sort((a, b) => a.start - b.start), 0);
  return { model, fetchedBytes: fetched, resumedBytes: resumed, reusedBytes: model.length - rangeBytes(fetchedRanges), requests: plan.hashRanges.length + blocks.ranges.length + refetched.length };
}
