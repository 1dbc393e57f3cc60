import { describe, expect, it } from 'vitest';
import { applyMergePatch } from '@edge-ml/edge-kit';
import { CONFIRMATION_TIMEOUT_CODE, CONFIRMED_VERSION_LOST_CODE, planSteps, versionsToRemove, type Facts, type VersionFact } from './plan.js';
import { installedTarget } from './target.js';
import { awaitingV2, none, NOW, policy, serving, target, v1, v2, version } from '../../test/plan-facts.js';

const actions = (facts: Partial<Facts>, t: Parameters<typeof planSteps>[0] = target) => planSteps(t, { ...serving, ...facts }).map((step) => step.action);

describe('planSteps: delivery', () => {
  it('plans the whole update from nothing: full download, install, announce, await the status, confirm', () => {
    expect(actions({})).toEqual(['fetch-full', 'install', 'announce', 'await-confirmation', 'confirm']);
  });
  it('takes the announcement as confirmed when the policy does not wait (confirmTimeoutSeconds 0)', () => {
    expect(actions({ policy: { ...policy, confirmTimeoutSeconds: 0 } })).toEqual(['fetch-full', 'install', 'announce', 'confirm']);
    expect(planSteps(target, { ...serving, policy: { ...policy, confirmTimeoutSeconds: 0 } })[2]).toMatchObject({ action: 'announce', confirmation: 'none' });
    expect(actions({ policy: { ...policy, confirmTimeoutSeconds: 0 }, versions: [v1, v2], targetVersion: v2, announced: v2, messageSentFor: v2.key })).toEqual(['confirm']);
  });
  it('fetches the delta manifest first, then prefers a patch, then chunks, then the full package as paths fail', () => {
    expect(actions({ delta: { manifest: 'not-fetched' } })[0]).toBe('fetch-delta-manifest');
    expect(planSteps(target, { ...serving, delta: { manifest: 'fetched', patchFrom: { name: 'ssd', version: '1' }, chunks: true, failed: [] } })[0]).toEqual({ action: 'fetch-patch', target, from: { name: 'ssd', version: '1' } });
    expect(actions({ delta: { manifest: 'fetched', patchFrom: { name: 'ssd', version: '1' }, chunks: true, failed: ['patch'] } })[0]).toBe('fetch-chunks');
    expect(actions({ delta: { manifest: 'fetched', chunks: true, failed: [] } })[0]).toBe('fetch-chunks');
    expect(actions({ delta: { manifest: 'fetched', chunks: true, failed: ['chunks'] } })[0]).toBe('fetch-full');
    expect(actions({ delta: { manifest: 'fetched', chunks: false, failed: [] } })[0]).toBe('fetch-full');
    expect(actions({ delta: { manifest: 'unusable' } })[0]).toBe('fetch-full');
  });
  it('continues from a verified package or an installed version, as a restart finds them', () => {
    expect(actions({ verifiedPackage: true })).toEqual(['install', 'announce', 'await-confirmation', 'confirm']);
    expect(actions({ versions: [v1, v2], targetVersion: v2 })).toEqual(['announce', 'await-confirmation', 'confirm']);
    expect(actions({ versions: [v1, v2], targetVersion: v2, stagingLeftovers: true })[0]).toBe('clean-staging');
  });
  it('waits after a permanent failure, and with no target', () => {
    expect(actions({ failedPermanently: true })).toEqual([]);
    expect(planSteps(undefined, serving)).toEqual([]);
    expect(planSteps(undefined, none)).toEqual([]);
  });
});

