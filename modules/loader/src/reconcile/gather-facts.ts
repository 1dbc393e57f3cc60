import type { DeltaAttempts, LoaderState, UpdatePolicy } from '@edge-ml/contracts';
import { patchFromInstalled } from '../download/fetch-by-patch.js';
import { announcementKey, type InstalledManifest } from '../repository/model-repository.js';
import { deltaAttemptsOf, isGivenUp } from './delta-attempts.js';
import { hasStagingFiles, hasVerifiedPackage, type DeltaNote, type ExecutorContext } from './executors.js';
import { CONFIRMED_VERSION_LOST_CODE, MEMORY_BUDGET_CODE, type DeltaFacts, type Facts, type VersionFact } from './plan.js';
import { targetFingerprint } from './target-fingerprint.js';
import type { ModelTarget } from './target.js';

function versionFact(state: LoaderState, manifest: InstalledManifest): VersionFact {
  const key = announcementKey(manifest);
  const record = state.verdicts[key];
  return { name: manifest.name, version: manifest.version, key, installedAt: manifest.installedAt, verdict: record?.verdict ?? 'untried', ...(record?.verdict === 'rejected' ? { error: record.error } : {}) };
}

/**
 * The target's delta manifest and paths as this process knows them, and as the entry's state counts their attempts: a
 * manifest or path given up after DELTA_ATTEMPT_LIMIT attempts in a row stays given up across restarts.
 */
function deltaFacts(target: ModelTarget | undefined, note: DeltaNote | undefined, attempts: DeltaAttempts | undefined, installed: InstalledManifest[]): DeltaFacts | undefined {
  if (target?.source !== 'download' || !target.deltaManifestUrl || !target.sha256 || !attempts) return undefined;
  if (!note) return isGivenUp(attempts, 'manifest') ? { manifest: 'unusable' } : { manifest: 'not-fetched' };
  if (!note.usable) return { manifest: 'unusable' };
  const from = patchFromInstalled(note.manifest, installed)?.base;
  const failed = (['patch', 'chunks'] as const).filter((path) => note.failed.includes(path) || isGivenUp(attempts, path));
  return { manifest: 'fetched', ...(from ? { patchFrom: { name: from.name, version: from.version } } : {}), chunks: note.manifest.chunks !== undefined, failed };
}

/** The target's installed version: for a download, the one with the target's integrity; for an installed target, its hash. */
function targetVersionOf(target: ModelTarget | undefined, manifests: InstalledManifest[], versions: VersionFact[]): VersionFact | undefined {
  if (target?.source === 'download') {
    const manifest = manifests.find((entry) => entry.name === target.name && entry.version === target.version);
    const matches = manifest && (!target.sha256 || manifest.packageSha256 === target.sha256) && (!target.md5 || manifest.packageMd5 === target.md5);
    return matches ? versions.find((version) => version.key === announcementKey(manifest)) : undefined;
  }
  if (target?.source === 'installed') return versions.find((version) => version.key === `${target.name}@${target.version}#${target.modelSha256}`);
  return undefined;
}

/**
 * What the planner needs, read afresh from the repository, the loader state and this process's inbox. The awaited
 * announcement counts only while the pointer names it; its deadline is at least one re-send interval after the first
 * delivery to edgeHub in this process, so after a restart (or an announcement made while edgeHub was down) a re-send
 * gets a full interval before a timeout.
 */
