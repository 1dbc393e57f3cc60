import { describe, expect, it } from 'vitest';
import { planRemovals } from './removal-plan.js';

const NOW = 1_000_000;
const GRACE = 3_600_000;
const removed = (name: string, removedAtMs = NOW, indexed = true, confirmed = true) => ({ name, removedAtMs, indexed, confirmed });
const remaining = (name: string, settled = true, confirmed = true) => ({ name, settled, confirmed });

describe('planRemovals: never dark', () => {
  it('drops a removed entry from the index once every remaining entry is settled and one is confirmed', () => {
    expect(planRemovals([removed('cls')], [remaining('ssd')], NOW, GRACE)).toEqual({ unindex: ['cls'], purge: [], nextCheckMs: NOW + GRACE });
    expect(planRemovals([removed('cls')], [remaining('ssd'), remaining('yolox', true, false)], NOW, GRACE).unindex).toEqual(['cls']);
  });
  it('keeps it while a remaining entry is in progress, or none is confirmed', () => {
    expect(planRemovals([removed('cls')], [remaining('ssd', false, true)], NOW, GRACE).unindex).toEqual([]);
    expect(planRemovals([removed('cls')], [remaining('ssd'), remaining('yolox', false)], NOW, GRACE).unindex).toEqual([]);
    expect(planRemovals([removed('cls')], [remaining('ssd', true, false)], NOW, GRACE).unindex).toEqual([]);
  });
  it('drops everything when no entry remains: the operator emptied the desired state', () => {
    expect(planRemovals([removed('cls'), removed('ssd')], [], NOW, GRACE).unindex).toEqual(['cls', 'ssd']);
  });
  it('drops at once a removed entry with no confirmed version: it serves nothing proven', () => {
    expect(planRemovals([removed('cls', NOW, true, false), removed('old')], [remaining('ssd', false)], NOW, GRACE).unindex).toEqual(['cls']);
  });
  it('does not drop again what is out of the index already', () => {
    expect(planRemovals([removed('cls', NOW, false)], [remaining('ssd')], NOW, GRACE).unindex).toEqual([]);
  });
});

describe('planRemovals: grace period', () => {
  it('deletes the versions of an entry out of the index once its grace period is over, not before', () => {
    expect(planRemovals([removed('cls', NOW - GRACE, false)], [remaining('ssd')], NOW, GRACE)).toEqual({ unindex: [], purge: ['cls'], nextCheckMs: undefined });
    expect(planRemovals([removed('cls', NOW - GRACE + 1, false)], [remaining('ssd')], NOW, GRACE)).toEqual({ unindex: [], purge: [], nextCheckMs: NOW + 1 });
  });
  it('never deletes the versions of an entry the index still serves, even past its grace period', () => {
    expect(planRemovals([removed('cls', NOW - 2 * GRACE)], [remaining('ssd', false)], NOW, GRACE)).toEqual({ unindex: [], purge: [], nextCheckMs: undefined });
  });
  it('unindexes and deletes in one go with no grace, and looks again at the earliest pending deadline', () => {
    expect(planRemovals([removed('cls')], [remaining('ssd')], NOW, 0)).toEqual({ unindex: ['cls'], purge: ['cls'], nextCheckMs: undefined });
    expect(planRemovals([removed('a', NOW - 10, false), removed('b', NOW - 20, false)], [], NOW, 100).nextCheckMs).toBe(NOW + 80);
  });
});
