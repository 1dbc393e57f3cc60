/** A model that left the desired state. */
export interface RemovedEntry {
  name: string;
  removedAtMs: number;
  /** It is still in the serving index (the inference module serves it). */
  indexed: boolean;
  /** The index names a confirmed version of it (an entry with none has nothing proven to serve). */
  confirmed: boolean;
}

/** A model still desired. */
export interface RemainingEntry {
  name: string;
  /** Nothing in progress: not downloading, not announced and awaiting its status, not retrying. */
  settled: boolean;
  /** The serving index names a confirmed version of it. */
  confirmed: boolean;
}

export interface RemovalPlan {
  /** Removed entries to drop from the serving index now. */
  unindex: string[];
  /** Removed entries, out of the index, whose grace period is over: their versions are deleted and their state forgotten. */
  purge: string[];
  /** When the next grace period ends (to look again then); undefined when none is pending. */
  nextCheckMs: number | undefined;
}

/**
 * The never-dark rule for removals (docs/loader.md, "Several models"): a removed entry leaves the index once every
 * remaining entry is settled and at least one of them has a confirmed version, or when no entry remains (the operator
 * emptied the desired state on purpose). A removed entry with no confirmed version leaves at once: it serves nothing
 * proven. Its versions are deleted `graceMs` after its removal, once it is out of the index; re-adding it before then
 * serves it again from disk. Pure.
 */
export function planRemovals(removed: RemovedEntry[], remaining: RemainingEntry[], nowMs: number, graceMs: number): RemovalPlan {
  const mayLeave = remaining.length === 0 || (remaining.every((entry) => entry.settled) && remaining.some((entry) => entry.confirmed));
  const unindex = removed.filter((entry) => entry.indexed && (mayLeave || !entry.confirmed)).map((entry) => entry.name);
  const outOfIndex = removed.filter((entry) => !entry.indexed || unindex.includes(entry.name));
  const purge = outOfIndex.filter((entry) => nowMs >= entry.removedAtMs + graceMs).map((entry) => entry.name);
  const pending = removed.filter((entry) => !purge.includes(entry.name)).map((entry) => entry.removedAtMs + graceMs).filter((atMs) => atMs > nowMs);
  return { unindex, purge, nextCheckMs: pending.length > 0 ? Math.min(...pending) : undefined };
}