export async function gatherFacts(context: ExecutorContext, target: ModelTarget | undefined, policy: UpdatePolicy): Promise<Facts> {
  const state = context.state.current;
  const entryState = context.state.entry(context.name);
  const manifests = await context.repository.listInstalled();
  // The entry's own versions: another entry's are its own business (garbage collection, pointers).
  const versions = manifests.filter((manifest) => manifest.name === context.name).map((manifest) => versionFact(state, manifest));
  const find = (pointer: { name: string; version: string; sha256: string } | undefined | null) => (pointer ? versions.find((version) => version.key === `${pointer.name}@${pointer.version}#${pointer.sha256}`) : undefined);
  const entry = context.index.entry(context.name);
  const announced = find(entry?.announced);
  const confirmedPointer = entry?.confirmed ?? undefined;
  const confirmedLost = lostConfirmed(context, confirmedPointer, versions);
  const confirmedVersion = confirmedLost ? undefined : find(confirmedPointer);
  const targetVersion = targetVersionOf(target, manifests, versions);
  let awaiting: Facts['awaiting'];
  if (entryState.awaiting && announced?.key === entryState.awaiting.key) {
    const sends = context.inbox.sends(entryState.awaiting.key);
    const deadlineMs = Math.max(Date.parse(entryState.awaiting.deadline), sends.firstMs === undefined ? Number.POSITIVE_INFINITY : sends.firstMs + policy.confirmResendSeconds * 1000);
    awaiting = { version: announced, deadlineMs, lastSentAtMs: sends.lastMs ?? 0 };
  }
  const status = awaiting ? context.inbox.statusFor(awaiting.version.key) : undefined;
  const { failure } = entryState;
  const nowMs = Date.now();
  const deferred = [...context.deferrals].filter(([key, { untilMs }]) => versions.some((version) => version.key === key) && untilMs > nowMs).map(([key, { error }]) => ({ key, error }));
  return {
    nowMs,
    policy,
    versions,
    targetVersion,
    verifiedPackage: target?.source === 'download' ? await hasVerifiedPackage(context, target) : false,
    stagingLeftovers: target?.source === 'download' && targetVersion !== undefined ? await hasStagingFiles(context, target) : false,
    failedPermanently: target?.source === 'download' && failure !== null && failure.fingerprint === targetFingerprint(target),
    targetRejected: target !== undefined && state.rejections.some((block) => block.targetKey === target.key),
    delta: deltaFacts(target, target ? context.deltas.get(target.key) : undefined, target ? deltaAttemptsOf(entryState, target.key) : undefined, manifests),
    announced,
    messageSentFor: entryState.messageSentFor,
    confirmed: confirmedVersion && { ...confirmedVersion, verdict: 'confirmed' },
    awaiting,
    status: status?.outcome === 'accepted' ? { outcome: 'accepted' } : status?.outcome === 'rejected' ? { outcome: 'rejected', error: status.error } : undefined,
    confirmedLost,
    recovery: recoveryOf(state, context.name, versions, [confirmedLost?.version.key, ...deferred.map((entry) => entry.key)]),
    deferred,
  };
}

/** A rejection of the last-known-good that says it cannot serve from disk: its files are unreadable, or it failed at start-up. */
const UNREADABLE_FILES_CODE = 'MODEL_FILE_UNREADABLE';

/** Whether the confirmed pointer names a version that is no longer installed, or that the inference module could not serve again. */
function lostConfirmed(context: ExecutorContext, pointer: { name: string; version: string; sha256: string } | undefined, versions: VersionFact[]): Facts['confirmedLost'] {
  if (!pointer) return undefined;
  const key = `${pointer.name}@${pointer.version}#${pointer.sha256}`;
  const version = { name: pointer.name, version: pointer.version, key };
  if (!versions.some((candidate) => candidate.key === key)) {
    return { version, error: { code: CONFIRMED_VERSION_LOST_CODE, message: `${pointer.name}@${pointer.version}, the last-known-good, is no longer installed` } };
  }
  const status = context.inbox.statusFor(key);
  // A refusal for lack of memory says nothing of the files: the version stays the last-known-good.
  if (status?.outcome === 'rejected' && status.error.code !== MEMORY_BUDGET_CODE && (status.error.code === UNREADABLE_FILES_CODE || status.trigger === 'startup')) {
    return { version, error: { code: CONFIRMED_VERSION_LOST_CODE, message: `${pointer.name}@${pointer.version}, the last-known-good, no longer serves: the inference module answered ${status.error.code} (${status.error.message})` } };
  }
  return undefined;
}

/** The newest version in the model's confirmation history that is installed and not rejected (nor lost, nor deferred). */
function recoveryOf(state: LoaderState, name: string, versions: VersionFact[], excluded: (string | undefined)[]): VersionFact | undefined {
  for (const entry of [...(state.confirmations[name] ?? [])].reverse()) {
    const candidate = versions.find((version) => version.key === `${name}@${entry.version}#${entry.modelSha256}`);
    if (candidate && !excluded.includes(candidate.key) && candidate.verdict !== 'rejected') return candidate;
  }
  return undefined;
}
