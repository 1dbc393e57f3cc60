import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PartialDownloadRecordSchema } from '@edge-ml/contracts';
import { DiskFullError } from '../errors.js';
import { spaceLedger, type SpaceReservation } from '../storage/space-ledger.js';

/** Work in the staging directory that waits for room: a partial download (bytes still to fetch) or a verified package (none). */
export interface WaitingWork {
  file: string;
  remainingBytes: number;
}

/**
 * Who goes first among downloads that wait for room: the least left to fetch, then the name. Pure.
 * Returns the waiting work that goes before `own`, if any.
 */
export function goesBefore(own: WaitingWork, others: WaitingWork[]): WaitingWork | undefined {
  const ahead = others.filter((other) => other.file !== own.file && (other.remainingBytes < own.remainingBytes || (other.remainingBytes === own.remainingBytes && other.file < own.file)));
  return ahead.sort((a, b) => a.remainingBytes - b.remainingBytes || a.file.localeCompare(b.file))[0];
}

/** The partial downloads (with a declared total) and verified packages in `directory`: what they still need to fetch. */
export async function waitingWorkIn(directory: string): Promise<WaitingWork[]> {
  const entries = await readdir(directory).catch(() => [] as string[]);
  const work: WaitingWork[] = [];
  for (const entry of entries) {
    const file = path.join(directory, entry);
    if (entry.endsWith('.package')) {
      if (entries.includes(`${entry}.json`)) work.push({ file, remainingBytes: 0 });
      continue;
    }
    if (!entry.endsWith('.partial') && !entry.endsWith('.partial.patch')) continue;
    const record = await readFile(`${file}.json`, 'utf8')
      .then((text) => PartialDownloadRecordSchema.safeParse(JSON.parse(text)))
      .catch(() => undefined);
    const size = (await stat(file).catch(() => undefined))?.size;
    if (!record?.success || record.data.totalBytes === undefined || size === undefined) continue;
    work.push({ file, remainingBytes: Math.max(0, record.data.totalBytes - size) });
  }
  return work;
}

/**
 * Reserves room for the rest of a download into `partialPath` (`heldBytes` already there, `remainingBytes` to go).
 * When it does not fit, it waits (a retryable DiskFullError) and keeps its bytes, unless two waiting downloads would
 * each wait for the space that the other's partial holds: with nothing reserved on the file system (no download or
 * extraction in progress that would land and change the picture), a partial that does not fit gives its bytes back
 * when other waiting work has less left to fetch (a verified package: nothing), so that the one with the least left
 * goes first. The one that goes first never gives its bytes back; the one that gave them back starts again once room
 * is free. No order of retries deadlocks: every round either lands something, or frees a partial.
 */
export async function reserveDownloadRoom(partialPath: string, heldBytes: number, remainingBytes: number, reserveFactor: number, discard: () => Promise<void>): Promise<SpaceReservation> {
  const directory = path.dirname(partialPath);
  try {
    return await spaceLedger.reserve(directory, remainingBytes * reserveFactor, partialPath);
  } catch (error) {
    if (!(error instanceof DiskFullError) || heldBytes === 0) throw error;
    if ((await spaceLedger.holders(directory)).length > 0) throw error;
    const first = goesBefore({ file: partialPath, remainingBytes }, await waitingWorkIn(directory));
    if (!first) throw error;
    await discard();
    error.message += `; this download gave its ${heldBytes} bytes back so that ${path.basename(first.file)} (${first.remainingBytes} bytes left to fetch) can land first`;
    throw error;
  }
}
