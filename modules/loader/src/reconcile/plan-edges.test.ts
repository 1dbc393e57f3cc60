import { describe, expect, it } from 'vitest';
import { planSteps, versionsToRemove, type Facts, type VersionFact } from './plan.js';
import { installedTarget } from './target.js';
import { awaitingV2, none, NOW, policy, serving, target, v1, v2, version } from '../../test/plan-facts.js';

// The boundaries and branches plan.test.ts does not reach: exact deadlines, each condition of "already announced",
// fall-backs that must not go back to the rejected version, and what garbage collection keeps.
const actions = (t: Parameters<typeof planSteps>[0], facts: Facts) => planSteps(t, facts).map((step) => step.action);

describe('planSteps: time', () => {
  it('rejects at the deadline, not a millisecond before', () => {
    expect(actions(target, { ...awaitingV2, awaiting: { ...awaitingV2.awaiting!, deadlineMs: NOW + 1 } })).toEqual(['await-confirmation', 'confirm']);
    expect(actions(target, { ...awaitingV2, awaiting: { ...awaitingV2.awaiting!, deadlineMs: NOW } })).toEqual(['reject', 'fall-back']);
  });

  it('re-sends exactly when the interval has passed, and waits until the next one', () => {
    const sentAt = (lastSentAtMs: number) => planSteps(target, { ...awaitingV2, awaiting: { ...awaitingV2.awaiting!, lastSentAtMs } });
    expect(sentAt(NOW - 29_999)).toEqual([
      { action: 'await-confirmation', version: { name: 'ssd', version: '2' }, untilMs: NOW + 1 },
      { action: 'confirm', version: { name: 'ssd', version: '2' } },
    ]);
    expect(sentAt(NOW - 30_000)).toEqual([
      { action: 'resend', version: { name: 'ssd', version: '2' } },
      { action: 'await-confirmation', version: { name: 'ssd', version: '2' }, untilMs: NOW + 30_000 },
      { action: 'confirm', version: { name: 'ssd', version: '2' } },
    ]);
  });

  it('waits for the first status until one re-send interval after announcing', () => {
    const [, wait] = planSteps(target, { ...serving, versions: [v1, v2], targetVersion: v2 });
    expect(wait).toEqual({ action: 'await-confirmation', version: { name: 'ssd', version: '2' }, untilMs: NOW + 30_000 });
  });
});

describe('planSteps: falling back', () => {
  it('never falls back to the version it rejects, even when that was the confirmed one', () => {
    const confirmedV2 = { ...v2, verdict: 'confirmed' as const };
    const steps = planSteps(target, { ...awaitingV2, confirmed: { ...confirmedV2, key: 'other' }, status: { outcome: 'rejected', error: { code: 'X', message: 'x' } } });
    expect(steps[1]).toMatchObject({ action: 'fall-back', to: undefined });
  });

  it('falls back to a confirmed version of the same number under another name', () => {
    const yolox2 = version('yolox', '2', 'confirmed');
    const steps = planSteps(target, { ...awaitingV2, confirmed: yolox2, status: { outcome: 'rejected', error: { code: 'X', message: 'x' } } });
    expect(steps[1]).toMatchObject({ action: 'fall-back', to: { name: 'yolox', version: '2' } });
  });

  it('gives a rejected pointer without a recorded error the LOADER_REJECTED code', () => {
    const rejected = { ...v2, verdict: 'rejected' as const };
    const [fallBack] = planSteps(undefined, { ...serving, versions: [v1, rejected], announced: rejected, messageSentFor: rejected.key });
    expect(fallBack).toMatchObject({ action: 'fall-back', to: { name: 'ssd', version: '1' }, rejected: { name: 'ssd', version: '2', error: { code: 'LOADER_REJECTED' } } });
  });

  it('settles the awaited verdict first when the pointer names a rejected version that is still awaited', () => {
    const rejected = { ...v2, verdict: 'rejected' as const };
    const facts = { ...awaitingV2, announced: rejected, awaiting: { ...awaitingV2.awaiting!, version: rejected } };
    expect(actions(target, facts)).toEqual(['await-confirmation', 'confirm']);
  });
});

