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
