import { describe, expect, it } from 'vitest';
import { applyMergePatch } from '@edge-ml/edge-kit';
import { planSteps, type Facts } from './plan.js';
import type { ModelTarget } from './target.js';

const target: ModelTarget = { name: 'ssd', version: '2', url: 'https://x/ssd.zip', fileName: 'ssd.zip', sha256: 'a'.repeat(64), key: 'k' };
const none: Facts = { installed: false, announced: false, verifiedPackage: false, failedPermanently: false, excessVersions: 0 };
const actions = (facts: Partial<Facts>, t: ModelTarget | undefined = target) => planSteps(t, { ...none, ...facts }).map((step) => step.action);

describe('planSteps', () => {
  it('plans the whole update from nothing', () => {
    expect(actions({})).toEqual(['fetch', 'install', 'announce', 'collect-garbage']);
  });
  it('continues from a verified package or an installed version, as a restart finds them', () => {
    expect(actions({ verifiedPackage: true })).toEqual(['install', 'announce', 'collect-garbage']);
    expect(actions({ installed: true })).toEqual(['announce', 'collect-garbage']);
  });
  it('does nothing when the target is announced, except collecting garbage', () => {
    expect(actions({ installed: true, announced: true })).toEqual([]);
    expect(actions({ installed: true, announced: true, excessVersions: 2 })).toEqual(['collect-garbage']);
  });
  it('waits after a permanent failure, and with no target', () => {
    expect(actions({ failedPermanently: true })).toEqual([]);
    expect(planSteps(undefined, none)).toEqual([]);
  });
});

describe('applyMergePatch', () => {
  it('merges objects, replaces values and deletes on null', () => {
    expect(applyMergePatch({ model: { name: 'a', version: '1' }, policy: { keepVersions: 2 } }, { model: { version: '2' }, policy: null })).toEqual({ model: { name: 'a', version: '2' } });
  });
});
