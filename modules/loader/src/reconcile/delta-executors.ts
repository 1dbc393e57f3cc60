import type { DeltaManifest, VerifiedPackageRecord } from '@edge-ml/contracts';
import { fsyncDirectory, writeJsonAtomic } from '@edge-ml/edge-kit';
import { fetchViaChunks } from '../download/fetch-by-chunks.js';
import { fetchDeltaManifest, fetchViaPatch, PatchPathUnavailable, type PatchFetchRequest, type PatchFetchResult } from '../download/fetch-by-patch.js';
import { failpoint } from '../failpoint.js';
import { spaceLedger } from '../storage/space-ledger.js';
import { deltaAttemptsOf, isGivenUp, judgeDeltaFailure, type DeltaStage } from './delta-attempts.js';
import { capOf, DOWNLOAD_RESERVE_FACTOR, removeDeltaStagingOf, stagingFilesOf, type ExecutorContext } from './executors.js';
import type { VersionRef } from './plan.js';
import type { DownloadTarget } from './target.js';

/**
 * Changes the target's count of attempts in a row at `stage` in the entry's state (written atomically, so that it holds
 * across restarts): `begin` counts an attempt before it runs, `take-back` undoes that, `succeeded` clears the count.
 */
async function recordAttempt(context: ExecutorContext, target: DownloadTarget, stage: DeltaStage, change: 'begin' | 'take-back' | 'succeeded'): Promise<number> {
  const attempts = deltaAttemptsOf(context.state.entry(context.name), target.key);
  const count = change === 'begin' ? attempts[stage] + 1 : change === 'take-back' ? Math.max(0, attempts[stage] - 1) : 0;
  await context.state.updateEntry(context.name, { deltaAttempts: { ...attempts, [stage]: count } });
  return count;
}

/**
 * Fetches and keeps the target's delta manifest. One that is unusable, that fails DELTA_ATTEMPT_LIMIT times in a row
 * on the way, or that fails unexpectedly sends the planner to the full package.
 */
export async function fetchTargetDeltaManifest(context: ExecutorContext, target: DownloadTarget, signal: AbortSignal): Promise<void> {
  if (!target.deltaManifestUrl || !target.sha256) throw new Error(`${target.name}@${target.version} offers no delta manifest`);
  const attempt = await recordAttempt(context, target, 'manifest', 'begin');
  try {
    const { manifest, bytes } = await fetchDeltaManifest(target.deltaManifestUrl, target.sha256, { signal, idleTimeoutMs: context.idleTimeoutMs, stallRule: context.stallRule });
    // A path given up before a restart (its attempts counted in the entry's state) stays given up, and says so once.
    const attempts = deltaAttemptsOf(context.state.entry(context.name), target.key);
    const failed = (['patch', 'chunks'] as const).filter((path) => isGivenUp(attempts, path));
    for (const path of failed) context.logger.warn({ model: target.name, version: target.version, path, attempt: attempts[path], reason: `${attempts[path]} attempts in a row did not succeed (counted across restarts)` }, 'model.patch.unavailable');
    context.deltas.set(target.key, { usable: true, manifest, manifestBytes: bytes, failed, spentBytes: 0 });
    await recordAttempt(context, target, 'manifest', 'succeeded');
  } catch (error) {
    const verdict = judgeDeltaFailure(error, attempt, signal.aborted);
    if (verdict.action === 'retry') {
      if (!verdict.counted) await recordAttempt(context, target, 'manifest', 'take-back');
      throw error;
    }
    context.logger.warn({ model: target.name, version: target.version, path: 'manifest', attempt, reason: verdict.reason, ...(error instanceof PatchPathUnavailable ? {} : { err: error }) }, 'model.patch.unavailable');
    context.deltas.set(target.key, { usable: false, manifestBytes: error instanceof PatchPathUnavailable ? error.bytesFetched : 0 });
  }
}

function patchRequest(context: ExecutorContext, target: DownloadTarget, manifest: DeltaManifest, signal: AbortSignal, maxBytesPerSecond: number | undefined, reservedBytes: number): PatchFetchRequest {
  const files = stagingFilesOf(context, target);
  const packageSizeBytes = target.sizeBytes ?? manifest.package.sizeBytes;
  return {
    repository: context.repository,
    packagePath: files.package,
    patchPartialPath: files.patch,
    chunkStagingDirectory: files.chunks,
    reservedBytes,
    // A model file larger than one entry of a package, or than the package inflated at the largest ratio extraction allows.
    maxModelBytes: Math.min(context.limits.maxEntryBytes, Math.max(1024 * 1024, packageSizeBytes * context.limits.maxCompressionRatio)),
    meter: { bytes: 0 },
    ...(target.sizeBytes ? { packageSizeBytes: target.sizeBytes } : {}),
    logger: context.logger,
    signal,
    idleTimeoutMs: context.idleTimeoutMs,
    stallRule: context.stallRule,
    ...capOf(context, maxBytesPerSecond),
    onProgress: (bytesDownloaded, bytesTotal) => void context.reporter.update({ state: 'downloading', name: target.name, version: target.version, bytesDownloaded, ...(bytesTotal !== undefined ? { bytesTotal } : {}) }),
  };
}

