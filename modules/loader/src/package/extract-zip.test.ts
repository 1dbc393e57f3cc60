import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yazl from 'yazl';
import { mountTmpfs, tmpfsUnavailableReason, unmountTmpfs } from '@edge-ml/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskFullError, InvalidPackageError } from '../errors.js';
import { buildZip, finishZip, type ZipEntry } from './build-zip.js';
import { extractZip, unsafeEntryReason } from './extract-zip.js';
import type { PackageLimits } from './package-limits.js';

const LIMITS: PackageLimits = { maxEntries: 8, maxEntryBytes: 4 * 1024 * 1024, maxTotalBytes: 6 * 1024 * 1024, maxCompressionRatio: 100 };
const MIB = 1024 * 1024;

let work: string;
let destination: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'extract-zip-'));
  destination = path.join(work, 'out');
  await mkdir(destination);
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function zipFile(zip: Buffer): Promise<string> {
  const file = path.join(work, 'package.zip');
  await writeFile(file, zip);
  return file;
}

async function extract(zip: Buffer, limits: PackageLimits = LIMITS, signal?: AbortSignal): Promise<string[]> {
  return extractZip(await zipFile(zip), destination, limits, signal);
}

/** The error extraction fails with, after checking that it wrote nothing when `nothingWritten` says so. */
async function refusal(zip: Buffer, limits: PackageLimits = LIMITS): Promise<unknown> {
  const error = await extract(zip, limits).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, 'extraction should have been refused').toBeDefined();
  return error;
}

async function expectInvalidAndNothingWritten(zip: Buffer, limits: PackageLimits = LIMITS): Promise<void> {
  const error = await refusal(zip, limits);
  expect(error).toBeInstanceOf(InvalidPackageError);
  expect((error as InvalidPackageError).code).toBe('LOADER_PACKAGE_INVALID');
  expect(await readdir(destination)).toEqual([]);
}

/** yazl refuses hostile names: write a harmless name of the same length and patch it in place. */
function rename(zip: Buffer, from: string, to: string): Buffer {
  const patched = Buffer.from(zip);
  for (let index = patched.indexOf(from); index >= 0; index = patched.indexOf(from, index + 1)) patched.write(to, index, 'latin1');
  return patched;
}

/** Rewrites every little-endian 32-bit occurrence of `from` (the size fields of both headers) as `to`. */
function rewriteUInt32(zip: Buffer, from: number, to: number): Buffer {
  const patched = Buffer.from(zip);
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(from);
  let count = 0;
  for (let index = patched.indexOf(needle); index >= 0; index = patched.indexOf(needle, index + 4)) {
    patched.writeUInt32LE(to, index);
    count += 1;
  }
  expect(count).toBeGreaterThanOrEqual(2);
  return patched;
}

/** Sets the external attributes of every central-directory entry to `attributes` (0: a zip written without Unix modes). */
function setExternalAttributes(zip: Buffer, attributes: number): Buffer {
  const patched = Buffer.from(zip);
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let index = patched.indexOf(signature); index >= 0; index = patched.indexOf(signature, index + 4)) patched.writeUInt32LE(attributes, index + 38);
  return patched;
}

function zipWithDirectories(entries: Array<ZipEntry | { directory: string }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    if ('directory' in entry) zip.addEmptyDirectory(entry.directory, { mtime: new Date(0) });
    else zip.addBuffer(entry.data, entry.name, { compress: entry.compress ?? false, mtime: new Date(0) });
  }
  return finishZip(zip);
}

const text = (value: string) => Buffer.from(value);

describe('unsafeEntryReason', () => {
  it.each(['model.onnx', 'a/b/c.txt', 'a..b', '..hidden', 'dir/...', 'x/C:y', '1:x', 'dir/'])('accepts the plain relative path %j', (name) => {
    expect(unsafeEntryReason(name)).toBeUndefined();
  });
  it.each(['a\0b', 'a\\b', '/etc/passwd', 'C:evil', 'z:evil', '..', '../x', 'a/../../x', 'a/..'])('refuses %j', (name) => {
    // Callers test the reason for truth: an empty reason would let the name through.
    expect(unsafeEntryReason(name)).toBeTruthy();
  });
});

