import { execFile } from 'node:child_process';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Why a small tmpfs cannot be mounted here (not root, or a kernel or container that forbids it), or undefined when it
 * can: tests of a full disk run on a real tmpfs and skip, saying why, where there is none.
 */
export async function tmpfsUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const probe = await mkdtemp(path.join(tmpdir(), 'tmpfs-probe-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
    await run('umount', [probe]);
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error)}`;
  } finally {
    await rmdir(probe).catch(() => undefined);
  }
}

/** Mounts a fresh tmpfs of `bytes` under a new temporary folder named after `prefix`; returns its path. */
export async function mountTmpfs(prefix: string, bytes: number): Promise<string> {
  const mountPoint = await mkdtemp(path.join(tmpdir(), prefix));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', mountPoint]);
  return mountPoint;
}

/** Unmounts a tmpfs from mountTmpfs and removes its folder. */
export async function unmountTmpfs(mountPoint: string): Promise<void> {
  await run('umount', [mountPoint]);
  await rmdir(mountPoint);
}
