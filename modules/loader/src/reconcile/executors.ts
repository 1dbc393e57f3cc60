import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { VerifiedPackageRecordSchema, type DeltaManifest, type VerifiedPackageRecord } from '@edge-ml/contracts';
import { fsyncDirectory, writeJsonAtomic, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { discardPartial, downloadToFile } from '../download/http-download.js';
import type { StallRule } from '../download/stall-rule.js';
import { ChecksumMismatchError, DiskFullError, InvalidPackageError, SizeMismatchError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import type { PackageLimits } from '../package/package-limits.js';
import { preparePackage } from '../package/prepare-package.js';
import { isNoSpaceError } from '../storage/disk-space.js';
import type { InstalledManifest, ModelRepository } from '../repository/model-repository.js';
import type { LoaderStateStore } from './loader-state.js';
import type { ServingIndexStore } from '../serving/serving-index-store.js';
import type { Reporter } from './reporter.js';
import type { StatusInbox } from './status-inbox.js';
import type { DownloadTarget } from './target.js';

/** Free space a download asks for, as a multiple of its size: the package, then its extraction beside it. */
export const DOWNLOAD_RESERVE_FACTOR = 2.2;

/**
 * What this process learnt of a target's delta manifest: the manifest and the paths given up, or that it is unusable;
 * with the bytes the manifest and the delta paths' failed attempts received (`spentBytes`), counted with the update.
 */
export type DeltaNote =
  | { usable: true; manifest: DeltaManifest; manifestBytes: number; failed: ('patch' | 'chunks')[]; spentBytes: number }
  | { usable: false; manifestBytes: number };

/** Bytes the target's delta manifest and the delta paths' failed attempts received: part of what the update fetched, whichever path lands it. */
export const deltaBytesOf = (note: DeltaNote | undefined) => (note ? note.manifestBytes + (note.usable ? note.spentBytes : 0) : 0);

/** What the executors of one entry (one model name) work with; everything but `name` and `reporter` is shared. */
export interface ExecutorContext {
  /** The model name of the entry the steps belong to. */
  name: string;
  repository: ModelRepository;
  index: ServingIndexStore;
  state: LoaderStateStore;
  reporter: Reporter;
  inbox: StatusInbox;
  /** Delta manifests by target key; kept in memory (a restart fetches the manifest again). */
  deltas: Map<string, DeltaNote>;
  /** Announcement keys refused for lack of memory, with when to try them again (ms since the epoch); shared by entries. */
  deferrals: Map<string, { untilMs: number; error: { code: string; message: string } }>;
  edge: EdgeClient | undefined;
  logger: Logger;
  limits: PackageLimits;
  idleTimeoutMs: number;
  stallRule: StallRule;
  maxBytesPerSecond?: number;
}

/** The staging files of one target's update, all named after its key: each is resumable work until it is announced. */
export function stagingFilesOf(context: ExecutorContext, target: DownloadTarget) {
  const base = path.join(context.repository.stagingDirectory, target.key);
  return { partial: `${base}.partial`, patch: `${base}.partial.patch`, chunks: `${base}.partial.chunks`, package: `${base}.package` };
}

/** Whether a staging entry is resumable work (kept at start-up) rather than an unfinished extraction. */
export const isResumableStagingEntry = (entry: string) => /\.(partial|package)(\.patch)?(\.json|\.chunks)?$/.test(entry);

/**
 * Removes the target's delta work in staging (a patch's partial, the chunk path's ranges) once nothing resumes it: the
 * path was given up, or the target superseded. Returns the staging entries it removed.
 */
export async function removeDeltaStagingOf(context: ExecutorContext, target: DownloadTarget, paths: readonly ('patch' | 'chunks')[] = ['patch', 'chunks']): Promise<string[]> {
  const files = stagingFilesOf(context, target);
  const entries = [...(paths.includes('patch') ? [files.patch, `${files.patch}.json`] : []), ...(paths.includes('chunks') ? [files.chunks] : [])];
  const removed: string[] = [];
  for (const entry of entries) {
    if (!(await stat(entry).catch(() => undefined))) continue;
    await rm(entry, { recursive: true, force: true });
    removed.push(path.basename(entry));
  }
  return removed;
}

/** Removes a target's staging files (and their .json state) once they are no longer needed. */
export async function removeStagingFilesOf(context: ExecutorContext, target: DownloadTarget): Promise<void> {
  const files = stagingFilesOf(context, target);
  for (const file of [files.partial, files.patch, files.package]) await discardPartial(file);
  await rm(files.chunks, { recursive: true, force: true });
}

/** Whether any staging file of the target is left (a crash after its install, before the clean-up). */
export async function hasStagingFiles(context: ExecutorContext, target: DownloadTarget): Promise<boolean> {
  const files = stagingFilesOf(context, target);
  for (const file of [files.partial, files.patch, files.package, files.chunks, `${files.partial}.json`, `${files.package}.json`]) {
    if (await stat(file).catch(() => undefined)) return true;
  }
  return false;
}

/** The record of the target's verified package; undefined when there is none, or it is torn (the package is fetched again). */
async function readVerifiedRecord(context: ExecutorContext, target: DownloadTarget) {
  const { package: packagePath } = stagingFilesOf(context, target);
  try {
    const parsed = VerifiedPackageRecordSchema.safeParse(JSON.parse(await readFile(`${packagePath}.json`, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function hasVerifiedPackage(context: ExecutorContext, target: DownloadTarget): Promise<boolean> {
  const { package: packagePath } = stagingFilesOf(context, target);
  return (await readVerifiedRecord(context, target)) !== undefined && (await stat(packagePath).catch(() => undefined)) !== undefined;
}

export const capOf = (context: ExecutorContext, maxBytesPerSecond: number | undefined) => {
  const effective = maxBytesPerSecond ?? context.maxBytesPerSecond;
  return effective ? { maxBytesPerSecond: effective } : {};
};

/**
 * Downloads the full package (resuming whatever is there), verifies size and hashes and keeps it under a verified
 * name. `maxBytesPerSecond` from the desired policy wins over the module's configured cap.
 */
export async function fetchFullPackage(context: ExecutorContext, target: DownloadTarget, signal: AbortSignal, maxBytesPerSecond?: number): Promise<void> {
  const { reporter } = context;
  const { partial: partialPath, package: packagePath } = stagingFilesOf(context, target);
  const base = { name: target.name, version: target.version };
  const cap = capOf(context, maxBytesPerSecond);
  await reporter.update({ state: 'downloading', ...base, path: 'full', bytesDownloaded: 0, ...(target.sizeBytes ? { bytesTotal: target.sizeBytes } : {}) });
  const result = await downloadToFile({
    url: target.url,
    partialPath,
    ...(target.sizeBytes ? { expectedSizeBytes: target.sizeBytes } : {}),
    reserveFactor: DOWNLOAD_RESERVE_FACTOR,
    maxSizeBytes: context.limits.maxTotalBytes,
    ...cap,
    idleTimeoutMs: context.idleTimeoutMs,
    stallRule: context.stallRule,
    signal,
    onProgress: (bytesDownloaded, bytesTotal) => void reporter.update({ state: 'downloading', ...base, path: 'full', bytesDownloaded, ...(bytesTotal !== undefined ? { bytesTotal } : {}) }),
  });
  context.logger.info({ model: target.name, version: target.version, sizeBytes: result.sizeBytes, transferredBytes: result.transferredBytes, resumedFromBytes: result.resumedFromBytes }, 'model.download.complete');
  // After a fallback, what the delta manifest and the given-up paths received crossed the wire too.
  const bytesFetched = result.transferredBytes + deltaBytesOf(context.deltas.get(target.key));
  await reporter.update({ state: 'verifying', ...base, path: 'full', bytesDownloaded: result.sizeBytes, bytesTotal: result.sizeBytes, bytesFetched, bytesReused: result.resumedFromBytes });
  try {
    if (target.sizeBytes !== undefined && result.sizeBytes !== target.sizeBytes) throw new SizeMismatchError(target.sizeBytes, result.sizeBytes);
    if (target.sha256 && result.sha256 !== target.sha256) throw new ChecksumMismatchError('sha256', target.sha256, result.sha256);
    if (target.md5 && result.md5 !== target.md5) throw new ChecksumMismatchError('md5', target.md5, result.md5);
  } catch (error) {
    await discardPartial(partialPath);
    throw error;
  }
  if (!target.sha256 && !target.md5) context.logger.warn({ model: target.name }, 'model.download.unverified');
  failpoint('download.verified');
  await writeJsonAtomic(`${packagePath}.json`, { sha256: result.sha256, md5: result.md5, sizeBytes: result.sizeBytes, path: 'full', bytesFetched, bytesReused: 0 } satisfies VerifiedPackageRecord);
  await rename(partialPath, packagePath);
  await rm(`${partialPath}.json`, { force: true });
  await fsyncDirectory(context.repository.stagingDirectory);
  failpoint('download.renamed');
}

/** Extracts the verified package into staging and installs it as an immutable version. */
export async function installPackage(context: ExecutorContext, target: DownloadTarget, signal: AbortSignal): Promise<void> {
  const { package: packagePath } = stagingFilesOf(context, target);
  const info = await readVerifiedRecord(context, target);
  if (!info) {
    await removeStagingFilesOf(context, target);
    throw new InvalidPackageError('its verification record in staging is unreadable; it will be fetched again');
  }
  await context.reporter.update({ state: 'extracting', name: target.name, version: target.version });
  const staging = await context.repository.createStagingDirectory(`${target.name}-${target.version}`);
  try {
    const prepared = await preparePackage(packagePath, target.fileName, staging, context.limits, signal);
    const manifest: InstalledManifest = {
      name: target.name,
      version: target.version,
      format: prepared.format,
      modelFile: prepared.modelFile,
      labelsFile: prepared.labelsFile,
      ...(prepared.descriptorFile ? { descriptorFile: prepared.descriptorFile } : {}),
      modelSha256: prepared.modelSha256,
      packageSha256: info.sha256,
      ...(info.md5 ? { packageMd5: info.md5 } : {}),
      packageFileName: target.fileName,
      installedAt: new Date().toISOString(),
      delivery: { path: info.path, bytesFetched: info.bytesFetched, bytesReused: info.bytesReused },
    };
    await context.repository.install(staging, manifest);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // A full disk is retried with the package kept; any other failure will not go away by fetching the package again.
    if (error instanceof DiskFullError || isNoSpaceError(error)) throw error;
    await rm(packagePath, { force: true });
    await rm(`${packagePath}.json`, { force: true });
    throw error;
  }
  await rm(packagePath, { force: true });
  await rm(`${packagePath}.json`, { force: true });
  // The target is installed, whichever path brought it: its delta attempts are done with.
  if (context.state.entry(context.name).deltaAttempts?.targetKey === target.key) await context.state.updateEntry(context.name, { deltaAttempts: null });
  await context.reporter.update({ state: 'staged', name: target.name, version: target.version, path: info.path, bytesFetched: info.bytesFetched, bytesReused: info.bytesReused });
}
