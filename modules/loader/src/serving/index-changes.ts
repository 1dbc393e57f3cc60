import type { ConfirmedModelPointer, RichModelMessage, ServingEntry, ServingIndex } from '@edge-ml/contracts';

/**
 * Pure changes of the serving index (models/serving.json): each returns a new index, so that the store writes whole
 * documents only. Within an entry the single-model rules hold: `announced` is the version on trial or serving,
 * `confirmed` the entry's last-known-good.
 */

type Models = ServingIndex['models'];

export const emptyIndex = (at: string): ServingIndex => ({ schemaVersion: 1, defaultModel: null, models: {}, updatedAt: at });

const withModels = (index: ServingIndex, models: Models, at: string): ServingIndex => ({ ...index, models, updatedAt: at });

/** The announcement a confirmed pointer was made from (the pointer without confirmedAt). */
export const announcementOf = ({ confirmedAt: _confirmedAt, ...announcement }: ConfirmedModelPointer): RichModelMessage => announcement;

/** Names a version in an entry's `announced`, keeping its last-known-good. */
export function withAnnounced(index: ServingIndex, message: RichModelMessage, at: string): ServingIndex {
  const existing = index.models[message.name];
  return withModels(index, { ...index.models, [message.name]: { announced: message, confirmed: existing?.confirmed ?? null } }, at);
}

/** Records an entry's last-known-good; an entry that was not in the index announces it too. */
export function withConfirmed(index: ServingIndex, pointer: ConfirmedModelPointer, at: string): ServingIndex {
  const existing = index.models[pointer.name];
  return withModels(index, { ...index.models, [pointer.name]: { announced: existing?.announced ?? announcementOf(pointer), confirmed: pointer } }, at);
}

/** Clears an entry's last-known-good (it was lost); its announcement stays. */
export function withoutConfirmed(index: ServingIndex, name: string, at: string): ServingIndex {
  const existing = index.models[name];
  if (!existing?.confirmed) return index;
  return withModels(index, { ...index.models, [name]: { ...existing, confirmed: null } }, at);
}

/** Drops an entry: the inference module unloads it. */
export function withoutEntry(index: ServingIndex, name: string, at: string): ServingIndex {
  if (!(name in index.models)) return index;
  const { [name]: _dropped, ...models } = index.models;
  return withModels(index, models, at);
}

/** The model the inference module defaults to (without its own configuration): the index's default if served, else the first by name. */
export function servedDefault(index: ServingIndex): string | undefined {
  if (index.defaultModel !== null && index.defaultModel in index.models) return index.defaultModel;
  return Object.keys(index.models).sort()[0];
}

export function withDefault(index: ServingIndex, defaultModel: string | null, at: string): ServingIndex {
  return index.defaultModel === defaultModel ? index : { ...index, defaultModel, updatedAt: at };
}

const newestConfirmed = (entries: ServingEntry[]) =>
  entries.map((entry) => entry.confirmed).filter((confirmed): confirmed is ConfirmedModelPointer => confirmed !== null).sort((a, b) => b.confirmedAt.localeCompare(a.confirmedAt))[0];

/**
 * What models/announced.json and models/confirmed.json say for older readers: the default entry's pointers (else the
 * entry confirmed last). While the default entry has no last-known-good yet (a new model name on trial), confirmed.json
 * names the last-known-good that still serves beside it, as the single-model loader did.
 */
export function legacyPointersOf(index: ServingIndex): { announced: RichModelMessage | undefined; confirmed: ConfirmedModelPointer | undefined } {
  const entries = Object.values(index.models);
  const fallback = newestConfirmed(entries);
  const entry = (index.defaultModel ? index.models[index.defaultModel] : undefined) ?? (fallback ? index.models[fallback.name] : undefined);
  return { announced: entry?.announced, confirmed: entry?.confirmed ?? fallback };
}
