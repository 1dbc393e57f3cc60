import { describe, expect, it } from 'vitest';
import { bodyTooSlow, EVICTION_MIN_AGE_MS, evictionCandidate } from './image-request-gate.js';

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

describe('evictionCandidate: the slowest body still arriving, old enough and slower than the newcomer', () => {
  const entry = (id: string, bytesPerSecond: number, ageMs = EVICTION_MIN_AGE_MS, complete = false) => ({ id, bytesPerSecond, ageMs, complete });
  it('picks the slowest', () => {
    expect(evictionCandidate([entry('a', 5), entry('b', 1), entry('c', 65_536)], 100_000)?.id).toBe('b');
  });
  it('never a complete body (it is being served), a young one, or one faster than the newcomer', () => {
    expect(evictionCandidate([entry('done', 0, 10_000, true), entry('young', 0, EVICTION_MIN_AGE_MS - 1), entry('fast', 70_000)], 65_536)).toBeUndefined();
  });
});