describe('planSteps: what counts as already announced', () => {
  const noWait = { ...policy, confirmTimeoutSeconds: 0 };
  const installed = { ...serving, policy: noWait, versions: [v1, v2], targetVersion: v2 };
  it('announces again unless the pointer names the same name and version and the message for it went out', () => {
    expect(actions(target, { ...installed, announced: v2, messageSentFor: v2.key })).toEqual(['confirm']);
    expect(actions(target, { ...installed, announced: v2, messageSentFor: v1.key })).toEqual(['announce', 'confirm']);
    expect(actions(target, { ...installed, announced: { ...v2, name: 'other' }, messageSentFor: v2.key })).toEqual(['announce', 'confirm']);
    expect(actions(target, { ...installed, announced: { ...v2, version: '3', key: v2.key }, messageSentFor: v2.key })).toEqual(['announce', 'confirm']);
  });

  it('re-announces the confirmed target when the message for the pointer never went out', () => {
    const v1Target = { ...target, version: '1', key: 'k1' };
    expect(planSteps(v1Target, { ...serving, targetVersion: v1, messageSentFor: null })).toEqual([{ action: 'announce', version: { name: 'ssd', version: '1' }, confirmation: 'none' }]);
    expect(planSteps(v1Target, { ...serving, targetVersion: v1, announced: v2, messageSentFor: v1.key })).toEqual([{ action: 'announce', version: { name: 'ssd', version: '1' }, confirmation: 'none' }]);
  });

  it('only cleans staging while the installed target is announced and awaited', () => {
    expect(actions(target, { ...awaitingV2, stagingLeftovers: true })).toEqual(['clean-staging']);
    expect(actions(target, { ...awaitingV2, stagingLeftovers: true, messageSentFor: v1.key })).toEqual(['clean-staging', 'announce', 'await-confirmation', 'confirm']);
  });

  it('never cleans staging for an installed target, which has none', () => {
    const v0 = version('ssd', '0', 'confirmed');
    expect(actions(installedTarget('ssd', '0', '0'.repeat(64)), { ...serving, versions: [v0, v1], targetVersion: v0, stagingLeftovers: true })).toEqual(['announce', 'await-confirmation', 'confirm']);
  });

  it('waits for a verified package to be installed rather than fetching it again', () => {
    expect(actions(target, { ...serving, verifiedPackage: true, delta: { manifest: 'not-fetched' } })).toEqual(['install', 'announce', 'await-confirmation', 'confirm']);
  });

  it('fetches the patch when only chunks failed', () => {
    expect(planSteps(target, { ...serving, delta: { manifest: 'fetched', patchFrom: { name: 'ssd', version: '1' }, chunks: true, failed: ['chunks'] } })[0]).toMatchObject({ action: 'fetch-patch' });
  });
});

