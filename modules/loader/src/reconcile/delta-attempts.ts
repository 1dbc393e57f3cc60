import type { DeltaAttempts, EntryState } from '@edge-ml/contracts';
import { PatchPathUnavailable } from '../download/fetch-by-patch.js';
import { neverReachedServer } from '../download/link-failure.js';
import { DiskFullError, TransferError } from '../errors.js';
import { isNoSpaceError } from '../storage/disk-space.js';

/**
 * Attempts in a row of a delta manifest or path that may fail before the loader gives it up for the next way to the
 * package. An attempt is counted when it starts, so one the process did not survive (killed, out of memory) counts
 * too: a delta path that crashes the loader cannot crash it on every restart. Three chances outlast a passing fault;
 * past them, waiting on the delta's blobs costs more than a package that may answer (docs/loader.md, Delta updates).
 */
export const DELTA_ATTEMPT_LIMIT = 3;

export type DeltaStage = Exclude<keyof DeltaAttempts, 'targetKey'>;

/** The target's counts as the entry's state keeps them; another target's counts are none of its business. */
export function deltaAttemptsOf(entry: EntryState, targetKey: string): DeltaAttempts {
  return entry.deltaAttempts?.targetKey === targetKey ? entry.deltaAttempts : { targetKey, manifest: 0, patch: 0, chunks: 0 };
}

export const isGivenUp = (attempts: DeltaAttempts, stage: DeltaStage) => attempts[stage] >= DELTA_ATTEMPT_LIMIT;

/**
 * What a failed attempt (the `attempts`-th in a row) means for its stage: retried (the error is thrown on, to the
 * entry's backoff), or given up for the next path. `counted: false` takes the attempt back: it says nothing of the
 * delta's blobs (cancelled, a full disk, a link that reaches no server at all, which would fail the package the same way).
 */
export type AttemptVerdict = { action: 'retry'; counted: boolean } | { action: 'give-up'; reason: string };

export function judgeDeltaFailure(error: unknown, attempts: number, aborted: boolean): AttemptVerdict {
  if (aborted || error instanceof DiskFullError || isNoSpaceError(error)) return { action: 'retry', counted: false };
  if (error instanceof PatchPathUnavailable) return { action: 'give-up', reason: error.message };
  if (error instanceof TransferError) {
    if (neverReachedServer(error)) return { action: 'retry', counted: false };
    if (attempts >= DELTA_ATTEMPT_LIMIT) return { action: 'give-up', reason: `${attempts} attempts in a row failed on its blobs; the last: ${error.message}` };
    return { action: 'retry', counted: true };
  }
  // Anything else is a fault of the delta's data or of the loader's delta code: the full package does not depend on either.
  return { action: 'give-up', reason: `it failed unexpectedly: ${error instanceof Error ? error.message : String(error)}` };
}