describe('planSteps: confirmation', () => {
  it('waits for the status until the next re-send, and re-sends when it is due', () => {
    expect(planSteps(target, awaitingV2)).toEqual([
      { action: 'await-confirmation', version: { name: 'ssd', version: '2' }, untilMs: NOW + 20_000 },
      { action: 'confirm', version: { name: 'ssd', version: '2' } },
    ]);
    const due = { ...awaitingV2, awaiting: { ...awaitingV2.awaiting!, lastSentAtMs: NOW - 30_000 } };
    expect(planSteps(target, due).map((step) => step.action)).toEqual(['resend', 'await-confirmation', 'confirm']);
    const nearDeadline = { ...awaitingV2, awaiting: { ...awaitingV2.awaiting!, deadlineMs: NOW + 5_000 } };
    expect(planSteps(target, nearDeadline)[0]).toMatchObject({ action: 'await-confirmation', untilMs: NOW + 5_000 });
  });
  it('confirms on an accepted status, or when the confirmed pointer already names the version (a crash in between)', () => {
    expect(actions({ ...awaitingV2, status: { outcome: 'accepted' } })).toEqual(['confirm']);
    expect(actions({ ...awaitingV2, confirmed: { ...v2, verdict: 'confirmed' } })).toEqual(['confirm']);
  });
  it('on a rejected status records the verdict under the target and announces the last-known-good again', () => {
    const error = { code: 'MODEL_LOAD_FAILED', message: 'protobuf parsing failed' };
    expect(planSteps(target, { ...awaitingV2, status: { outcome: 'rejected', error } })).toEqual([
      { action: 'reject', version: { name: 'ssd', version: '2' }, error, blockUnder: 'k2' },
      { action: 'fall-back', to: { name: 'ssd', version: '1' }, rejected: { name: 'ssd', version: '2', error } },
    ]);
  });
  it('rejects with LOADER_CONFIRMATION_TIMEOUT once the deadline passes without a status', () => {
    const [reject] = planSteps(target, { ...awaitingV2, awaiting: { ...awaitingV2.awaiting!, deadlineMs: NOW } });
    expect(reject).toMatchObject({ action: 'reject', error: { code: CONFIRMATION_TIMEOUT_CODE } });
  });
  it('withdraws the pointer when the rejected version had no last-known-good to fall back to', () => {
    const first = { ...none, versions: [v2], targetVersion: v2, announced: v2, messageSentFor: v2.key, awaiting: { version: v2, deadlineMs: NOW, lastSentAtMs: NOW } };
    expect(planSteps(target, first)[1]).toMatchObject({ action: 'fall-back', to: undefined });
  });
  it('does not block a version rejected after the target moved on', () => {
    const moved = { ...target, version: '3', key: 'k3' };
    const [reject] = planSteps(moved, { ...awaitingV2, targetVersion: undefined, status: { outcome: 'rejected', error: { code: 'X', message: 'x' } } });
    expect(reject).toMatchObject({ action: 'reject', blockUnder: undefined });
  });
  it('moves the pointer back from a rejected version that is no longer awaited (a crash after the verdict)', () => {
    const rejected = version('ssd', '2', 'rejected');
    expect(planSteps(target, { ...serving, versions: [v1, rejected], targetVersion: rejected, targetRejected: true, announced: rejected, messageSentFor: rejected.key })).toEqual([
      { action: 'fall-back', to: { name: 'ssd', version: '1' }, rejected: { name: 'ssd', version: '2', error: rejected.error } },
    ]);
  });
  it('never announces a rejected target again while it stands', () => {
    const rejected = version('ssd', '2', 'rejected');
    expect(actions({ versions: [v1, rejected], targetVersion: rejected, targetRejected: true })).toEqual([]);
    expect(actions({ targetRejected: true })).toEqual([]);
  });
  it('announces the last-known-good without waiting when it is the target but not the pointer', () => {
    const v1Target = { ...target, version: '1', key: 'k1' };
    expect(planSteps(v1Target, { ...serving, targetVersion: v1, announced: undefined, messageSentFor: null })).toEqual([{ action: 'announce', version: { name: 'ssd', version: '1' }, confirmation: 'none' }]);
    expect(planSteps(v1Target, { ...serving, targetVersion: v1 })).toEqual([]);
  });
  it('puts an installed version (a rollback) on trial like any other', () => {
    const v0 = version('ssd', '0', 'confirmed');
    expect(planSteps(installedTarget('ssd', '0', '0'.repeat(64)), { ...serving, versions: [v0, v1], targetVersion: v0 }).map((step) => step.action)).toEqual(['announce', 'await-confirmation', 'confirm']);
    expect(planSteps(installedTarget('ssd', '9', '9'.repeat(64)), serving)).toEqual([]);
  });
  it('proves a pointer that was never confirmed nor awaited (an older loader wrote it), and re-announces a lost trial', () => {
    expect(planSteps(undefined, { ...none, versions: [v2], announced: v2, messageSentFor: v2.key }).map((step) => step.action)).toEqual(['announce', 'await-confirmation', 'confirm']);
    expect(actions({ versions: [v1, v2], targetVersion: v2, announced: v2, messageSentFor: v1.key })).toEqual(['announce', 'await-confirmation', 'confirm']);
  });
  it('settles an awaited announcement before fetching a newer target', () => {
    const v3Target = { ...target, version: '3', key: 'k3' };
    expect(planSteps(v3Target, { ...awaitingV2, targetVersion: undefined }).map((step) => step.action)).toEqual(['fetch-full', 'install', 'announce', 'await-confirmation', 'confirm']);
    expect(planSteps(v3Target, { ...awaitingV2, targetVersion: undefined, status: { outcome: 'accepted' } })[0]).toMatchObject({ action: 'confirm', version: { version: '2' } });
  });
});

