import type { DeliveryPath, UpdatePolicy, VersionVerdict } from '@edge-ml/contracts';
import type { DownloadTarget, ModelTarget } from './target.js';

/** An installed version, named as directories and announcements name it. */
export interface VersionRef {
  name: string;
  version: string;
}

export interface ErrorInfo {
  code: string;
  message: string;
}

/** An installed version as the planner sees it. */
export interface VersionFact extends VersionRef {
  /** name@version#modelSha256: the identity of one announcement. */
  key: string;
  installedAt: string;
  verdict: VersionVerdict;
  /** Why it was rejected (with verdict `rejected`). */
  error?: ErrorInfo;
}

/** What the loader knows of the target's delta manifest; absent when the target offers none. */
export type DeltaFacts =
  | { manifest: 'not-fetched' }
  | { manifest: 'unusable' }
  | { manifest: 'fetched'; patchFrom?: VersionRef; chunks: boolean; failed: Exclude<DeliveryPath, 'full'>[] };

/** What the loader can see about a target and the repository; gathered afresh before every planning round. */
export interface Facts {
  nowMs: number;
  policy: Pick<UpdatePolicy, 'keepVersions' | 'confirmTimeoutSeconds' | 'confirmResendSeconds'>;
  /** Every installed version. */
  versions: VersionFact[];
  /** The target's installed version (with the target's integrity), when there is one. */
  targetVersion: VersionFact | undefined;
  /** A downloaded, verified package for the target waits in staging. */
  verifiedPackage: boolean;
  /** Staging files of the target are left (a crash between its install and their removal). */
  stagingLeftovers: boolean;
  /** The target failed in a way only a new desired state can fix. */
  failedPermanently: boolean;
  /** The target's version was rejected while this target stood: it is not announced again. */
  targetRejected: boolean;
  delta: DeltaFacts | undefined;
  /** The installed version the announced pointer names. */
  announced: VersionFact | undefined;
  /** The announcement last sent on DLModelOutput (name@version#sha256). */
  messageSentFor: string | null;
  /** The installed version the confirmed pointer names: the last-known-good. */
  confirmed: VersionFact | undefined;
  /** The announcement waiting for the inference module's status (only while the pointer names it). */
  awaiting: { version: VersionFact; deadlineMs: number; lastSentAtMs: number } | undefined;
  /** The inference module's status for the awaited announcement, when one arrived. */
  status: { outcome: 'accepted' } | { outcome: 'rejected'; error: ErrorInfo } | undefined;
  /**
   * The confirmed pointer names a version that cannot serve: it is no longer installed, or the inference module could
   * not read it (MODEL_FILE_UNREADABLE) or rejected it at start-up. `confirmed` is then undefined.
   */
  confirmedLost: { version: VersionRef & { key: string }; error: ErrorInfo } | undefined;
  /** The newest version of the model's confirmation history that is installed and not rejected: where a lost last-known-good falls back to. */
  recovery: VersionFact | undefined;
  /** Announcement keys the inference module refused for lack of memory, not to be announced again before their retry. */
  deferred: { key: string; error: ErrorInfo }[];
}

export type Step =
  | { action: 'fetch-delta-manifest'; target: DownloadTarget }
  | { action: 'fetch-patch'; target: DownloadTarget; from: VersionRef }
  | { action: 'fetch-chunks'; target: DownloadTarget }
  | { action: 'fetch-full'; target: DownloadTarget }
  | { action: 'install'; target: DownloadTarget }
  | { action: 'clean-staging'; target: DownloadTarget }
  /** Writes the announced pointer and sends DLModelOutput; `await` first records the announcement as awaiting its status. */
  | { action: 'announce'; version: VersionRef; confirmation: 'await' | 'none' }
  | { action: 'resend'; version: VersionRef }
  | { action: 'await-confirmation'; version: VersionRef; untilMs: number }
  | { action: 'confirm'; version: VersionRef }
  /** Records the verdict; `blockUnder` names the target under which the version is not announced again. */
  | { action: 'reject'; version: VersionRef; error: ErrorInfo; blockUnder: string | undefined }
  /** Announces the last-known-good again (or withdraws the pointer when there is none) after `rejected` failed. */
  | { action: 'fall-back'; to: VersionRef | undefined; rejected: VersionRef & { error: ErrorInfo } }
  /** The last-known-good cannot serve: records it rejected, withdraws the pointers that name it and reports the loss. */
  | { action: 'forget-lost'; lost: VersionRef & { key: string }; error: ErrorInfo }
  /** The inference module lacks memory for the version: no verdict, it is tried again at `untilMs` (the fall-back follows). */
  | { action: 'defer'; version: VersionRef & { key: string }; error: ErrorInfo; untilMs: number }
  | { action: 'collect-garbage'; remove: VersionRef[] };