/**
 * Runs one delta path. A path that does not verify, fails unexpectedly, or fails DELTA_ATTEMPT_LIMIT times in a row on
 * its own blobs (counted across restarts) is given up: noted as failed, its staged work removed, and the planner takes
 * the next path. A transient failure below the bound is thrown on and retried with backoff, its staged work kept.
 */
async function fetchByDelta(
  context: ExecutorContext,
  target: DownloadTarget,
  via: 'patch' | 'chunks',
  signal: AbortSignal,
  maxBytesPerSecond: number | undefined,
  run: (request: PatchFetchRequest, manifest: DeltaManifest, manifestBytes: number) => Promise<PatchFetchResult>,
): Promise<void> {
  const note = context.deltas.get(target.key);
  if (!note?.usable || !target.sha256) throw new Error(`no delta manifest for ${target.name}@${target.version}`);
  const { package: packagePath } = stagingFilesOf(context, target);
  // The delta fetched (a patch, or ranges) is never larger than the package, which goes before its extraction: the
  // package's size times the reserve factor covers the peak. Held for the whole path, so that concurrent downloads
  // of other entries count it (see storage/space-ledger.ts).
  const reservedBytes = Math.ceil((target.sizeBytes ?? note.manifest.package.sizeBytes) * DOWNLOAD_RESERVE_FACTOR);
  const room = await spaceLedger.reserve(context.repository.stagingDirectory, reservedBytes, packagePath);
  const request = patchRequest(context, target, note.manifest, signal, maxBytesPerSecond, reservedBytes);
  let result: PatchFetchResult;
  let attempt = 0;
  try {
    attempt = await recordAttempt(context, target, via, 'begin');
    result = await run(request, note.manifest, note.manifestBytes);
  } catch (error) {
    // What a failed attempt received crossed the wire: it is counted with the update, whichever path lands it.
    note.spentBytes += request.meter.bytes;
    const verdict = judgeDeltaFailure(error, attempt, signal.aborted);
    if (verdict.action === 'retry') {
      if (!verdict.counted && attempt > 0) await recordAttempt(context, target, via, 'take-back');
      throw error;
    }
    context.logger.warn({ model: target.name, version: target.version, path: via, attempt, reason: verdict.reason, ...(error instanceof PatchPathUnavailable ? {} : { err: error }) }, 'model.patch.unavailable');
    note.failed.push(via);
    await removeDeltaStagingOf(context, target, [via]);
    return;
  } finally {
    room.release();
  }
  // A delta path that lands the package ends the count for the target.
  await context.state.updateEntry(context.name, { deltaAttempts: null });
  const bytesFetched = result.bytesFetched + note.spentBytes;
  await context.reporter.update({ state: 'verifying', name: target.name, version: target.version, path: result.path, bytesFetched, bytesReused: result.bytesReused });
  // The assembled package holds the same files as the published one; its identity is the published package's.
  await writeJsonAtomic(`${packagePath}.json`, { sha256: target.sha256, ...(target.md5 ? { md5: target.md5 } : {}), sizeBytes: target.sizeBytes ?? 0, path: result.path, bytesFetched, bytesReused: result.bytesReused } satisfies VerifiedPackageRecord);
  await fsyncDirectory(context.repository.stagingDirectory);
  failpoint('download.renamed');
}

/** Builds the package from an installed version (`from`) and a patch the manifest offers. */
export async function fetchPatch(context: ExecutorContext, target: DownloadTarget, from: VersionRef, signal: AbortSignal, maxBytesPerSecond?: number): Promise<void> {
  await fetchByDelta(context, target, 'patch', signal, maxBytesPerSecond, async (request, manifest, manifestBytes) => {
    const base = await context.repository.readManifest(from.name, from.version);
    const patch = base && manifest.patches.find((candidate) => candidate.fromSha256 === base.modelSha256);
    if (!base || !patch) throw new PatchPathUnavailable(`no patch starts from ${from.name}@${from.version}`);
    return fetchViaPatch(request, manifest, manifestBytes, patch, base);
  });
}

/** Builds the package from the chunks of installed models plus the missing ranges. */
export async function fetchChunks(context: ExecutorContext, target: DownloadTarget, signal: AbortSignal, maxBytesPerSecond?: number): Promise<void> {
  await fetchByDelta(context, target, 'chunks', signal, maxBytesPerSecond, async (request, manifest, manifestBytes) => fetchViaChunks(request, manifest, manifestBytes, await context.repository.listInstalled()));
}
