import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, writeJsonAtomic, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { fetchByPatch, PatchPathUnavailable } from '../download/fetch-by-patch.js';
import { discardPartial, downloadToFile } from '../download/http-download.js';
import { ChecksumMismatchError, DiskFullError, SizeMismatchError } from '../errors.js';
import { LOADER_EDGE_INTERFACE } from '../edge-interface.js';
import { failpoint } from '../failpoint.js';
import type { PackageLimits } from '../package/package-limits.js';
import { preparePackage } from '../package/prepare-package.js';
import { isNoSpaceError } from '../storage/disk-space.js';
import type { InstalledManifest, ModelRepository } from '../repository/model-repository.js';
import type { LoaderStateStore } from './loader-state.js';
import type { Reporter } from './reporter.js';
import type { ModelTarget } from './target.js';

export const [MODEL_OUTPUT] = LOADER_EDGE_INTERFACE.outputs;

/** Free space a download asks for, as a multiple of its size: the package, then its extraction beside it. */
const DOWNLOAD_RESERVE_FACTOR = 2.2;

export interface ExecutorContext {
  repository: ModelRepository;
  state: LoaderStateStore;
  reporter: Reporter;
  edge: EdgeClient | undefined;
  logger: Logger;
  limits: PackageLimits;
  idleTimeoutMs: number;
  maxBytesPerSecond?: number;
}

interface VerifiedPackageInfo {
  sha256: string;
  md5: string;
  sizeBytes: number;
  path: 'patch' | 'chunks' | 'full';
  bytesFetched: number;
  bytesReused: number;
}

/** The staging files of one target's update, all named after its key: each is resumable work until it is announced. */
export function stagingFilesOf(context: ExecutorContext, target: ModelTarget) {
  const base = path.join(context.repository.stagingDirectory, target.key);
  return { partial: `${base}.partial`, patch: `${base}.partial.patch`, chunks: `${base}.partial.chunks`, package: `${base}.package` };
}

/** Whether a staging entry is resumable work (kept at start-up) rather than an unfinished extraction. */
export const isResumableStagingEntry = (entry: string) => /\.(partial|package)(\.patch)?(\.json|\.chunks)?$/.test(entry);

/** Removes a target's staging files (and their .json state) once they are no longer needed. */
export async function removeStagingFilesOf(context: ExecutorContext, target: ModelTarget): Promise<void> {
  const files = stagingFilesOf(context, target);
  for (const file of [files.partial, files.patch, files.package]) await discardPartial(file);
  await rm(files.chunks, { recursive: true, force: true });
}

export async function hasVerifiedPackage(context: ExecutorContext, target: ModelTarget): Promise<boolean> {
  const { package: packagePath } = stagingFilesOf(context, target);
  return (await stat(`${packagePath}.json`).catch(() => undefined)) !== undefined && (await stat(packagePath).catch(() => undefined)) !== undefined;
}

/** Tries the patch path when the target offers one; returns what it fetched, or undefined to download the full package. */
async function fetchPatchIfOffered(context: ExecutorContext, target: ModelTarget, signal: AbortSignal, cap: { maxBytesPerSecond?: number }) {
  if (!target.deltaManifestUrl || !target.sha256) return undefined;
  const { reporter } = context;
  const base = { name: target.name, version: target.version };
  const files = stagingFilesOf(context, target);
  try {
    const result = await fetchByPatch({
      manifestUrl: target.deltaManifestUrl,
      packageSha256: target.sha256,
      repository: context.repository,
      packagePath: files.package,
      patchPartialPath: files.patch,
      chunkStagingDirectory: files.chunks,
      ...(target.sizeBytes ? { packageSizeBytes: target.sizeBytes } : {}),
      logger: context.logger,
      signal,
      idleTimeoutMs: context.idleTimeoutMs,
      ...cap,
      onProgress: (bytesDownloaded, bytesTotal) => void reporter.update({ state: 'downloading', ...base, bytesDownloaded, ...(bytesTotal !== undefined ? { bytesTotal } : {}) }),
    });
    return result;
  } catch (error) {
    if (!(error instanceof PatchPathUnavailable)) throw error;
    context.logger.warn({ model: target.name, version: target.version, reason: error.message }, 'model.patch.unavailable');
    return undefined;
  }
}

/**
 * Gets the package: through a patch against an installed version when the target offers one that applies and
 * verifies, otherwise by downloading it (resuming whatever is there), then verifies size and hashes and keeps it
 * under a verified name. `maxBytesPerSecond` from the desired policy wins over the module's configured cap.
 */
