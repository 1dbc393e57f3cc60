import {
  servingIndexFromLegacyPointers,
  toModelAnnouncement,
  type ConfirmedModelPointer,
  type ModelAnnouncement,
  type ModelMessage,
  type ServingIndex,
} from '@edge-ml/contracts';
import { announcementKey } from './model-pointers.js';

/** One model name to serve: the version on trial or serving, and its last-known-good. */
export interface PlannedEntry {
  announced: ModelAnnouncement;
  confirmed?: ModelAnnouncement;
}

/** What the module is to serve, from the serving index (or, before the loader wrote one, from the legacy pointers). */
export interface ServingPlan {
  source: 'index' | 'legacy';
  defaultModel: string | null;
  entries: Map<string, PlannedEntry>;
}

/** The plan of a serving index. */
export function planFromIndex(index: ServingIndex, source: ServingPlan['source'] = 'index'): ServingPlan {
  const entries = new Map<string, PlannedEntry>();
  for (const [name, entry] of Object.entries(index.models)) {
    entries.set(name, { announced: toModelAnnouncement(entry.announced), ...(entry.confirmed ? { confirmed: toModelAnnouncement(entry.confirmed) } : {}) });
  }
  return { source, defaultModel: index.defaultModel, entries };
}

/**
 * The plan the legacy pointers describe (servingIndexFromLegacyPointers: the announced model, and the confirmed one
 * beside it when it is another). An announced pointer in the seed's form (no name, version or hash) is its own entry,
 * the default, with the confirmed version of its name as its last-known-good. Undefined when there is no pointer.
 */
export function planFromLegacyPointers(announced: ModelMessage | undefined, confirmed: ConfirmedModelPointer | undefined, at: string): ServingPlan | undefined {
  const rich = announced && 'schemaVersion' in announced ? announced : undefined;
  const index = servingIndexFromLegacyPointers(rich, confirmed, at);
  const plan = index ? planFromIndex(index, 'legacy') : { source: 'legacy' as const, defaultModel: null, entries: new Map<string, PlannedEntry>() };
  if (announced && !rich) {
    const seed = toModelAnnouncement(announced);
    const sameName = confirmed?.name === seed.name ? toModelAnnouncement(confirmed) : undefined;
    plan.entries.set(seed.name, { announced: seed, ...(sameName ? { confirmed: sameName } : {}) });
    plan.defaultModel = seed.name;
  }
  return plan.entries.size > 0 ? plan : undefined;
}

/** One version to ask an entry's controller for; `sendStatus` says whether the loader is to hear the outcome. */
export interface PlannedRequest {
  announcement: ModelAnnouncement;
  sendStatus: boolean;
}

/**
 * What to ask for one entry, in order. An entry with nothing serving tries its last-known-good first, then the
 * announced version when it is another (the loader awaits a status for the announced version only); an entry that
 * serves tries only its announced version. `wants` filters out what is loading, serving or known to be bad.
 */
export function planEntryRequests(entry: PlannedEntry, serving: boolean, wants: (announcement: ModelAnnouncement) => boolean): PlannedRequest[] {
  const { announced, confirmed } = entry;
  const same = confirmed !== undefined && announcementKey(confirmed) === announcementKey(announced);
  const requests: PlannedRequest[] = [];
  if (!serving && confirmed && wants(confirmed)) requests.push({ announcement: confirmed, sendStatus: same });
  if (!same && wants(announced)) requests.push({ announcement: announced, sendStatus: true });
  if (serving && same && wants(announced)) requests.push({ announcement: announced, sendStatus: true });
  return requests;
}

/** Names the registry holds that the plan no longer lists: to unload. */
export function namesToRemove(served: Iterable<string>, plan: ServingPlan): string[] {
  return [...served].filter((name) => !plan.entries.has(name)).sort();
}

/** The order entries are brought up in at start-up: the default first (readiness comes with it), then by name. */
export function startupOrder(plan: ServingPlan): string[] {
  const names = [...plan.entries.keys()].sort();
  const first = plan.defaultModel !== null && plan.entries.has(plan.defaultModel) ? [plan.defaultModel] : [];
  return [...first, ...names.filter((name) => !first.includes(name))];
}

/** What the reconciler acts on: the index's plan, the legacy pointers standing in for it, or nothing (keep what serves). */
export type PlanSource = 'index' | 'legacy' | 'keep';

/**
 * Which source to follow, given what reading the index gave. The legacy pointers name only the default entry, so they
 * stand in only while no index file has existed in this process (`indexSeen` false: a loader from before the index),
 * and at start-up when the index cannot be read (better the default entry than nothing). Once an index has been seen,
 * a missing or unreadable one changes nothing: every entry keeps serving until a readable index says otherwise.
 */
export function planSource(read: 'planned' | 'missing' | 'unreadable', indexSeen: boolean, startup: boolean): PlanSource {
  if (read === 'planned') return 'index';
  if (read === 'missing') return indexSeen ? 'keep' : 'legacy';
  return startup ? 'legacy' : 'keep';
}

/** What to do with a DLModelInput message naming `name`. */
export type MessageVerdict = 'serve' | 'reject' | 'defer';

/**
 * A DLModelInput message asks for a version of one entry; the loader writes the index before it sends one, so an
 * index that does not list the name means the message is not the loader's: rejected (MODEL_NOT_IN_INDEX), never
 * served. `current` is the index read when the message arrived, `lastGood` the last valid index this process read.
 * While the index is missing or unreadable, a name the last valid index listed serves (nothing changes); one it did
 * not list is deferred (neither served nor rejected: a rejection would make the loader give up a version the index it
 * is rewriting may list; the loader re-sends its announcement, and the poll serves the entry once the index lists it).
 * With no index at all in this process (a loader from before the index), every message serves, as before.
 */
export function messageVerdict(name: string, current: ServingPlan | undefined, lastGood: ServingPlan | undefined, indexSeen: boolean): MessageVerdict {
  if (current) return current.entries.has(name) ? 'serve' : 'reject';
  if (lastGood?.entries.has(name)) return 'serve';
  return indexSeen ? 'defer' : 'serve';
}
