import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeltaManifestSchema, type DeltaManifest } from '@edge-ml/contracts';
import { applyPatch, PatchError } from '@edge-ml/delta';
import type { Logger } from '@edge-ml/edge-kit';
import { AccessDeniedError, NotFoundError, RedirectRefusedError, SizeMismatchError, TransferError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { buildZip } from '../package/build-zip.js';
import type { InstalledManifest, ModelRepository } from '../repository/model-repository.js';
import { BodyTooLargeError, EncodedBodyError, fetchBounded } from './fetch-bounded.js';
import type { TransferGuards } from './guarded-get.js';
import { discardPartial, downloadToFile } from './http-download.js';
import type { StallRule } from './stall-rule.js';

export interface PatchFetchRequest {
  repository: ModelRepository;
  /** Where the assembled package goes (then installed exactly as a downloaded one). */
  packagePath: string;
  patchPartialPath: string;
  logger: Logger;
  signal: AbortSignal;
  idleTimeoutMs: number;
  stallRule?: StallRule;
  maxBytesPerSecond?: number;
  onProgress?: (bytesDownloaded: number, bytesTotal: number | undefined) => void;
  /** The full package's size, when known: the chunk path is taken only when it costs less. */
  packageSizeBytes?: number;
  /** Directory for chunk ranges already fetched, so that an interrupted fetch resumes. */
  chunkStagingDirectory: string;
  /** The free space the caller reserved for the whole path (see storage/space-ledger.ts): a larger patch is not taken. */
  reservedBytes: number;
  /** The largest model file the package could hold (the package limits): a manifest naming a larger one is refused before anything is allocated. */
  maxModelBytes: number;
  /** Bytes this attempt received (manifest excluded), added to as they arrive: what a path that is given up cost. */
  meter: { bytes: number };
}

export interface PatchFetchResult {
  path: 'patch' | 'chunks';
  bytesFetched: number;
  bytesReused: number;
  fromVersion?: string;
}

const MANIFEST_LIMIT_BYTES = 2 * 1024 * 1024;

/** Why a delta path (patch or chunks) cannot be taken, for the log; the planner then picks the next path. */
export class PatchPathUnavailable extends Error {
  /** `bytesFetched`: what was received before the refusal (a manifest for another package), counted with the update. */
  constructor(
    message: string,
    readonly bytesFetched = 0,
  ) {
    super(message);
  }
}

/** The transfer guards of a delta path's requests: the same as the full download's. */
export const guardsOf = (request: PatchFetchRequest): TransferGuards & { signal: AbortSignal } => ({ signal: request.signal, idleTimeoutMs: request.idleTimeoutMs, ...(request.stallRule ? { stallRule: request.stallRule } : {}) });

/**
 * A small blob (manifest, chunk list) in one request. 5xx, network failures and stalls are TransferErrors (retry later:
 * the link is the problem); other statuses, refused redirects and oversized bodies make the delta path unavailable
 * (use the full package).
 */
async function fetchSmallBlob(url: string, what: string, guards: TransferGuards & { signal: AbortSignal }, limitBytes: number): Promise<Buffer> {
  try {
    const response = await fetchBounded(url, { limitBytes, ...guards });
    if (response.statusCode >= 500) throw new TransferError(`HTTP ${response.statusCode} for the ${what}`);
    if (response.statusCode !== 200) throw new PatchPathUnavailable(`the ${what} answered HTTP ${response.statusCode}`);
    return response.body;
  } catch (error) {
    if (error instanceof PatchPathUnavailable || error instanceof TransferError) throw error;
    if (error instanceof BodyTooLargeError) throw new PatchPathUnavailable(`the ${what} is larger than ${limitBytes} bytes`);
    if (error instanceof EncodedBodyError) throw new PatchPathUnavailable(`the ${what}: ${error.message}`);
    if (error instanceof RedirectRefusedError) throw new PatchPathUnavailable(`the ${what}'s redirect was refused: ${error.reason}`);
    throw new TransferError(`the ${what} could not be fetched: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

async function fetchManifest(url: string, guards: TransferGuards & { signal: AbortSignal }): Promise<{ manifest: DeltaManifest; bytes: number }> {
  const body = await fetchSmallBlob(url, 'delta manifest', guards, MANIFEST_LIMIT_BYTES);
  let parsed: ReturnType<typeof DeltaManifestSchema.safeParse>;
  try {
    parsed = DeltaManifestSchema.safeParse(JSON.parse(body.toString('utf8')));
  } catch {
    throw new PatchPathUnavailable('the delta manifest is not JSON', body.length);
  }
  if (!parsed.success) throw new PatchPathUnavailable(`the delta manifest is invalid: ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}`, body.length);
  return { manifest: parsed.data, bytes: body.length };
}

/** The delta manifest of the desired package; PatchPathUnavailable when it is unusable or names another package. */
export async function fetchDeltaManifest(url: string, packageSha256: string, guards: TransferGuards & { signal: AbortSignal }): Promise<{ manifest: DeltaManifest; bytes: number }> {
  const fetched = await fetchManifest(url, guards);
  if (fetched.manifest.package.sha256 !== packageSha256) throw new PatchPathUnavailable('the delta manifest belongs to another package', fetched.bytes);
  return fetched;
}

/** The first patch the manifest offers from a model this device holds, with that installed version. */
export function patchFromInstalled(manifest: DeltaManifest, installed: InstalledManifest[]): { patch: DeltaManifest['patches'][number]; base: InstalledManifest } | undefined {
  for (const patch of manifest.patches) {
    const base = installed.find((entry) => entry.modelSha256 === patch.fromSha256);
    if (base) return { patch, base };
  }
  return undefined;
}

export type CompanionFile = { name: string; data: Buffer };

/**
 * The package's other files (labels, model.json). Schema 1 carries them all; schema 2 carries only those a device may
 * lack, and names the rest by sha256: taken from an installed version (the patch's base first) holding that file.
 */
export async function companionFiles(request: PatchFetchRequest, manifest: DeltaManifest, holders: InstalledManifest[]): Promise<CompanionFile[]> {
  if (manifest.schemaVersion === 1) return Object.entries(manifest.files).map(([name, base64]) => ({ name, data: Buffer.from(base64, 'base64') }));
  const hash = (data: Buffer) => createHash('sha256').update(data).digest('hex');
  return Promise.all(
    Object.entries(manifest.files).map(async ([name, file]) => {
      if (file.base64 !== undefined) {
        const data = Buffer.from(file.base64, 'base64');
        if (hash(data) !== file.sha256) throw new PatchPathUnavailable(`${name} in the delta manifest does not match its sha256`);
        return { name, data };
      }
      for (const holder of holders) {
        const data = await readFile(path.join(request.repository.versionDirectory(holder.name, holder.version), name)).catch(() => undefined);
        if (data && hash(data) === file.sha256) return { name, data };
      }
      throw new PatchPathUnavailable(`no installed version holds ${name} as the delta manifest names it`);
    }),
  );
}

/** A manifest whose model could not be in the package (past the package limits) is refused before the model is allocated. */
export function refuseOversizedModel(request: PatchFetchRequest, manifest: DeltaManifest): void {
  if (manifest.model.sizeBytes > request.maxModelBytes) throw new PatchPathUnavailable(`the delta manifest's model is ${manifest.model.sizeBytes} bytes, more than the package can hold (${request.maxModelBytes})`);
}

const partialSize = async (file: string) => (await stat(file).catch(() => undefined))?.size ?? 0;

/** Why the patch blob's download cannot succeed, worded for the patch blob (the errors' own messages speak of the package). */
function patchBlobRefusal(error: unknown, patch: DeltaManifest['patches'][number]): string | undefined {
  if (error instanceof NotFoundError) return 'the patch blob answered HTTP 404: it is not at the URL the delta manifest names';
  if (error instanceof AccessDeniedError) return `the patch blob's URL was refused (HTTP ${error.status}): the SAS token in the delta manifest has expired or is invalid`;
  if (error instanceof SizeMismatchError) return error.actual === 'more' ? `the patch blob runs past the ${patch.sizeBytes} bytes the delta manifest names` : `the patch blob is ${error.actual} bytes, the delta manifest says ${patch.sizeBytes}`;
  if (error instanceof RedirectRefusedError) return `the patch blob's redirect was refused: ${error.reason}`;
  return undefined;
}

export async function writeAssembledPackage(request: PatchFetchRequest, manifest: DeltaManifest, model: Uint8Array, companions: CompanionFile[]): Promise<void> {
  if (createHash('sha256').update(model).digest('hex') !== manifest.model.sha256) throw new PatchPathUnavailable('the rebuilt model does not match the manifest');
  const files = [{ name: manifest.model.file, data: Buffer.from(model) }, ...companions];
  await writeFile(request.packagePath, await buildZip(files));
  failpoint('delta.assembled');
}

/** Builds the package from an installed model and a patch; PatchPathUnavailable when the patch does not verify or apply. */
export async function fetchViaPatch(request: PatchFetchRequest, manifest: DeltaManifest, manifestBytes: number, patch: DeltaManifest['patches'][number], base: InstalledManifest): Promise<PatchFetchResult> {
  // Before any byte is fetched: the package's other files, the patch's base first among their holders.
  refuseOversizedModel(request, manifest);
  const installed = await request.repository.listInstalled();
  const companions = await companionFiles(request, manifest, [base, ...installed.filter((entry) => entry.name !== base.name || entry.version !== base.version)]);
  if (patch.sizeBytes > request.reservedBytes) throw new PatchPathUnavailable(`the patch (${patch.sizeBytes} bytes) is larger than the room reserved for the package and its extraction (${request.reservedBytes} bytes)`);
  const partialBefore = await partialSize(request.patchPartialPath);
  const downloaded = await downloadToFile({
    url: patch.url,
    partialPath: request.patchPartialPath,
    expectedSizeBytes: patch.sizeBytes,
    // The caller reserves the room of the whole patch path (the patch, the package, its extraction).
    roomReservedByCaller: true,
    ...guardsOf(request),
    ...(request.maxBytesPerSecond ? { maxBytesPerSecond: request.maxBytesPerSecond } : {}),
    ...(request.onProgress ? { onProgress: request.onProgress } : {}),
  }).catch(async (error: unknown) => {
    // The bytes an interrupted attempt kept crossed the wire: counted now, since the attempt that resumes from them does not.
    request.meter.bytes += Math.max(0, (await partialSize(request.patchPartialPath)) - partialBefore);
    // The patch blob is one of several ways to the package: its permanent answers (gone, refused, the wrong size, a
    // redirect the loader does not follow) send the update to the full package; an interrupted transfer is retried.
    const refusal = patchBlobRefusal(error, patch);
    if (refusal === undefined) throw error;
    await discardPartial(request.patchPartialPath);
    throw new PatchPathUnavailable(refusal);
  });
  request.meter.bytes += downloaded.transferredBytes;
  const patchBytes = await readFile(request.patchPartialPath);
  await discardPartial(request.patchPartialPath);
  if (downloaded.sha256 !== patch.sha256) throw new PatchPathUnavailable(`the patch's sha256 is ${downloaded.sha256}, the manifest says ${patch.sha256}`);
  const baseModel = await readFile(path.join(request.repository.versionDirectory(base.name, base.version), base.modelFile));
  let model: Uint8Array;
  try {
    // The file it writes must be the manifest's model: a header claiming another size is refused before any allocation.
    model = applyPatch(baseModel, patchBytes, { expectedSizeBytes: manifest.model.sizeBytes });
  } catch (error) {
    throw new PatchPathUnavailable(error instanceof PatchError ? error.message : `the patch does not apply: ${String(error)}`);
  }
  await writeAssembledPackage(request, manifest, model, companions);
  request.logger.info({ from: `${base.name}@${base.version}`, patchBytes: patchBytes.length }, 'model.patch.applied');
  return { path: 'patch', bytesFetched: downloaded.transferredBytes + manifestBytes, bytesReused: Math.max(0, model.length - patchBytes.length), fromVersion: `${base.name}@${base.version}` };
}
