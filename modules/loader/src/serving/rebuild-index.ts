import type { LoaderState, RichModelMessage, ServingIndex } from '@edge-ml/contracts';
import { announcementKey, type InstalledManifest } from '../repository/model-repository.js';

/**
 * The entries an index lost (deleted or corrupted models/serving.json) as the loader's own state and the repository
 * show them: per model name not removed, its last-known-good (the newest confirmation still installed and not
 * rejected) and, when one is awaiting its status and installed, the version on trial. Entries `base` holds (from the
 * legacy pointers) are kept as they are. Pure.
 */
export function rebuildIndex(base: ServingIndex, state: LoaderState, installed: InstalledManifest[], announcementFor: (manifest: InstalledManifest) => RichModelMessage, at: string): ServingIndex {
  const models = { ...base.models };
  const names = new Set([...Object.keys(state.confirmations), ...Object.keys(state.entries)]);
  for (const name of [...names].sort()) {
    const entry = state.entries[name];
    if (name in models || (entry?.removedAt ?? null) !== null) continue;
    const manifestFor = (key: string) => installed.find((manifest) => manifest.name === name && announcementKey(manifest) === key);
    const good = [...(state.confirmations[name] ?? [])]
      .reverse()
      .map((confirmation) => ({ confirmation, manifest: manifestFor(`${name}@${confirmation.version}#${confirmation.modelSha256}`) }))
      .find(({ manifest }) => manifest !== undefined && state.verdicts[announcementKey(manifest)]?.verdict !== 'rejected');
    const confirmed = good?.manifest ? { ...announcementFor(good.manifest), confirmedAt: good.confirmation.confirmedAt } : null;
    const trial = entry?.awaiting ? manifestFor(entry.awaiting.key) : undefined;
    const announced = trial ? announcementFor(trial) : confirmed ? (({ confirmedAt: _at, ...message }) => message)(confirmed) : undefined;
    if (announced) models[name] = { announced, confirmed };
  }
  return { ...base, models, updatedAt: at };
}
