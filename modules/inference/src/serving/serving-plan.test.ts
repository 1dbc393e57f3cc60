import { describe, expect, it } from 'vitest';
import type { ModelAnnouncement, RichModelMessage } from '@edge-ml/contracts';
import { messageVerdict, namesToRemove, planEntryRequests, planFromLegacyPointers, planSource, startupOrder, type ServingPlan } from './serving-plan.js';

const SHA = (digit: string) => digit.repeat(64);
const rich = (name: string, version: string, digit = '1'): RichModelMessage => ({
  schemaVersion: 1,
  name,
  version,
  format: 'onnx',
  sha256: SHA(digit),
  local_model_path: `models/${name}/${version}/model.onnx`,
  local_labelmap_path: `models/${name}/${version}/labels.txt`,
});
const announcement = (name: string, version: string, digit = '1'): ModelAnnouncement => ({
  name,
  version,
  format: 'onnx',
  modelPath: `models/${name}/${version}/model.onnx`,
  labelsPath: `models/${name}/${version}/labels.txt`,
  sha256: SHA(digit),
});
const AT = '2026-11-30T12:00:00.000Z';
const describeRequests = (requests: ReturnType<typeof planEntryRequests>) => requests.map(({ announcement: { name, version }, sendStatus }) => `${name}@${version}${sendStatus ? ' +status' : ''}`);

describe('planEntryRequests', () => {
  const v1 = announcement('detector', '1');
  const v2 = announcement('detector', '2', '2');
  const all = () => true;

  it('brings up an entry that serves nothing with its last-known-good, then its announced version; the loader hears of the announced one only', () => {
    expect(describeRequests(planEntryRequests({ announced: v2, confirmed: v1 }, false, all))).toEqual(['detector@1', 'detector@2 +status']);
    expect(describeRequests(planEntryRequests({ announced: v1, confirmed: v1 }, false, all))).toEqual(['detector@1 +status']);
    expect(describeRequests(planEntryRequests({ announced: v2 }, false, all))).toEqual(['detector@2 +status']);
  });

  it('asks an entry that serves for its announced version only, and only for what the controller wants', () => {
    expect(describeRequests(planEntryRequests({ announced: v2, confirmed: v1 }, true, all))).toEqual(['detector@2 +status']);
    expect(describeRequests(planEntryRequests({ announced: v2, confirmed: v1 }, true, (candidate) => candidate.version !== '2'))).toEqual([]);
    expect(describeRequests(planEntryRequests({ announced: v1, confirmed: v1 }, true, () => false))).toEqual([]);
    expect(describeRequests(planEntryRequests({ announced: v2, confirmed: v1 }, false, (candidate) => candidate.version !== '1'))).toEqual(['detector@2 +status']);
  });

  it('tells versions apart by hash: a rebuilt version of the same number is another one', () => {
    const rebuilt = announcement('detector', '1', '9');
    expect(describeRequests(planEntryRequests({ announced: rebuilt, confirmed: v1 }, false, all))).toEqual(['detector@1', 'detector@1 +status']);
  });
});

describe('planFromLegacyPointers', () => {
  it('serves the announced model and, beside it, the confirmed one of another name; the announced one is the default', () => {
    const plan = planFromLegacyPointers(rich('yolox', '2'), { ...rich('ssd', '1'), confirmedAt: AT }, AT);
    expect(plan?.defaultModel).toBe('yolox');
    expect([...(plan?.entries.keys() ?? [])].sort()).toEqual(['ssd', 'yolox']);
    expect(plan?.entries.get('yolox')?.confirmed).toBeUndefined();
    expect(plan?.entries.get('ssd')).toMatchObject({ announced: { version: '1' }, confirmed: { version: '1' } });
  });

  it('makes a seed-form pointer its own entry, with the confirmed version of its name as its last-known-good', () => {
    const plan = planFromLegacyPointers({ local_model_path: 'models/yolox/3/model.onnx', local_labelmap_path: 'models/yolox/3/labels.txt' }, { ...rich('yolox', '2'), confirmedAt: AT }, AT);
    expect(plan?.defaultModel).toBe('yolox');
    expect(plan?.entries.get('yolox')).toMatchObject({ announced: { version: '3' }, confirmed: { version: '2' } });
    expect(plan?.entries.get('yolox')?.announced).not.toHaveProperty('sha256');
  });

  it('has no plan without pointers', () => {
    expect(planFromLegacyPointers(undefined, undefined, AT)).toBeUndefined();
  });
});

describe('removal and start-up order', () => {
  const plan: ServingPlan = { source: 'index', defaultModel: 'yolox', entries: new Map([['yolox', { announced: announcement('yolox', '1') }], ['classifier', { announced: announcement('classifier', '1') }], ['b', { announced: announcement('b', '1') }]]) };

  it('removes the names the plan no longer lists', () => {
    expect(namesToRemove(['yolox', 'old', 'classifier', 'older'], plan)).toEqual(['old', 'older']);
  });

  it('brings up the default first, then the rest by name', () => {
    expect(startupOrder(plan)).toEqual(['yolox', 'b', 'classifier']);
    expect(startupOrder({ ...plan, defaultModel: null })).toEqual(['b', 'classifier', 'yolox']);
  });
});

describe('planSource: the legacy pointers stand in only before any index existed (or at start-up, for an unreadable one)', () => {
  it.each([
    ['planned', false, false, 'index'],
    ['planned', true, false, 'index'],
    ['missing', false, true, 'legacy'],
    ['missing', false, false, 'legacy'],
    ['missing', true, false, 'keep'],
    ['unreadable', false, true, 'legacy'],
    ['unreadable', true, false, 'keep'],
    ['unreadable', false, false, 'keep'],
  ] as const)('%s, index seen %s, start-up %s: %s', (read, seen, startup, expected) => {
    expect(planSource(read, seen, startup)).toBe(expected);
  });
});

describe('messageVerdict', () => {
  const indexOf = (...names: string[]) => ({ source: 'index' as const, defaultModel: null, entries: new Map(names.map((name) => [name, {} as never])) });
  it('serves a name the index lists, rejects one it does not', () => {
    expect(messageVerdict('a', indexOf('a'), undefined, true)).toBe('serve');
    expect(messageVerdict('b', indexOf('a'), indexOf('a', 'b'), true)).toBe('reject');
  });
  it('with the index missing or unreadable: serves what the last valid index listed, defers the rest', () => {
    expect(messageVerdict('a', undefined, indexOf('a'), true)).toBe('serve');
    expect(messageVerdict('b', undefined, indexOf('a'), true)).toBe('defer');
    expect(messageVerdict('b', undefined, undefined, true)).toBe('defer');
  });
  it('serves everything while no index ever existed (a loader from before the index)', () => {
    expect(messageVerdict('b', undefined, undefined, false)).toBe('serve');
  });
});