export const CONFIRMATION_TIMEOUT_CODE = 'LOADER_CONFIRMATION_TIMEOUT';
export const CONFIRMED_VERSION_LOST_CODE = 'LOADER_CONFIRMED_VERSION_LOST';
/** The inference module's refusal for lack of memory: a fact about the device now, not a verdict on the version. */
export const MEMORY_BUDGET_CODE = 'MODEL_MEMORY_BUDGET_EXCEEDED';
/** A version refused for lack of memory is announced again after this many re-send intervals (or sooner, see loader.ts). */
export const MEMORY_RETRY_RESEND_INTERVALS = 10;

const ref = (version: VersionRef): VersionRef => ({ name: version.name, version: version.version });

/**
 * The next steps from the facts to a confirmed target, in order. Pure: the loop executes the first step and plans
 * again, so a restart after a crash continues from whatever the disk and the loader state show. The announced
 * pointer only ever moves to a version on trial (recorded as awaiting first), to the last-known-good, or nowhere.
 */
export function planSteps(target: ModelTarget | undefined, facts: Facts): Step[] {
  const garbage = garbageSteps(facts);
  const settled = settleAwaiting(target, facts);
  if (settled) return [...settled, ...garbage];
  const { announced, awaiting, confirmed } = facts;
  if (facts.confirmedLost) return [{ action: 'forget-lost', lost: facts.confirmedLost.version, error: facts.confirmedLost.error }, ...garbage];
  // Nothing confirmed serves, yet an earlier confirmed version is installed: prove it again before anything else.
  if (!confirmed && !awaiting && facts.recovery) return [...activationSteps(facts.recovery, facts), ...garbage];
  // After a deferral (or a crash between a verdict and the fall-back) the pointer names a version that cannot serve now.
  const deferredAnnounced = announced && facts.deferred.find((entry) => entry.key === announced.key);
  if (deferredAnnounced && awaiting?.version.key !== announced.key && announced.key !== confirmed?.key) return [fallBack(facts, { ...ref(announced), error: deferredAnnounced.error }), ...garbage];
  if (announced?.verdict === 'rejected' && awaiting?.version.key !== announced.key) {
    return [fallBack(facts, { ...ref(announced), error: announced.error ?? { code: 'LOADER_REJECTED', message: 'rejected' } }), ...garbage];
  }
  if (target && !facts.failedPermanently && !facts.targetRejected) {
    const toTarget = stepsToTarget(target, facts);
    if (toTarget.length > 0) return [...toTarget, ...garbage];
  }
  if (awaiting) return [...awaitSteps(awaiting, facts), ...garbage];
  // A pointer on a version that was never confirmed, not awaited (an older loader wrote it): prove it.
  if (announced && announced.key !== confirmed?.key) return [...activationSteps(announced, facts), ...garbage];
  return garbage;
}

/** Confirm or reject the awaited announcement once its status is in, the confirmed pointer names it, or time is up. */
function settleAwaiting(target: ModelTarget | undefined, facts: Facts): Step[] | undefined {
  const { awaiting, status } = facts;
  if (!awaiting) return undefined;
  const version = ref(awaiting.version);
  if (facts.confirmed?.key === awaiting.version.key || status?.outcome === 'accepted') return [{ action: 'confirm', version }];
  let error: ErrorInfo | undefined;
  if (status?.outcome === 'rejected') error = status.error;
  else if (facts.nowMs >= awaiting.deadlineMs) {
    error = { code: CONFIRMATION_TIMEOUT_CODE, message: `the inference module did not confirm ${version.name}@${version.version} within ${facts.policy.confirmTimeoutSeconds} s` };
  }
  if (!error) return undefined;
  if (error.code === MEMORY_BUDGET_CODE) {
    const untilMs = facts.nowMs + MEMORY_RETRY_RESEND_INTERVALS * facts.policy.confirmResendSeconds * 1000;
    return [{ action: 'defer', version: { ...version, key: awaiting.version.key }, error, untilMs }, fallBack(facts, { ...version, error })];
  }
  const blockUnder = target && facts.targetVersion?.key === awaiting.version.key ? target.key : undefined;
  return [{ action: 'reject', version, error, blockUnder }, fallBack(facts, { ...version, error })];
}

function fallBack(facts: Facts, rejected: VersionRef & { error: ErrorInfo }): Step {
  const { confirmed } = facts;
  const isRejected = confirmed?.name === rejected.name && confirmed.version === rejected.version;
  return { action: 'fall-back', to: confirmed && !isRejected ? ref(confirmed) : undefined, rejected };
}