describe('extractZip', () => {
  it('writes every file under the destination, nested folders included, and returns their names in order', async () => {
    const zip = await zipWithDirectories([{ directory: 'models/' }, { name: 'models/a.bin', data: text('alpha') }, { name: 'labels.txt', data: text('person\n'), compress: true }, { name: 'deep/er/c.txt', data: text('') }]);
    expect(await extract(zip)).toEqual(['models/a.bin', 'labels.txt', 'deep/er/c.txt']);
    expect(await readFile(path.join(destination, 'models/a.bin'), 'utf8')).toBe('alpha');
    expect(await readFile(path.join(destination, 'labels.txt'), 'utf8')).toBe('person\n');
    expect(await readFile(path.join(destination, 'deep/er/c.txt'), 'utf8')).toBe('');
  });

  it('accepts entries written without Unix modes (external attributes 0), as zips from Windows tools are', async () => {
    const zip = setExternalAttributes(await buildZip([{ name: 'a.bin', data: text('a') }]), 0);
    expect(await extract(zip)).toEqual(['a.bin']);
  });

  it('refuses a file that is not a zip archive', async () => {
    await expectInvalidAndNothingWritten(text('PK but not really a zip archive'));
  });

  it('refuses a name with a NUL byte', async () => {
    await expectInvalidAndNothingWritten(rename(await buildZip([{ name: 'aXb.txt', data: text('x') }]), 'aXb.txt', 'a\0b.txt'));
  });

  it('checks every name before it writes the first byte: a NUL in the last entry leaves the destination empty', async () => {
    const zip = rename(await buildZip([{ name: 'first.txt', data: text('fine') }, { name: 'aXb.txt', data: text('x') }]), 'aXb.txt', 'a\0b.txt');
    await expectInvalidAndNothingWritten(zip);
  });

  it('refuses a name with a backslash rather than reading it as a folder separator', async () => {
    await expectInvalidAndNothingWritten(rename(await buildZip([{ name: 'a/b.txt', data: text('x') }]), 'a/b.txt', 'a\\b.txt'));
  });

  it.each([
    ['"..', 'aa/evil.txt', '../evil.txt'],
    ['an absolute path', 'Aetc/x.txt', '/etc/x.txt'],
    ['a drive letter', 'Cxevil.txt', 'C:evil.txt'],
  ])('refuses %s and writes nothing outside (or inside) the destination', async (_what, from, to) => {
    await expectInvalidAndNothingWritten(rename(await buildZip([{ name: 'ok.txt', data: text('ok') }, { name: from, data: text('x') }]), from, to));
    expect(await readdir(work)).toEqual(['out', 'package.zip']);
  });

  it('refuses a symbolic link, even one named like a folder', async () => {
    await expectInvalidAndNothingWritten(await buildZip([{ name: 'link', data: text('/etc/passwd'), mode: 0o120777 }]));
    await expectInvalidAndNothingWritten(setExternalAttributes(await zipWithDirectories([{ directory: 'dir/' }]), (0o120777 << 16) >>> 0));
  });

  it('refuses entries that are neither regular files nor folders', async () => {
    await expectInvalidAndNothingWritten(await buildZip([{ name: 'fifo', data: text(''), mode: 0o010644 }]));
    await expectInvalidAndNothingWritten(await buildZip([{ name: 'device', data: text(''), mode: 0o060644 }]));
  });

  it('allows exactly maxEntries entries and refuses one more', async () => {
    const entries = (count: number) => Array.from({ length: count }, (_, index) => ({ name: `f${index}.txt`, data: text('x') }));
    expect(await extract(await buildZip(entries(LIMITS.maxEntries)))).toHaveLength(LIMITS.maxEntries);
    await rm(destination, { recursive: true });
    await mkdir(destination);
    await expectInvalidAndNothingWritten(await buildZip(entries(LIMITS.maxEntries + 1)));
  });

  it('allows an entry of exactly maxEntryBytes and refuses one byte more', async () => {
    const limits = { ...LIMITS, maxEntryBytes: 1000 };
    expect(await extract(await buildZip([{ name: 'a.bin', data: Buffer.alloc(1000, 1) }]), limits)).toEqual(['a.bin']);
    await rm(destination, { recursive: true });
    await mkdir(destination);
    await expectInvalidAndNothingWritten(await buildZip([{ name: 'a.bin', data: Buffer.alloc(1001, 1) }]), limits);
  });

  it('adds up the sizes of all entries: allows exactly maxTotalBytes and refuses one byte more', async () => {
    const limits = { ...LIMITS, maxTotalBytes: 1500 };
    const entries = (last: number) => [
      { name: 'a.bin', data: Buffer.alloc(700, 1) },
      { name: 'b.bin', data: Buffer.alloc(last, 2) },
    ];
    expect(await extract(await buildZip(entries(800)), limits)).toEqual(['a.bin', 'b.bin']);
    await rm(destination, { recursive: true });
    await mkdir(destination);
    await expectInvalidAndNothingWritten(await buildZip(entries(801)), limits);
  });

  it('does not count folders against the total', async () => {
    const limits = { ...LIMITS, maxTotalBytes: 10 };
    expect(await extract(await zipWithDirectories([{ directory: 'a/' }, { directory: 'b/' }, { name: 'a/x.bin', data: Buffer.alloc(10, 1) }]), limits)).toEqual(['a/x.bin']);
  });

  it('refuses a highly compressed entry above 1 MiB, and lets the same ratio pass at 1 MiB or with a higher limit', async () => {
    const zeros = (bytes: number) => buildZip([{ name: 'zeros.bin', data: Buffer.alloc(bytes), compress: true }]);
    await expectInvalidAndNothingWritten(await zeros(MIB + 1));
    expect(await extract(await zeros(MIB))).toEqual(['zeros.bin']);
    await rm(destination, { recursive: true });
    await mkdir(destination);
    expect(await extract(await zeros(2 * MIB), { ...LIMITS, maxCompressionRatio: 5000 })).toEqual(['zeros.bin']);
  });

  it('lets an entry through at exactly the ratio limit', async () => {
    const zip = await buildZip([{ name: 'zeros.bin', data: Buffer.alloc(2 * MIB), compress: true }]);
    // The local header holds the compressed size at offset 18 and the uncompressed size at 22.
    const ratio = zip.readUInt32LE(22) / zip.readUInt32LE(18);
    expect(await extract(zip, { ...LIMITS, maxCompressionRatio: ratio })).toEqual(['zeros.bin']);
  });

  it('lets a compressible entry above 1 MiB pass when its ratio is within the limit', async () => {
    const data = Buffer.alloc(2 * MIB);
    let state = 1;
    for (let index = 0; index < data.length; index += 1) {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      data[index] = state >>> 24;
    }
    expect(await extract(await buildZip([{ name: 'weights.bin', data, compress: true }]), { ...LIMITS, maxCompressionRatio: 3 })).toEqual(['weights.bin']);
  });

  it('refuses an entry that inflates beyond the size its headers claim, and keeps nothing of it', async () => {
    const zip = rewriteUInt32(await buildZip([{ name: 'a.bin', data: Buffer.alloc(5000, 'abc'), compress: true }]), 5000, 4999);
    const error = await refusal(zip);
    expect(error).toBeInstanceOf(InvalidPackageError);
  });

  it('refuses an entry that inflates to fewer bytes than its headers claim', async () => {
    const zip = rewriteUInt32(await buildZip([{ name: 'a.bin', data: Buffer.alloc(5000, 'abc'), compress: true }]), 5000, 5001);
    expect(await refusal(zip)).toBeInstanceOf(InvalidPackageError);
  });

  it('refuses two entries with the same name rather than letting the second overwrite the first', async () => {
    const zip = await buildZip([
      { name: 'model.onnx', data: text('checked') },
      { name: 'model.onnx', data: text('swapped') },
    ]);
    expect(await refusal(zip)).toBeInstanceOf(InvalidPackageError);
  });

  it('never writes over a file already at the destination', async () => {
    await writeFile(path.join(destination, 'a.bin'), 'existing');
    expect(await refusal(await buildZip([{ name: 'a.bin', data: text('new') }]))).toBeInstanceOf(InvalidPackageError);
    expect(await readFile(path.join(destination, 'a.bin'), 'utf8')).toBe('existing');
  });

  it('stops with the abort reason, not an invalid package, when aborted before the first entry', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    controller.abort(reason);
    const error = await extract(await buildZip([{ name: 'a.bin', data: text('a') }]), LIMITS, controller.signal).catch((caught: unknown) => caught);
    expect(error).toBe(reason);
    expect(await readdir(destination)).toEqual([]);
  });

  it('stops with the abort reason when aborted between entries', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const zip = await buildZip(Array.from({ length: 4 }, (_, index) => ({ name: `f${index}.bin`, data: Buffer.alloc(64 * 1024, index) })));
    const watcher = setInterval(() => {
      readdir(destination).then((names) => names.length > 0 && controller.abort(reason), () => undefined);
    }, 0);
    try {
      const error = await extract(zip, LIMITS, controller.signal).then(
        () => 'finished',
        (caught: unknown) => caught,
      );
      // The abort may come too late on a fast disk; when it lands, it is an abort, never an invalid package.
      if (error !== 'finished') {
        expect(error).not.toBeInstanceOf(InvalidPackageError);
        expect(error === reason || (error as Error).name === 'AbortError').toBe(true);
      }
    } finally {
      clearInterval(watcher);
    }
  });

  it('extracts without a signal', async () => {
    expect(await extractZip(await zipFile(await buildZip([{ name: 'a.bin', data: text('a') }])), destination, LIMITS)).toEqual(['a.bin']);
    expect((await stat(path.join(destination, 'a.bin'))).size).toBe(1);
  });
});

