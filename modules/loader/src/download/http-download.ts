import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'got';
import { PartialDownloadRecordSchema, type PartialDownloadRecord } from '@edge-ml/contracts';
import { writeJsonAtomic } from '@edge-ml/edge-kit';
import { AccessDeniedError, InvalidPackageError, LoaderError, NotFoundError, RedirectRefusedError, SizeMismatchError, TransferError, UndeclaredSizeOutgrewRoomError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { diskFullFrom, isNoSpaceError } from '../storage/disk-space.js';
import { spaceLedger, type SpaceReservation } from '../storage/space-ledger.js';
import { reserveDownloadRoom } from './download-room.js';
import { openGuardedGet, type TransferGuards } from './guarded-get.js';
import { DEFAULT_STALL_RULE, stallRuleUnderCap } from './stall-rule.js';
import { Throttle } from './throttle.js';

/** `idleTimeoutMs` and `stallRule` fail a silent or trickling attempt (TransferError), which then resumes. */
export interface DownloadRequest extends TransferGuards {
  url: string;
  /** Where the bytes accumulate; `<partialPath>.json` remembers what they belong to, across restarts. */
  partialPath: string;
  expectedSizeBytes?: number;
  /** The most a body may bring when neither `expectedSizeBytes` nor Content-Length declares a size. */
  maxSizeBytes?: number;
  /** Free space to leave beyond the download itself (room to extract it). */
  reserveFactor?: number;
  /**
   * The caller holds a reservation (see storage/space-ledger.ts) that covers this download: no check of its own.
   * Otherwise the download reserves its remaining bytes times `reserveFactor` before the first byte, and releases them
   * when it ends, so that concurrent downloads never count the same free bytes.
   */
  roomReservedByCaller?: boolean;
  maxBytesPerSecond?: number;
  onProgress?: (bytesDownloaded: number, bytesTotal: number | undefined) => void;
}

export interface DownloadResult {
  sizeBytes: number;
  sha256: string;
  md5: string;
  etag: string | undefined;
  /** Bytes this call transferred over the network (resumed bytes excluded). */
  transferredBytes: number;
  resumedFromBytes: number;
}

type PartialState = PartialDownloadRecord;

const resourceOf = (url: string) => url.split('?')[0] ?? url;

class HashingCounter extends Transform {
  bytes = 0;
  /** `allowedBytes`: a chunk that would take the count past it fails the pipeline with `tooLong()` before it is written. */
  constructor(
    private readonly hashes: Hash[],
    private readonly onBytes: (total: number) => void,
    private readonly allowedBytes = Number.POSITIVE_INFINITY,
    private readonly tooLong: () => Error = () => new Error('the body is too long'),
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.bytes + chunk.length > this.allowedBytes) return done(this.tooLong());
    for (const hash of this.hashes) hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes(this.bytes);
    failpoint('download.chunk');
    done(null, chunk);
  }
}

