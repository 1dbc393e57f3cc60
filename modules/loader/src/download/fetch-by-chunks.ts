import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DeltaManifest } from '@edge-ml/contracts';
import { isGroupList, PatchError } from '@edge-ml/delta';
import type { InstalledManifest } from '../repository/model-repository.js';
import { assembleFromChunkList } from './assemble-chunk-list.js';
import { assembleFromGroups } from './assemble-groups.js';
import type { AssembledModel } from './chunk-assembly.js';
import { companionFiles, guardsOf, PatchPathUnavailable, refuseOversizedModel, writeAssembledPackage, type PatchFetchRequest, type PatchFetchResult } from './fetch-by-patch.js';
import { fetchRange, RangeStage } from './fetch-range.js';

/** A chunk list larger than this share of its model is refused (the lists publishers write are under 1 %). */
const LIST_LIMIT_SHARE = 1 / 16;

/**
 * Builds the package from the chunks of the installed models plus the bytes they lack, by the list the manifest
 * names: a two-level list (`EMCG`, what `edge-model delta` writes) or a single-level one (`EMCL`, written before).
 * PatchPathUnavailable when that would cost more than the package, or anything fetched does not verify.
 */
export async function fetchViaChunks(request: PatchFetchRequest, manifest: DeltaManifest, manifestBytes: number, installed: InstalledManifest[]): Promise<PatchFetchResult> {
  const companions = await companionFiles(request, manifest, installed);
  const chunks = manifest.chunks;
  if (!chunks) throw new PatchPathUnavailable('the manifest lists no chunks');
  refuseOversizedModel(request, manifest);
  if (chunks.listSizeBytes > Math.max(64 * 1024, manifest.model.sizeBytes * LIST_LIMIT_SHARE)) throw new PatchPathUnavailable(`the chunk list (${chunks.listSizeBytes} bytes) is too large for a ${manifest.model.sizeBytes}-byte model`);
  // The list is the start of its blob: a two-level list's block hashes follow it there.
  const listBytes = await fetchRange(chunks.listUrl, { start: 0, end: chunks.listSizeBytes }, 'chunk list', guardsOf(request), true);
  request.meter.bytes += listBytes.length;
  if (createHash('sha256').update(listBytes).digest('hex') !== chunks.listSha256) throw new PatchPathUnavailable('the chunk list does not match the manifest');
  const localFiles = await Promise.all(installed.map((entry) => readFile(path.join(request.repository.versionDirectory(entry.name, entry.version), entry.modelFile))));
  const assembly = {
    modelUrl: chunks.modelUrl,
    modelSizeBytes: manifest.model.sizeBytes,
    listUrl: chunks.listUrl,
    localFiles,
    stage: new RangeStage(request.chunkStagingDirectory),
    spentBytes: manifestBytes + listBytes.length,
    packageSizeBytes: request.packageSizeBytes ?? manifest.package.sizeBytes,
    guards: guardsOf(request),
    meter: request.meter,
    logger: request.logger,
    ...(request.onProgress ? { onProgress: request.onProgress } : {}),
  };
  let assembled: AssembledModel;
  try {
    assembled = isGroupList(listBytes) ? await assembleFromGroups(assembly, listBytes) : await assembleFromChunkList(assembly, listBytes);
  } catch (error) {
    throw error instanceof PatchError ? new PatchPathUnavailable(error.message) : error;
  }
  await writeAssembledPackage(request, manifest, assembled.model, companions);
  await rm(request.chunkStagingDirectory, { recursive: true, force: true });
  request.logger.info({ list: isGroupList(listBytes) ? 'two-level' : 'single-level', listBytes: listBytes.length, requests: assembled.requests, fetchedBytes: assembled.fetchedBytes, resumedBytes: assembled.resumedBytes, reusedBytes: assembled.reusedBytes }, 'model.chunks.assembled');
  return { path: 'chunks', bytesFetched: manifestBytes + listBytes.length + assembled.fetchedBytes, bytesReused: assembled.reusedBytes };
}