export async function fetchPackage(context: ExecutorContext, target: ModelTarget, signal: AbortSignal, maxBytesPerSecond?: number): Promise<void> {
  const { reporter } = context;
  const { partial: partialPath, package: packagePath } = stagingFilesOf(context, target);
  const base = { name: target.name, version: target.version };
  const effectiveCap = maxBytesPerSecond ?? context.maxBytesPerSecond;
  const cap = effectiveCap ? { maxBytesPerSecond: effectiveCap } : {};
  const patched = await fetchPatchIfOffered(context, target, signal, cap);
  if (patched && target.sha256) {
    await reporter.update({ state: 'verifying', ...base, path: patched.path, bytesFetched: patched.bytesFetched, bytesReused: patched.bytesReused });
    // The assembled package holds the same files as the published one; its identity is the published package's.
    await writeJsonAtomic(`${packagePath}.json`, { sha256: target.sha256, md5: target.md5 ?? '', sizeBytes: target.sizeBytes ?? 0, path: patched.path, bytesFetched: patched.bytesFetched, bytesReused: patched.bytesReused } satisfies VerifiedPackageInfo);
    await fsyncDirectory(context.repository.stagingDirectory);
    failpoint('download.renamed');
    return;
  }
  await reporter.update({ state: 'downloading', ...base, path: 'full', bytesDownloaded: 0, ...(target.sizeBytes ? { bytesTotal: target.sizeBytes } : {}) });
  const result = await downloadToFile({
    url: target.url,
    partialPath,
    ...(target.sizeBytes ? { expectedSizeBytes: target.sizeBytes } : {}),
    reserveFactor: DOWNLOAD_RESERVE_FACTOR,
    maxSizeBytes: context.limits.maxTotalBytes,
    ...cap,
    idleTimeoutMs: context.idleTimeoutMs,
    signal,
    onProgress: (bytesDownloaded, bytesTotal) => void reporter.update({ state: 'downloading', ...base, path: 'full', bytesDownloaded, ...(bytesTotal !== undefined ? { bytesTotal } : {}) }),
  });
  context.logger.info({ model: target.name, version: target.version, sizeBytes: result.sizeBytes, transferredBytes: result.transferredBytes, resumedFromBytes: result.resumedFromBytes }, 'model.download.complete');
  await reporter.update({ state: 'verifying', ...base, path: 'full', bytesDownloaded: result.sizeBytes, bytesTotal: result.sizeBytes, bytesFetched: result.transferredBytes, bytesReused: result.resumedFromBytes });
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
  await writeJsonAtomic(`${packagePath}.json`, { sha256: result.sha256, md5: result.md5, sizeBytes: result.sizeBytes, path: 'full', bytesFetched: result.transferredBytes, bytesReused: 0 } satisfies VerifiedPackageInfo);
  await rename(partialPath, packagePath);
  await rm(`${partialPath}.json`, { force: true });
  await fsyncDirectory(context.repository.stagingDirectory);
  failpoint('download.renamed');
}

/** Extracts the verified package into staging and installs it as an immutable version. */
export async function installPackage(context: ExecutorContext, target: ModelTarget, signal: AbortSignal): Promise<void> {
  const { package: packagePath } = stagingFilesOf(context, target);
  const info = JSON.parse(await readFile(`${packagePath}.json`, 'utf8')) as VerifiedPackageInfo;
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
      packageMd5: info.md5,
      installedAt: new Date().toISOString(),
      ...(info.path ? { delivery: { path: info.path, bytesFetched: info.bytesFetched, bytesReused: info.bytesReused } } : {}),
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
  await context.reporter.update({ state: 'staged', name: target.name, version: target.version, path: info.path, bytesFetched: info.bytesFetched, bytesReused: info.bytesReused });
}

export const announcementKey = (manifest: InstalledManifest) => `${manifest.name}@${manifest.version}#${manifest.modelSha256}`;

/** Writes the announced pointer, then sends DLModelOutput, then reports the version active. */
export async function announceVersion(context: ExecutorContext, manifest: InstalledManifest, latestFileName: string): Promise<void> {
  const message = context.repository.announcementFor(manifest);
  await context.repository.writeAnnounced(message);
  failpoint('announce.pointer-written');
  if (context.edge) {
    await context.edge.sendOutput(MODEL_OUTPUT, { body: Buffer.from(JSON.stringify(message)), properties: { model: `${manifest.name}@${manifest.version}` }, contentType: 'application/json', contentEncoding: 'utf-8' });
  }
  failpoint('announce.sent');
  await context.state.update({ messageSentFor: announcementKey(manifest) });
  context.logger.info({ model: manifest.name, version: manifest.version }, 'model.announced');
  const installed = await context.repository.listInstalled();
  await context.reporter.update(
    { state: 'active', name: manifest.name, version: manifest.version, ...(manifest.delivery ?? {}) },
    { LatestAIModelFileName: latestFileName, activeModel: { name: manifest.name, version: manifest.version, sha256: manifest.modelSha256 }, installedVersions: installed.map((entry) => `${entry.name}@${entry.version}`) },
  );
}
