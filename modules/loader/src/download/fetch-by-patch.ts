import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import got from 'got';
import yazl from 'yazl';
import { DeltaManifestSchema, type DeltaManifest } from '@edge-ml/contracts';
import { applyPatch, PatchError } from '@edge-ml/delta';
import type { Logger } from '@edge-ml/edge-kit';
import { TransferError } from '../errors.js';
import type { InstalledManifest, ModelRepository } from '../repository/model-repository.js';
import { discardPartial, downloadToFile } from './http-download.js';

export interface PatchFetchRequest {
  manifestUrl: string;
  /** The desired package's sha256: the manifest must name it, or it belongs to another package. */
  packageSha256: string;
  repository: ModelRepository;
  /** Where the assembled package goes (then installed exactly as a downloaded one). */
  packagePath: string;
  patchPartialPath: string;
  logger: Logger;
  signal: AbortSignal;
  idleTimeoutMs: number;
  maxBytesPerSecond?: number;
  onProgress?: (bytesDownloaded: number, bytesTotal: number | undefined) => void;
}

export interface PatchFetchResult {
  bytesFetched: number;
  bytesReused: number;
  fromVersion: string;
}

const MANIFEST_LIMIT_BYTES = 2 * 1024 * 1024;

/** Why the patch path was not taken, for the log; the loader then downloads the full package. */
export class PatchPathUnavailable extends Error {}

async function fetchManifest(url: string, signal: AbortSignal): Promise<{ manifest: DeltaManifest; bytes: number }> {
  let body: Buffer;
  try {
    const response = await got(url, { responseType: 'buffer', timeout: { request: 60_000 }, retry: { limit: 0 }, signal, throwHttpErrors: false });
    if (response.statusCode >= 500) throw new TransferError(`HTTP ${response.statusCode} for the delta manifest`);
    if (response.statusCode !== 200) throw new PatchPathUnavailable(`the delta manifest answered HTTP ${response.statusCode}`);
    body = response.body;
  } catch (error) {
    if (error instanceof PatchPathUnavailable || error instanceof TransferError) throw error;
    // The link is down: the full package would fail the same way, so retry later rather than fall back.
    throw new TransferError(`the delta manifest could not be fetched: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (body.length > MANIFEST_LIMIT_BYTES) throw new PatchPathUnavailable('the delta manifest is too large');
  let parsed: ReturnType<typeof DeltaManifestSchema.safeParse>;
  try {
    parsed = DeltaManifestSchema.safeParse(JSON.parse(body.toString('utf8')));
  } catch {
    throw new PatchPathUnavailable('the delta manifest is not JSON');
  }
  if (!parsed.success) throw new PatchPathUnavailable(`the delta manifest is invalid: ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}`);
  return { manifest: parsed.data, bytes: body.length };
}

function zipFiles(files: { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const file of files) zip.addBuffer(file.data, file.name, { compress: false, mtime: new Date(0) });
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/**
 * Builds the desired package from an installed model file and a patch: fetch the manifest, pick a patch that starts
 * from a model this device holds, download it (resumable), apply it, verify the result's sha256, and write the same
 * files the full package holds. Throws PatchPathUnavailable whenever the full download should be used instead, and
 * TransferError when the link failed (retry later: the full download would fail too).
 */
export async function fetchByPatch(request: PatchFetchRequest): Promise<PatchFetchResult> {
  const { manifest, bytes: manifestBytes } = await fetchManifest(request.manifestUrl, request.signal);
  if (manifest.package.sha256 !== request.packageSha256) throw new PatchPathUnavailable('the delta manifest belongs to another package');
  const installed = await request.repository.listInstalled();
  let base: InstalledManifest | undefined;
  const patch = manifest.patches.find((candidate) => (base = installed.find((entry) => entry.modelSha256 === candidate.fromSha256)) !== undefined);
  if (!patch || !base) throw new PatchPathUnavailable('no patch starts from a model this device holds');

  const downloaded = await downloadToFile({
    url: patch.url,
    partialPath: request.patchPartialPath,
    expectedSizeBytes: patch.sizeBytes,
    idleTimeoutMs: request.idleTimeoutMs,
    signal: request.signal,
    ...(request.maxBytesPerSecond ? { maxBytesPerSecond: request.maxBytesPerSecond } : {}),
    ...(request.onProgress ? { onProgress: request.onProgress } : {}),
  });
  const patchBytes = await readFile(request.patchPartialPath);
  await discardPartial(request.patchPartialPath);
  if (downloaded.sha256 !== patch.sha256) throw new PatchPathUnavailable(`the patch's sha256 is ${downloaded.sha256}, the manifest says ${patch.sha256}`);
  const baseModel = await readFile(path.join(request.repository.versionDirectory(base.name, base.version), base.modelFile));
  let model: Uint8Array;
  try {
    model = applyPatch(baseModel, patchBytes);
  } catch (error) {
    throw new PatchPathUnavailable(error instanceof PatchError ? error.message : `the patch does not apply: ${String(error)}`);
  }
  const { createHash } = await import('node:crypto');
  if (createHash('sha256').update(model).digest('hex') !== manifest.model.sha256) throw new PatchPathUnavailable('the rebuilt model does not match the manifest');
  const files = [{ name: manifest.model.file, data: Buffer.from(model) }, ...Object.entries(manifest.files).map(([name, base64]) => ({ name, data: Buffer.from(base64, 'base64') }))];
  await writeFile(request.packagePath, await zipFiles(files));
  request.logger.info({ from: `${base.name}@${base.version}`, patchBytes: patchBytes.length }, 'model.patch.applied');
  return { bytesFetched: downloaded.transferredBytes + manifestBytes, bytesReused: Math.max(0, model.length - patchBytes.length), fromVersion: `${base.name}@${base.version}` };
}

export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true });
}