describe('planSteps: a lost last-known-good', () => {
  const lost = { version: { name: 'ssd', version: '2', key: v2.key }, error: { code: 'LOADER_CONFIRMED_VERSION_LOST', message: 'gone' } };
  const v0 = version('ssd', '0', 'confirmed');
  it('reports stable codes', () => {
    expect(CONFIRMED_VERSION_LOST_CODE).toBe('LOADER_CONFIRMED_VERSION_LOST');
    expect(CONFIRMATION_TIMEOUT_CODE).toBe('LOADER_CONFIRMATION_TIMEOUT');
  });
  it('forgets it first, before waiting for or fetching anything', () => {
    expect(planSteps(target, { ...serving, confirmed: undefined, confirmedLost: lost, recovery: v1 })).toEqual([{ action: 'forget-lost', lost: lost.version, error: lost.error }]);
  });
  it('settles an awaited announcement before forgetting', () => {
    expect(actions({ ...awaitingV2, confirmed: undefined, confirmedLost: lost, status: { outcome: 'accepted' } })).toEqual(['confirm']);
  });
  it('then puts the newest earlier confirmed version on trial, whatever the target', () => {
    const rejectedTarget = { ...serving, versions: [v0, v1], confirmed: undefined, announced: undefined, messageSentFor: null, recovery: v0, targetRejected: true };
    expect(planSteps(target, rejectedTarget).map((step) => step.action)).toEqual(['announce', 'await-confirmation', 'confirm']);
    expect(planSteps(target, rejectedTarget)[0]).toMatchObject({ action: 'announce', version: { name: 'ssd', version: '0' }, confirmation: 'await' });
    expect(planSteps(undefined, { ...rejectedTarget, policy: { ...policy, confirmTimeoutSeconds: 0 } }).map((step) => step.action)).toEqual(['announce', 'confirm']);
  });
  it('does not put it on trial while something is confirmed or awaited', () => {
    expect(planSteps(undefined, { ...serving, recovery: v0 })).toEqual([]);
    expect(planSteps(undefined, { ...awaitingV2, confirmed: undefined, recovery: v0 })[0]).toMatchObject({ action: 'await-confirmation' });
  });
  it('keeps the recovery version from garbage collection', () => {
    const old = version('ssd', '0', 'confirmed', 1);
    expect(versionsToRemove({ ...none, policy: { ...policy, keepVersions: 1 }, versions: [old, v1, version('ssd', '5', 'confirmed')], recovery: old })).toEqual([{ name: 'ssd', version: '1' }]);
  });
});

describe('versionsToRemove: keep N of each name besides the announced, confirmed, awaited and target versions', () => {
  const facts = (versions: VersionFact[], extra: Partial<Facts> = {}): Facts => ({ ...none, policy: { ...policy, keepVersions: 1 }, versions, ...extra });
  it('removes the oldest good versions beyond N, never the pointers', () => {
    const [a, b, c, d] = ['1', '2', '3', '4'].map((v) => version('ssd', v, 'confirmed'));
    expect(versionsToRemove(facts([a!, b!, c!, d!], { announced: a, confirmed: a }))).toEqual([{ name: 'ssd', version: '3' }, { name: 'ssd', version: '2' }]);
  });
  it('removes rejected versions first: a bad version never displaces a good one', () => {
    const good = version('ssd', '1', 'confirmed');
    const untried = version('ssd', '2', 'untried');
    const bad = version('ssd', '3', 'rejected');
    const lkg = version('ssd', '4', 'confirmed');
    expect(versionsToRemove(facts([good, untried, bad, lkg], { announced: lkg, confirmed: lkg }))).toEqual([{ name: 'ssd', version: '1' }, { name: 'ssd', version: '3' }]);
    expect(versionsToRemove({ ...facts([good, bad, lkg], { announced: lkg, confirmed: lkg }), policy: { ...policy, keepVersions: 2 } })).toEqual([]);
  });
  it('counts each model name separately', () => {
    const versions = [version('ssd', '1'), version('ssd', '2'), version('yolox', '1'), version('yolox', '2')];
    expect(versionsToRemove(facts(versions))).toEqual([{ name: 'ssd', version: '1' }, { name: 'yolox', version: '1' }]);
  });
  it('is part of every plan once there is something to remove', () => {
    const old = version('ssd', '0', 'confirmed', 1);
    expect(planSteps(undefined, { ...serving, policy: { ...policy, keepVersions: 1 }, versions: [old, v1, version('ssd', '5', 'confirmed')] }).at(-1)).toEqual({ action: 'collect-garbage', remove: [{ name: 'ssd', version: '0' }] });
  });
});

describe('applyMergePatch', () => {
  it('merges objects, replaces values and deletes on null', () => {
    expect(applyMergePatch({ model: { name: 'a', version: '1' }, policy: { keepVersions: 2 } }, { model: { version: '2' }, policy: null })).toEqual({ model: { name: 'a', version: '2' } });
  });
});
