import type { ConfirmationEntry, LoaderState, VersionVerdict } from '@edge-ml/contracts';
import { legacyPointersOf } from '../serving/index-changes.js';
import type { ServingIndexStore } from '../serving/serving-index-store.js';
import { announcementKey, type InstalledManifest, type ModelRepository } from '../repository/model-repository.js';

interface HistorySource {
  readonly repository: ModelRepository;
  readonly index: ServingIndexStore;
  readonly loaderState: LoaderState;
  entryNames(): string[];
  defaultEntry(): string | undefined;
}

/**
 * The version `rollback` goes to: in the model's confirmation history (versions in order of first confirmation), the
 * one before the version the loader is heading to (an installed override's, else the last-known-good), that is still
 * installed. A second rollback therefore goes one further back instead of flipping between two versions.
 */
export function pickPreviousConfirmed(history: ConfirmationEntry[], current: { version: string; modelSha256: string }, installed: InstalledManifest[]): InstalledManifest | undefined {
  const index = history.findIndex((entry) => entry.version === current.version && entry.modelSha256 === current.modelSha256);
  const earlier = (index >= 0 ? history.slice(0, index) : history.filter((entry) => entry.version !== current.version)).reverse();
  for (const entry of earlier) {
    const manifest = installed.find((candidate) => candidate.version === entry.version && candidate.modelSha256 === entry.modelSha256);
    if (manifest) return manifest;
  }
  return undefined;
}

/** The version `rollback` of the model `name` goes to (see pickPreviousConfirmed). */
export async function previousConfirmed(source: HistorySource, name: string): Promise<InstalledManifest | undefined> {
  const override = source.loaderState.entries[name]?.override?.target;
  const confirmed = source.index.entry(name)?.confirmed;
  const current = override?.source === 'installed' ? { version: override.version, modelSha256: override.modelSha256 } : confirmed ? { version: confirmed.version, modelSha256: confirmed.sha256 } : undefined;
  if (!current) return undefined;
  const installed = (await source.repository.listInstalled()).filter((manifest) => manifest.name === name);
  return pickPreviousConfirmed(source.loaderState.confirmations[name] ?? [], current, installed);
}

const pointerOf = (pointer: { name: string; version: string; sha256: string } | null | undefined) => (pointer ? { name: pointer.name, version: pointer.version, sha256: pointer.sha256 } : null);

/**
 * listModels: every entry (desired, or removed and not yet deleted) with its pointers, awaited announcement, removal
 * and installed versions with their verdicts; at the top level, as before several models, the default entry's
 * pointers and every installed version.
 */
export async function listVersions(source: HistorySource) {
  const { verdicts, entries } = source.loaderState;
  const installed = (await source.repository.listInstalled()).map((manifest) => {
    const key = announcementKey(manifest);
    const record = verdicts[key];
    const verdict: VersionVerdict = record?.verdict ?? 'untried';
    return {
      name: manifest.name,
      version: manifest.version,
      installedAt: manifest.installedAt,
      modelSha256: manifest.modelSha256,
      format: manifest.format,
      verdict,
      ...(record?.verdict === 'rejected' ? { error: record.error } : {}),
    };
  });
  const names = [...new Set([...source.entryNames(), ...source.index.names(), ...Object.keys(entries)])].sort();
  const models = Object.fromEntries(
    names.map((name) => {
      const entry = source.index.entry(name);
      const state = entries[name];
      return [
        name,
        {
          desired: source.entryNames().includes(name),
          announced: pointerOf(entry?.announced),
          confirmed: entry?.confirmed ? { ...pointerOf(entry.confirmed), confirmedAt: entry.confirmed.confirmedAt } : null,
          awaiting: state?.awaiting ? { version: state.awaiting.version, deadline: state.awaiting.deadline } : null,
          removedAt: state?.removedAt ?? null,
          installed: installed.filter((version) => version.name === name),
        },
      ];
    }),
  );
  const legacy = legacyPointersOf(source.index.current);
  const defaultName = source.defaultEntry();
  const awaiting = defaultName ? entries[defaultName]?.awaiting : undefined;
  return {
    defaultModel: source.index.current.defaultModel,
    announced: pointerOf(legacy.announced),
    confirmed: legacy.confirmed ? { ...pointerOf(legacy.confirmed), confirmedAt: legacy.confirmed.confirmedAt } : null,
    awaiting: awaiting ? { name: awaiting.name, version: awaiting.version, deadline: awaiting.deadline } : null,
    installed,
    models,
  };
}