/** Announce a version on trial and wait for its status, or (confirmTimeoutSeconds 0) take the announcement as confirmed. */
function activationSteps(version: VersionRef, facts: Facts): Step[] {
  if (facts.policy.confirmTimeoutSeconds === 0) {
    const announced = facts.announced?.name === version.name && facts.announced.version === version.version && facts.messageSentFor === facts.announced.key;
    return [...(announced ? [] : [{ action: 'announce', version: ref(version), confirmation: 'none' } as const]), { action: 'confirm', version: ref(version) }];
  }
  const untilMs = facts.nowMs + facts.policy.confirmResendSeconds * 1000;
  return [{ action: 'announce', version: ref(version), confirmation: 'await' }, { action: 'await-confirmation', version: ref(version), untilMs }, { action: 'confirm', version: ref(version) }];
}

function awaitSteps(awaiting: NonNullable<Facts['awaiting']>, facts: Facts): Step[] {
  const version = ref(awaiting.version);
  const resendMs = facts.policy.confirmResendSeconds * 1000;
  const resendDue = facts.nowMs >= awaiting.lastSentAtMs + resendMs;
  const untilMs = Math.min(resendDue ? facts.nowMs + resendMs : awaiting.lastSentAtMs + resendMs, awaiting.deadlineMs);
  return [...(resendDue ? [{ action: 'resend', version } as const] : []), { action: 'await-confirmation', version, untilMs }, { action: 'confirm', version }];
}

function stepsToTarget(target: ModelTarget, facts: Facts): Step[] {
  const installed = facts.targetVersion;
  if (!installed) {
    // An installed target that is gone cannot be fetched; the method that set it checked it was there.
    if (target.source === 'installed') return [];
    const version = { name: target.name, version: target.version };
    return [...deliverySteps(target, facts), { action: 'install', target }, ...activationSteps(version, facts)];
  }
  const cleanUp: Step[] = target.source === 'download' && facts.stagingLeftovers ? [{ action: 'clean-staging', target }] : [];
  const pointerOnIt = facts.announced?.key === installed.key && facts.messageSentFor === installed.key;
  if (installed.key === facts.confirmed?.key) return [...cleanUp, ...(pointerOnIt ? [] : [{ action: 'announce', version: ref(installed), confirmation: 'none' } as const])];
  if (facts.deferred.some((entry) => entry.key === installed.key)) return cleanUp;
  if (pointerOnIt && facts.awaiting?.version.key === installed.key) return cleanUp;
  return [...cleanUp, ...activationSteps(installed, facts)];
}

/** How the package gets here: a patch from an installed model, chunks, or the full package, in that order of preference. */
function deliverySteps(target: DownloadTarget, facts: Facts): Step[] {
  if (facts.verifiedPackage) return [];
  const { delta } = facts;
  if (delta?.manifest === 'not-fetched') return [{ action: 'fetch-delta-manifest', target }];
  if (delta?.manifest === 'fetched') {
    if (delta.patchFrom && !delta.failed.includes('patch')) return [{ action: 'fetch-patch', target, from: delta.patchFrom }];
    if (delta.chunks && !delta.failed.includes('chunks')) return [{ action: 'fetch-chunks', target }];
  }
  return [{ action: 'fetch-full', target }];
}

/**
 * Versions beyond the policy: per model name, `keepVersions` besides the announced, the confirmed, the awaited and the
 * target's version (unless rejected); good versions (confirmed or untried, newest first) are kept before rejected ones.
 */
export function versionsToRemove(facts: Facts): VersionRef[] {
  const target = facts.targetRejected ? undefined : facts.targetVersion;
  const kept = new Set([facts.announced?.key, facts.confirmed?.key, facts.awaiting?.version.key, target?.key, facts.recovery?.key].filter((key): key is string => key !== undefined));
  const byName = new Map<string, VersionFact[]>();
  for (const version of facts.versions) {
    if (kept.has(version.key)) continue;
    byName.set(version.name, [...(byName.get(version.name) ?? []), version]);
  }
  const remove: VersionRef[] = [];
  for (const versions of byName.values()) {
    const newestFirst = [...versions].sort((a, b) => b.installedAt.localeCompare(a.installedAt));
    const ordered = [...newestFirst.filter((version) => version.verdict !== 'rejected'), ...newestFirst.filter((version) => version.verdict === 'rejected')];
    remove.push(...ordered.slice(facts.policy.keepVersions).map(ref));
  }
  return remove;
}

function garbageSteps(facts: Facts): Step[] {
  const remove = versionsToRemove(facts);
  return remove.length > 0 ? [{ action: 'collect-garbage', remove }] : [];
}
