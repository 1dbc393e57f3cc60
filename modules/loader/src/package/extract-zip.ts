import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { InvalidPackageError, LoaderError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { diskFullFrom, isNoSpaceError } from '../storage/disk-space.js';
import { spaceLedger, type SpaceReservation } from '../storage/space-ledger.js';
import type { PackageLimits } from './package-limits.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;

/** Why an entry name is unsafe, or undefined when it is a plain relative path. */
export function unsafeEntryReason(name: string): string | undefined {
  if (name.includes('\0')) return 'contains NUL';
  if (name.includes('\\')) return 'uses backslashes';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is an absolute path';
  if (name.split('/').some((segment) => segment === '..')) return 'climbs out with ".."';
  return undefined;
}

function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true }, (error, zip) =>
      // Stryker disable next-line LogicalOperator: equivalent, yauzl answers with an error or a zip, never both or neither.
      error || !zip ? reject(new InvalidPackageError(`not a readable zip archive (${error?.message ?? 'unknown error'})`)) : resolve(zip),
    ),
  );
}

/** Closes the archive and resolves once its file descriptor is closed (yauzl closes it asynchronously, then emits close). */
function closeZip(zip: yauzl.ZipFile): Promise<void> {
  return new Promise((resolve) => {
    zip.once('close', () => resolve());
    zip.once('error', () => resolve());
    zip.close();
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, a stream that is not there fails the pipeline, which ends as the same InvalidPackageError.
  return new Promise((resolve, reject) => zip.openReadStream(entry, (error, stream) => (error || !stream ? reject(error) : resolve(stream))));
}

/** Reads the central directory, passing each entry to `check` (which throws to refuse it), without inflating anything. */
function readEntries(zip: yauzl.ZipFile, check: (entry: yauzl.Entry) => void): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('error', reject);
    zip.on('end', () => resolve(entries));
    zip.on('entry', (entry: yauzl.Entry) => {
      try {
        check(entry);
        entries.push(entry);
        zip.readEntry();
      } catch (error) {
        reject(error);
      }
    });
    zip.readEntry();
  });
}

/** Counts bytes as they pass and fails as soon as the entry outgrows its limit, whatever its header claimed. */
class ByteLimit extends Transform {
  seen = 0;
  constructor(private readonly limit: number, private readonly entryName: string) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    // Stryker disable next-line AssignmentOperator,ConditionalExpression,EqualityOperator: equivalent while yauzl's validateEntrySizes is on (it fails the same entry); this is the second guard.
    this.seen += chunk.length;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: as above.
    if (this.seen > this.limit) return done(new InvalidPackageError(`entry "${this.entryName}" inflates beyond ${this.limit} bytes`));
    done(null, chunk);
  }
}

/** Throws an InvalidPackageError when one entry of the central directory breaks a rule; adds its size to `total`. */
function checkEntry(entry: yauzl.Entry, limits: PackageLimits, total: { bytes: number }): void {
  const name = entry.fileName;
  const unsafe = unsafeEntryReason(name);
  if (unsafe) throw new InvalidPackageError(`entry "${name}" ${unsafe}`);
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (mode === S_IFLNK) throw new InvalidPackageError(`entry "${name}" is a symbolic link`);
  if (name.endsWith('/')) return;
  if (mode !== 0 && mode !== S_IFREG) throw new InvalidPackageError(`entry "${name}" is not a regular file`);
  if (entry.uncompressedSize > limits.maxEntryBytes) throw new InvalidPackageError(`entry "${name}" is ${entry.uncompressedSize} bytes; the limit is ${limits.maxEntryBytes}`);
  total.bytes += entry.uncompressedSize;
  if (total.bytes > limits.maxTotalBytes) throw new InvalidPackageError(`it inflates to more than ${limits.maxTotalBytes} bytes`);
  const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
  if (entry.uncompressedSize > 1024 * 1024 && ratio > limits.maxCompressionRatio) {
    throw new InvalidPackageError(`entry "${name}" is compressed ${Math.round(ratio)}:1, beyond the ${limits.maxCompressionRatio}:1 limit (a zip bomb?)`);
  }
}

/**
 * Extracts a zip into `destination`, flattening nothing: entry paths are kept, after checks that reject absolute paths,
 * "..", symlinks, too many entries, too large entries and compression ratios typical of zip bombs. Every entry is
 * checked, and the free space for the inflated total, before the first byte is written: that space is reserved (see
 * storage/space-ledger.ts) until the extraction ends, so that concurrent downloads and extractions count it. Returns
 * the files written, relative to `destination`. Running out of space is a DiskFullError (retryable), never an invalid
 * package.
 */
export async function extractZip(zipPath: string, destination: string, limits: PackageLimits, signal?: AbortSignal): Promise<string[]> {
  const zip = await openZip(zipPath);
  let room: SpaceReservation | undefined;
  try {
    if (zip.entryCount > limits.maxEntries) throw new InvalidPackageError(`it has ${zip.entryCount} entries; at most ${limits.maxEntries} are allowed`);
    const total = { bytes: 0 };
    const entries = await readEntries(zip, (entry) => checkEntry(entry, limits, total));
    room = await spaceLedger.reserve(destination, total.bytes, destination);
    const written: string[] = [];
    for (const entry of entries) {
      signal?.throwIfAborted();
      const name = entry.fileName;
      if (name.endsWith('/')) continue;
      const target = path.join(destination, name);
      await mkdir(path.dirname(target), { recursive: true });
      const limiter = new ByteLimit(entry.uncompressedSize, name);
      await pipeline(await openEntry(zip, entry), limiter, createWriteStream(target, { flags: 'wx' }), signal ? { signal } : {});
      written.push(name);
      room.consume(entry.uncompressedSize);
      // Stryker disable next-line StringLiteral: the failpoint's name matters to test/crash.test.ts only, outside this group.
      failpoint('extract.entry');
    }
    return written;
  } catch (error) {
    if (signal?.aborted) throw error;
    if (error instanceof LoaderError) throw error;
    if (isNoSpaceError(error)) throw await diskFullFrom(error, destination);
    throw new InvalidPackageError(error instanceof Error ? error.message : String(error));
  } finally {
    room?.release();
    await closeZip(zip);
  }
}
