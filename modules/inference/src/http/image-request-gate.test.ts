import { describe, expect, it } from 'vitest';
import { bodyTooSlow, EVICTION_MIN_AGE_MS, planEvictions } from './image-request-gate.js';

describe('bodyTooSlow: a minimum average body rate after a grace period', () => {
  it('spares a body within its grace period, a complete one and any with no minimum', () => {
    expect(bodyTooSlow({ complete: false, ageMs: 4_999, bytes: 1 }, 240, 5_000)).toBe(false);
    expect(bodyTooSlow({ complete: true, ageMs: 60_000, bytes: 1 }, 240, 5_000)).toBe(false);
    expect(bodyTooSlow({ complete: false, ageMs: 60_000, bytes: 1 }, 0, 5_000)).toBe(false);
  });
  it('ends one that averages under the minimum since admission', () => {
    expect(bodyTooSlow({ complete: false, ageMs: 10_000, bytes: 2_399 }, 240, 5_000)).toBe(true);
    expect(bodyTooSlow({ complete: false, ageMs: 10_000, bytes: 2_400 }, 240, 5_000)).toBe(false);
  });
});

describe('planEvictions: the slowest bodies still arriving, old enough and slower than the newcomer, until it fits', () => {
  const MiB = 1024 * 1024;
  const entry = (id: string, bytesPerSecond: number, { ageMs = EVICTION_MIN_AGE_MS, complete = false, reservedBytes = MiB } = {}) => ({ id, bytesPerSecond, ageMs, complete, reservedBytes });
  const ids = (victims: { id: string }[] | undefined) => victims?.map((victim) => victim.id);
  const roomy = { limit: 10, budgetBytes: 100 * MiB };

  it('ends nothing when the newcomer fits', () => {
    expect(planEvictions([entry('a', 1)], { bytesPerSecond: 100_000, reservedBytes: MiB }, roomy)).toEqual([]);
  });
  it('ends the slowest when the count is full', () => {
    expect(ids(planEvictions([entry('a', 5), entry('b', 1), entry('c', 65_536)], { bytesPerSecond: 100_000, reservedBytes: MiB }, { ...roomy, limit: 3 }))).toEqual(['b']);
  });
  it('ends the slowest until the bytes fit the budget', () => {
    const admitted = [entry('a', 5, { reservedBytes: 8 * MiB }), entry('b', 1, { reservedBytes: 4 * MiB }), entry('c', 3, { reservedBytes: 4 * MiB })];
    expect(ids(planEvictions(admitted, { bytesPerSecond: 100_000, reservedBytes: 10 * MiB }, { limit: 10, budgetBytes: 20 * MiB }))).toEqual(['b', 'c']);
  });
  it('never a complete body (it is being served), a young one, or one faster than the newcomer', () => {
    const admitted = [entry('done', 0, { ageMs: 10_000, complete: true }), entry('young', 0, { ageMs: EVICTION_MIN_AGE_MS - 1 }), entry('fast', 70_000)];
    expect(planEvictions(admitted, { bytesPerSecond: 65_536, reservedBytes: MiB }, { ...roomy, limit: 3 })).toBeUndefined();
  });
  it('ends nobody when ending every candidate would still not make the newcomer fit', () => {
    const admitted = [entry('slow', 1, { reservedBytes: 4 * MiB }), entry('done', 0, { complete: true, reservedBytes: 12 * MiB })];
    expect(planEvictions(admitted, { bytesPerSecond: 100_000, reservedBytes: 10 * MiB }, { limit: 10, budgetBytes: 20 * MiB })).toBeUndefined();
  });
});