describe('versionsToRemove: what it keeps', () => {
  const facts = (versions: VersionFact[], extra: Partial<Facts> = {}): Facts => ({ ...none, policy: { ...policy, keepVersions: 1 }, versions, ...extra });
  const [a, b, c] = ['1', '2', '3'].map((v) => version('ssd', v, 'confirmed')) as [VersionFact, VersionFact, VersionFact];

  it('keeps the awaited version and the target version on top of N', () => {
    expect(versionsToRemove(facts([a, b, c], { awaiting: { version: a, deadlineMs: NOW, lastSentAtMs: NOW } }))).toEqual([{ name: 'ssd', version: '2' }]);
    expect(versionsToRemove(facts([a, b, c], { targetVersion: a }))).toEqual([{ name: 'ssd', version: '2' }]);
  });

  it('does not keep a rejected target version', () => {
    expect(versionsToRemove(facts([a, b, c], { targetVersion: a, targetRejected: true }))).toEqual([{ name: 'ssd', version: '2' }, { name: 'ssd', version: '1' }]);
  });

  it('orders by install time, not by version or by list order', () => {
    const late = version('ssd', '1', 'confirmed', 9);
    expect(versionsToRemove(facts([c, late, b]))).toEqual([{ name: 'ssd', version: '3' }, { name: 'ssd', version: '2' }]);
  });

  it('keeps everything within N', () => {
    expect(versionsToRemove({ ...facts([a, b, c]), policy: { ...policy, keepVersions: 3 } })).toEqual([]);
  });

  it('appends its step to plans that do other work', () => {
    const old = version('ssd', '0', 'confirmed', 1);
    const steps = planSteps(target, { ...serving, policy: { ...policy, keepVersions: 1 }, versions: [old, v1, version('ssd', '5', 'confirmed')] });
    expect(steps[0]).toMatchObject({ action: 'fetch-full' });
    expect(steps.at(-1)).toEqual({ action: 'collect-garbage', remove: [{ name: 'ssd', version: '0' }] });
  });
});

describe('planSteps: a refusal for lack of memory', () => {
  const budget = { code: 'MODEL_MEMORY_BUDGET_EXCEEDED', message: 'needs 400 MB, 120 MB left' };

  it('records no verdict and blocks nothing: it defers the version, falls back to the last-known-good, and collects nothing', () => {
    const steps = planSteps(target, { ...awaitingV2, policy: { ...policy, keepVersions: 1 }, status: { outcome: 'rejected', error: budget } });
    expect(steps).toEqual([
      { action: 'defer', version: { name: 'ssd', version: '2', key: v2.key }, error: budget, untilMs: NOW + 10 * 30_000 },
      { action: 'fall-back', to: { name: 'ssd', version: '1' }, rejected: { name: 'ssd', version: '2', error: budget } },
    ]);
  });

  it('leaves a deferred target alone until its deferral ends, keeping it on disk', () => {
    const deferred = { ...serving, versions: [v1, v2], targetVersion: v2, policy: { ...policy, keepVersions: 1 }, deferred: [{ key: v2.key, error: budget }] };
    expect(planSteps(target, deferred)).toEqual([]);
    expect(actions(target, { ...deferred, deferred: [] })).toEqual(['announce', 'await-confirmation', 'confirm']);
    // The pointer still on the deferred version (the step after the deferral): back to the last-known-good.
    expect(planSteps(target, { ...deferred, announced: v2, messageSentFor: v2.key })).toEqual([{ action: 'fall-back', to: { name: 'ssd', version: '1' }, rejected: { name: 'ssd', version: '2', error: budget } }]);
    // Only the deferred version falls back (another's deferral leaves this one to be tried); one awaited again or confirmed stays.
    expect(actions(target, { ...deferred, announced: v2, messageSentFor: v2.key, deferred: [{ key: 'other', error: budget }] })).toEqual(['announce', 'await-confirmation', 'confirm']);
    expect(actions(target, { ...deferred, announced: v2, messageSentFor: v2.key, awaiting: { version: v2, deadlineMs: NOW + 200_000, lastSentAtMs: NOW } })).toEqual(['await-confirmation', 'confirm']);
    const confirmedV2 = { ...v2, verdict: 'confirmed' as const };
    expect(actions(undefined, { ...deferred, announced: confirmedV2, confirmed: confirmedV2, messageSentFor: v2.key, targetVersion: undefined })).toEqual([]);
  });

  it('is another code than a rejection: a load failure still records the verdict', () => {
    expect(actions(target, { ...awaitingV2, status: { outcome: 'rejected', error: { ...budget, code: 'MODEL_LOAD_FAILED' } } })).toEqual(['reject', 'fall-back']);
  });
});
