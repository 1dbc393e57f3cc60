import { statfs } from 'node:fs/promises';
import { DiskFullError } from '../errors.js';

/** Bytes an unprivileged writer may still use on the file system that holds `directory`. */
export async function freeBytesOf(directory: string): Promise<number> {
  const stats = await statfs(directory);
  return Number(stats.bavail) * Number(stats.bsize);
}

/** Whether `error`, or an error it wraps, is the file system saying it is out of space (or out of quota). */
export function isNoSpaceError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** The DiskFullError for an ENOSPC that struck while writing under `directory`. */
export async function diskFullFrom(error: unknown, directory: string): Promise<DiskFullError> {
  const freeBytes = await freeBytesOf(directory).catch(() => 0);
  return new DiskFullError(undefined, freeBytes, { cause: error });
}

/** `error` itself, or the DiskFullError it amounts to when it is an ENOSPC that no DiskFullError has named yet. */
export async function asDiskFullIfNoSpace(error: unknown, directory: string): Promise<unknown> {
  return isNoSpaceError(error) && !(error instanceof DiskFullError) ? diskFullFrom(error, directory) : error;
}