describe.runIf(existsSync('/proc/self/fd'))('extractZip and file descriptors', () => {
  it('closes the archive whether it extracts or refuses', async () => {
    const good = await buildZip([{ name: 'a.bin', data: text('a') }]);
    const bad = await buildZip(Array.from({ length: LIMITS.maxEntries + 1 }, (_, index) => ({ name: `f${index}`, data: text('x') })));
    /** Descriptors of this process still open on a file under the test's folder. */
    const openHere = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(work);
        } catch {
          return false;
        }
      });
    await extract(good);
    await extract(bad).catch(() => undefined);
    expect(openHere()).toEqual([]);
  });
});

describe.runIf((await tmpfsUnavailableReason()) === undefined)('extractZip on a full disk', () => {
  let mountPoint: string;
  beforeEach(async () => {
    mountPoint = await mountTmpfs('extract-tmpfs-', 64 * 1024);
  });
  afterEach(async () => {
    await unmountTmpfs(mountPoint);
  });

  it('refuses before writing anything when the inflated total does not fit (retryable DiskFullError)', async () => {
    const zip = await buildZip([{ name: 'big.bin', data: Buffer.alloc(256 * 1024, 3) }]);
    const error = await extractZip(await zipFile(zip), mountPoint, LIMITS).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DiskFullError);
    expect(await readdir(mountPoint)).toEqual([]);
  });

  it('turns ENOSPC in the middle of extraction into a DiskFullError, not an invalid package', async () => {
    // Each one-byte file takes a whole page of the 64 KiB tmpfs, so the free-space check passes and the writes run out.
    const zip = await buildZip(Array.from({ length: 40 }, (_, index) => ({ name: `d${index}/f.bin`, data: text('x') })));
    const error = await extractZip(await zipFile(zip), mountPoint, { ...LIMITS, maxEntries: 64 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DiskFullError);
  });
});
