import type { Logger } from '@edge-ml/edge-kit';
import type { TransferGuards } from './guarded-get.js';
import type { RangeStage } from './fetch-range.js';

/** Per range request, what headers cost on the wire: part of deciding whether chunks beat the package. */
export const RANGE_REQUEST_OVERHEAD_BYTES = 600;
export const RANGE_PARALLELISM = 4;

/** What building the model from chunks works with, once the list is fetched and verified. */
export interface ChunkAssembly {
  /** The raw model blob ranges are fetched from. */
  modelUrl: string;
  modelSizeBytes: number;
  /** The blob the list came from (its block hashes, for a two-level list, follow the list there). */
  listUrl: string;
  /** The model files of the installed versions, whose bytes are reused. */
  localFiles: readonly Uint8Array[];
  stage: RangeStage;
  /** Bytes already on the wire (the manifest and the list): counted in every cost estimate. */
  spentBytes: number;
  /** The full package's size: the chunk path is taken only when it costs less. */
  packageSizeBytes: number;
  /** Cancellation, idle timeout and stall rule, as for every download. */
  guards: TransferGuards & { signal: AbortSignal };
  /** Counts every byte fetched, as it arrives (see PatchFetchRequest.meter). */
  meter: { bytes: number };
  logger: Logger;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface AssembledModel {
  model: Uint8Array;
  /** Bytes fetched after the list (block hashes and model ranges), not counting those taken from staging. */
  fetchedBytes: number;
  resumedBytes: number;
  reusedBytes: number;
  requests: number;
}
