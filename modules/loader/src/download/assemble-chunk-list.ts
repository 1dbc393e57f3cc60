import { chunkKey, decodeChunkList, indexChunks, planChunkAssembly, rangeBytes } from '@edge-ml/delta';
import { failpoint } from '../failpoint.js';
import { RANGE_PARALLELISM, RANGE_REQUEST_OVERHEAD_BYTES, type AssembledModel, type ChunkAssembly } from './chunk-assembly.js';
import { PatchPathUnavailable } from './fetch-by-patch.js';
import { fetchRange, forEachParallel } from './fetch-range.js';

/**
 * The single-level list (`EMCL`, written by publishers before the two-level list): every chunk the device holds is
 * copied, the rest fetched as coalesced ranges, each chunk checked against its 6-byte key as its range arrives.
 */
export async function assembleFromChunkList(assembly: ChunkAssembly, listBytes: Uint8Array): Promise<AssembledModel> {
  const list = decodeChunkList(listBytes);
  if (list.fileSizeBytes !== assembly.modelSizeBytes) throw new PatchPathUnavailable(`the chunk list describes ${list.fileSizeBytes} bytes, the manifest's model is ${assembly.modelSizeBytes}`);
  const local = indexChunks(assembly.localFiles, list.averageBytes);
  const plan = planChunkAssembly(list, local, 256);
  const missingBytes = rangeBytes(plan.ranges);
  const cost = assembly.spentBytes + missingBytes + plan.ranges.length * RANGE_REQUEST_OVERHEAD_BYTES;
  if (cost >= assembly.packageSizeBytes) throw new PatchPathUnavailable(`chunks would cost ${cost} bytes, the full package ${assembly.packageSizeBytes}`);

  const model = new Uint8Array(assembly.modelSizeBytes);
  for (const chunk of list.chunks) {
    const source = local.get(chunk.key);
    if (source) model.set(source.data.subarray(source.offset, source.offset + chunk.length), chunk.offset);
  }
  let fetched = 0;
  let resumed = 0;
  const verify = (range: (typeof plan.ranges)[number], data: Uint8Array) =>
    range.chunks.every((chunk) => chunkKey(data.subarray(chunk.offset - range.start, chunk.offset - range.start + chunk.length)) === chunk.key);
  await forEachParallel(plan.ranges, RANGE_PARALLELISM, async (range) => {
    assembly.guards.signal.throwIfAborted();
    const stored = await assembly.stage.read('', range);
    if (stored && verify(range, stored)) {
      model.set(stored, range.start);
      resumed += stored.length;
      return;
    }
    const data = await fetchRange(assembly.modelUrl, range, 'model', assembly.guards);
    fetched += data.length;
    assembly.meter.bytes += data.length;
    if (!verify(range, data)) throw new PatchPathUnavailable(`fetched bytes ${range.start}-${range.end} do not match their chunks`);
    await assembly.stage.store('', range, data);
    failpoint('delta.range-stored');
    model.set(data, range.start);
    assembly.onProgress?.(fetched + resumed, missingBytes);
  });
  return { model, fetchedBytes: fetched, resumedBytes: resumed, reusedBytes: plan.reused, requests: plan.ranges.length };
}
