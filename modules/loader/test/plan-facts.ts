import type { Facts, VersionFact } from '../src/reconcile/plan.js';
import type { DownloadTarget } from '../src/reconcile/target.js';

/** Facts the planner tests build on: a device serving ssd@1 (confirmed) that is asked for ssd@2. */
export const target: DownloadTarget = { source: 'download', name: 'ssd', version: '2', url: 'https://x/ssd.zip', fileName: 'ssd.zip', sha256: 'a'.repeat(64), key: 'k2' };
export const NOW = 1_000_000;
export const policy = { keepVersions: 2, confirmTimeoutSeconds: 300, confirmResendSeconds: 30 };
export const version = (name: string, v: string, verdict: VersionFact['verdict'] = 'untried', day = Number(v)): VersionFact => ({
  name,
  version: v,
  key: `${name}@${v}#${String(v).padStart(64, '0')}`,
  installedAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00Z`,
  verdict,
  ...(verdict === 'rejected' ? { error: { code: 'MODEL_LOAD_FAILED', message: 'bad' } } : {}),
});
export const v1 = version('ssd', '1', 'confirmed');
export const v2 = version('ssd', '2');
export const none: Facts = { nowMs: NOW, policy, versions: [], targetVersion: undefined, verifiedPackage: false, stagingLeftovers: false, failedPermanently: false, targetRejected: false, delta: undefined, announced: undefined, messageSentFor: null, confirmed: undefined, awaiting: undefined, status: undefined, confirmedLost: undefined, recovery: undefined, deferred: [] };
/** A device serving v1 (confirmed, announced) that is asked for v2. */
export const serving: Facts = { ...none, versions: [v1], announced: v1, messageSentFor: v1.key, confirmed: v1 };
/** The same device once v2 is installed, announced and awaited. */
export const awaitingV2: Facts = { ...serving, versions: [v1, v2], targetVersion: v2, announced: v2, messageSentFor: v2.key, awaiting: { version: v2, deadlineMs: NOW + 200_000, lastSentAtMs: NOW - 10_000 } };