/** The record of a partial download; a missing, torn or foreign one means the bytes cannot be trusted to resume. */
async function readPartialState(partialPath: string): Promise<PartialState | undefined> {
  try {
    const parsed = PartialDownloadRecordSchema.safeParse(JSON.parse(await readFile(`${partialPath}.json`, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function sizeOf(filePath: string): Promise<number> {
  return (await stat(filePath).catch(() => undefined))?.size ?? 0;
}

/** Deletes a partial download and its state. */
export async function discardPartial(partialPath: string): Promise<void> {
  await rm(partialPath, { force: true });
  await rm(`${partialPath}.json`, { force: true });
}

function totalFromResponse(response: Response, offset: number): number | undefined {
  const range = response.headers['content-range'];
  const match = typeof range === 'string' ? /\/(\d+)$/.exec(range) : null;
  if (match?.[1]) return Number(match[1]);
  const length = Number(response.headers['content-length']);
  return Number.isFinite(length) && response.headers['content-length'] !== undefined ? offset + length : undefined;
}

/**
 * Where a body must stop: at the desired size, else at Content-Length (both "declared"), else at `maxSizeBytes`.
 * Passing it fails the download with the error `error()` builds.
 */
function bodyLimit(request: DownloadRequest, totalBytes: number | undefined, room: { bytes: number; freeBytes: number }): { bytes: number; declared: boolean; error: () => LoaderError } {
  const { expectedSizeBytes, maxSizeBytes } = request;
  if (expectedSizeBytes !== undefined) return { bytes: expectedSizeBytes, declared: true, error: () => new SizeMismatchError(expectedSizeBytes, 'more') };
  if (totalBytes !== undefined) return { bytes: totalBytes, declared: true, error: () => new SizeMismatchError(totalBytes, 'more', 'Content-Length') };
  // Undeclared: whichever comes first, the most a package may be or the room on the disk (never filled to the last byte).
  if (maxSizeBytes !== undefined && maxSizeBytes <= room.bytes) return { bytes: maxSizeBytes, declared: false, error: () => new InvalidPackageError(`it is larger than ${maxSizeBytes} bytes, the most a package may be`) };
  return { bytes: room.bytes, declared: false, error: () => new UndeclaredSizeOutgrewRoomError(room.bytes, room.freeBytes) };
}

/** Feeds a file (or its first `endExclusive` bytes) to the hashes; returns how many bytes it read. */
async function hashFileInto(filePath: string, hashes: Hash[], endExclusive?: number): Promise<number> {
  let bytes = 0;
  for await (const chunk of createReadStream(filePath, endExclusive === undefined ? {} : { end: endExclusive - 1 })) {
    for (const hash of hashes) hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return bytes;
}

/** A partial that already holds every byte (the process stopped before using it): hash it, fetch nothing. */
async function hashCompleteFile(partialPath: string, etag: string | undefined): Promise<DownloadResult> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const sizeBytes = await hashFileInto(partialPath, [sha256, md5]);
  return { sizeBytes, sha256: sha256.digest('hex'), md5: md5.digest('hex'), etag, transferredBytes: 0, resumedFromBytes: sizeBytes };
}

/** The reservation one attempt holds (none when the caller holds one); bytes written stop being claimed. */
class DownloadRoom {
  private reservation: SpaceReservation | undefined;
  private counted = 0;
  constructor(private readonly request: DownloadRequest) {}

  /** Reserves room for `remainingBytes` more after `heldBytes` already in the partial; DiskFullError when they do not fit. */
  async reserve(heldBytes: number, remainingBytes: number): Promise<void> {
    if (this.request.roomReservedByCaller) return;
    this.release();
    this.reservation = await reserveDownloadRoom(this.request.partialPath, heldBytes, remainingBytes, this.request.reserveFactor ?? 1, () => discardPartial(this.request.partialPath));
  }

  /**
   * For a body of undeclared size: reserves the unclaimed free space, up to what `maxSizeBytes` needs with its
   * extraction; returns the bytes granted (what the body may take is then that divided by the reserve factor).
   */
  async reserveUnclaimed(heldBytes: number): Promise<number> {
    const directory = path.dirname(this.request.partialPath);
    const { maxSizeBytes, reserveFactor = 1 } = this.request;
    const most = maxSizeBytes === undefined ? Number.POSITIVE_INFINITY : Math.max(0, maxSizeBytes - heldBytes) * reserveFactor;
    if (this.request.roomReservedByCaller) return Math.min(most, await spaceLedger.unclaimedBytes(directory));
    this.release();
    const { reservation, grantedBytes } = await spaceLedger.reserveUpTo(directory, most, this.request.partialPath);
    this.reservation = reservation;
    return grantedBytes;
  }

  /** `written` bytes of this attempt are on disk now. */
  wrote(written: number): void {
    this.reservation?.consume(written - this.counted);
    this.counted = written;
  }

  release(): void {
    this.reservation?.release();
    this.reservation = undefined;
    this.counted = 0;
  }
}

/**
 * One download attempt. The body streams to `partialPath` (never held in memory) while SHA-256 and MD5 are computed.
 * Bytes already there from an interrupted attempt, even one before a restart, are kept and resumed with an HTTP Range
 * request guarded by If-Match on the blob's ETag; a blob that changed meanwhile starts over from byte 0.
 * Throws a TransferError (retryable, partial kept) on a dropped, truncated, silent or stalled transfer (a
 * DownloadStalledError for a body under the stall rule), and a RedirectRefusedError (not retryable) for a redirect that
 * redirect-policy.ts refuses.
 */
export async function downloadToFile(request: DownloadRequest): Promise<DownloadResult> {
  const room = new DownloadRoom(request);
  try {
    return await downloadAttempt(request, room);
  } finally {
    room.release();
  }
}

async function downloadAttempt(request: DownloadRequest, room: DownloadRoom): Promise<DownloadResult> {
  const resource = resourceOf(request.url);
  const previous = await readPartialState(request.partialPath);
  let offset = await sizeOf(request.partialPath);
  if (!previous || previous.resource !== resource || !previous.etag) {
    await discardPartial(request.partialPath);
    offset = 0;
  }
  if (request.expectedSizeBytes !== undefined) {
    if (offset > request.expectedSizeBytes) {
      await discardPartial(request.partialPath);
      offset = 0;
    }
    await room.reserve(offset, request.expectedSizeBytes - offset);
  }

  if (offset > 0 && previous?.totalBytes === offset) return hashCompleteFile(request.partialPath, previous.etag);

  // The blob as stored: its bytes are what is hashed and counted.
  const headers: Record<string, string> = { 'x-ms-version': '2021-08-06', 'accept-encoding': 'identity' };
  if (offset > 0 && previous?.etag) {
    headers.range = `bytes=${offset}-`;
    headers['if-match'] = previous.etag;
  }
  const { stream, response, body } = await openGuardedGet(request.url, {
    headers,
    decompress: false,
    ...(request.idleTimeoutMs !== undefined ? { idleTimeoutMs: request.idleTimeoutMs } : {}),
    stallRule: stallRuleUnderCap(request.stallRule ?? DEFAULT_STALL_RULE, request.maxBytesPerSecond),
    ...(request.signal ? { signal: request.signal } : {}),
  }).catch((error: unknown) => {
    if (error instanceof RedirectRefusedError) throw error;
    throw new TransferError(error instanceof Error ? error.message : String(error), { cause: error });
  });

  if (response.statusCode === 403 || response.statusCode === 401) {
    stream.destroy();
    throw new AccessDeniedError(response.statusCode);
  }
  if (response.statusCode === 404) {
    stream.destroy();
    throw new NotFoundError();
  }
  if (response.statusCode === 412 || response.statusCode === 416) {
    // The blob changed since the partial bytes were written (or they already cover it): start over.
    stream.destroy();
    await discardPartial(request.partialPath);
    room.release();
    return downloadAttempt(request, room);
  }
  if (response.statusCode !== 200 && response.statusCode !== 206) {
    stream.destroy();
    throw new TransferError(`HTTP ${response.statusCode}`);
  }
  if (response.statusCode === 200 && offset > 0) {
    // The server ignored the range: the body is the whole blob.
    await truncate(request.partialPath, 0);
    offset = 0;
    if (request.expectedSizeBytes !== undefined) {
      await room.reserve(0, request.expectedSizeBytes).catch((error: unknown) => {
        stream.destroy();
        throw error;
      });
    }
  }
  const etag = typeof response.headers.etag === 'string' ? response.headers.etag : undefined;
  const totalBytes = totalFromResponse(response, offset);
  if (request.expectedSizeBytes !== undefined && totalBytes !== undefined && totalBytes !== request.expectedSizeBytes) {
    stream.destroy();
    throw new SizeMismatchError(request.expectedSizeBytes, totalBytes);
  }
  if (request.expectedSizeBytes === undefined && totalBytes !== undefined) {
    // Content-Length is the first size known: check the room for it before the first byte is written.
    await room.reserve(offset, totalBytes - offset).catch((error: unknown) => {
      stream.destroy();
      throw error;
    });
  }
  // Undeclared size: the room the body may take is reserved as a whole, the most it may grow to.
  const freeBytes = request.expectedSizeBytes === undefined && totalBytes === undefined ? await room.reserveUnclaimed(offset) : 0;
  const limit = bodyLimit(request, totalBytes, { bytes: offset + Math.floor(freeBytes / (request.reserveFactor ?? 1)), freeBytes });
  await writeJsonAtomic(`${request.partialPath}.json`, { resource, ...(etag ? { etag } : {}), ...(totalBytes !== undefined ? { totalBytes } : {}) } satisfies PartialState);

  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  if (offset > 0) await hashFileInto(request.partialPath, [sha256, md5], offset);
  const counter = new HashingCounter(
    [sha256, md5],
    (bytes) => {
      room.wrote(bytes);
      request.onProgress?.(offset + bytes, totalBytes);
    },
    limit.bytes - offset,
    () => limit.error(),
  );
  const output = createWriteStream(request.partialPath, { flags: offset > 0 ? 'a' : 'w' });
  // A failing source must not destroy the file stream: every byte that arrived is written and kept for resuming.
  let sourceError: unknown;
  const source = async function* () {
    try {
      for await (const chunk of body) yield chunk;
    } catch (error) {
      sourceError = error;
    }
  };
  try {
    if (request.maxBytesPerSecond) await pipeline(source, new Throttle(request.maxBytesPerSecond), counter, output);
    else await pipeline(source, counter, output);
  } catch (error) {
    sourceError ??= error;
  }
  if (sourceError !== undefined) {
    if (request.signal?.aborted) throw request.signal.reason;
    // A dropped or stalled link: the bytes that arrived are kept, and the next attempt resumes after them.
    if (sourceError instanceof TransferError) throw sourceError;
    if (sourceError instanceof LoaderError) {
      await discardPartial(request.partialPath);
      throw sourceError;
    }
    if (isNoSpaceError(sourceError)) {
      // Without a declared size nothing says the rest will ever fit: the bytes go, so that the space comes back.
      if (!limit.declared) await discardPartial(request.partialPath);
      throw await diskFullFrom(sourceError, path.dirname(request.partialPath));
    }
    throw new TransferError(sourceError instanceof Error ? sourceError.message : String(sourceError), { cause: sourceError });
  }
  const sizeBytes = offset + counter.bytes;
  if (totalBytes !== undefined && sizeBytes < totalBytes) throw new TransferError(`the body ended at ${sizeBytes} of ${totalBytes} bytes`);
  if (totalBytes !== undefined && sizeBytes > totalBytes) {
    await discardPartial(request.partialPath);
    throw new TransferError(`the body ran past its length (${sizeBytes} of ${totalBytes} bytes)`);
  }
  return { sizeBytes, sha256: sha256.digest('hex'), md5: md5.digest('hex'), etag, transferredBytes: counter.bytes, resumedFromBytes: offset };
}
