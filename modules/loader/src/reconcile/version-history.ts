import type { ConfirmationEntry, LoaderState, VersionVerdict } from '@edge-ml/contracts';
import { announcementKey, type InstalledManifest, type ModelRepository } from '../repository/model-repository.js';

interface HistorySource {
  readonly repository: ModelRepository;
  readonly loaderState: LoaderState;
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

export async function previousConfirmed(source: HistorySource): Promise<InstalledManifest | undefined> {
  const override = source.loaderState.override?.target;
  const confirmed = await source.repository.readConfirmed();
  const current = override?.source === 'installed' ? { name: override.name, version: override.version, modelSha256: override.modelSha256 } : confirmed ? { name: confirmed.name, version: confirmed.version, modelSha256: confirmed.sha256 } : undefined;
  if (!current) return undefined;
  const installed = (await source.repository.listInstalled()).filter((manifest) => manifest.name === current.name);
  return pickPreviousConfirmed(source.loaderState.confirmations[current.name] ?? [], current, installed);
}

/** listModels: the two pointers, and every installed version with its verdict (confirmed, rejected or untried). */
export async function listVersions(source: HistorySource) {
  const announced = await source.repository.readAnnounced();
  const confirmed = await source.repository.readConfirmed();
  const { verdicts, awaiting } = source.loaderState;
  const installed = await source.repository.listInstalled();
  const verdictOf = (key: string): VersionVerdict => verdicts[key]?.verdict ?? 'untried';
  return {
    announced: announced ? { name: announced.name, version: announced.version, sha256: announced.sha256 } : null,
    confirmed: confirmed ? { name: confirmed.name, version: confirmed.version, sha256: confirmed.sha256, confirmedAt: confirmed.confirmedAt } : null,
    awaiting: awaiting ? { name: awaiting.name, version: awaiting.version, deadline: awaiting.deadline } : null,
    installed: installed.map((manifest) => {
      const key = announcementKey(manifest);
      const record = verdicts[key];
      return {
        name: manifest.name,
        version: manifest.version,
        installedAt: manifest.installedAt,
        modelSha256: manifest.modelSha256,
        format: manifest.format,
        verdict: verdictOf(key),
        ...(record?.verdict === 'rejected' ? { error: record.error } : {}),
      };
    }),
  };
}
