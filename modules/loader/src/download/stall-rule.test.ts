import { describe, expect, it } from 'vitest';
import { DEFAULT_STALL_RULE, stallCheckIntervalMs, stallRuleUnderCap, TransferRateWindow } from './stall-rule.js';

const rule = { minBytesPerSecond: 100, windowMs: 10_000 };

/** Feeds `bytesPerTick` every `tickMs` from 0 to `untilMs`, judging at every check interval; returns the first stall. */
function run(bytesAt: (atMs: number) => number, untilMs: number, tickMs = 100) {
  const window = new TransferRateWindow(rule, 0);
  const interval = stallCheckIntervalMs(rule);
  for (let atMs = tickMs; atMs <= untilMs; atMs += tickMs) {
    const bytes = bytesAt(atMs);
    if (bytes > 0) window.received(atMs, bytes);
    if (atMs % interval === 0) {
      const verdict = window.judge(atMs);
      if (verdict.stalled) return { atMs, ...verdict };
    }
  }
  return undefined;
}

describe('TransferRateWindow', () => {
  it('declares a trickle stalled once the transfer is a window old, with the bytes of that window', () => {
    // One byte every 2 s after a burst: the idle timeout never ends it.
    const stall = run((atMs) => (atMs === 100 ? 500_000 : atMs % 2_000 === 0 ? 1 : 0), 60_000);
    expect(stall).toMatchObject({ stalled: true, atMs: 11_000 });
    expect(stall?.windowBytes).toBeLessThanOrEqual(6);
  });

  it('never declares a steady transfer at the minimum stalled, nor a bursty one that averages above it', () => {
    expect(run(() => 10, 120_000)).toBeUndefined(); // 100 B/s exactly
    expect(run((atMs) => (atMs % 9_000 === 0 ? 2_000 : 0), 120_000)).toBeUndefined(); // silent 9 s, then a burst
  });

  it('declares a transfer stalled when it falls under the minimum later, not only at the start', () => {
    const stall = run((atMs) => (atMs < 30_000 ? 1_000 : atMs % 1_000 === 0 ? 50 : 0), 120_000);
    expect(stall?.atMs).toBeGreaterThan(30_000);
    expect(stall?.atMs).toBeLessThanOrEqual(41_000);
  });

  it('skips a judgement that comes late (the process was paused): its buffered bytes are not read yet', () => {
    const window = new TransferRateWindow(rule, 0);
    window.received(1_000, 5_000);
    expect(window.judge(30_000)).toEqual({ stalled: false });
    window.received(30_001, 5_000);
    expect(window.judge(31_000)).toEqual({ stalled: false });
    expect(window.judge(41_000)).toEqual({ stalled: false }); // late again
    expect(window.judge(42_000)).toEqual({ stalled: true, windowBytes: 0 });
  });

  it('holds a bounded number of samples however many chunks arrive', () => {
    const window = new TransferRateWindow(rule, 0);
    for (let atMs = 1; atMs <= 1_000_000; atMs += 1) window.received(atMs, 1);
    expect((window as unknown as { samples: unknown[] }).samples.length).toBeLessThanOrEqual(70);
    expect(window.judge(1_000_000)).toEqual({ stalled: false });
  });

  it('declares a fast transfer of many small reads stalled one window after it stops dead or slows to a trickle', () => {
    // 10 bytes every 10 ms (1 kB/s) for 30 s, then nothing, or a byte every 20 ms (half the minimum): the window
    // (30 s, 40 s] holds too few bytes, the window (29 s, 39 s] enough.
    for (const after of [0, 1]) {
      const stall = run((atMs) => (atMs <= 30_000 ? 10 : atMs % 20 === 0 ? after : 0), 60_000, 10);
      expect(stall).toMatchObject({ stalled: true, atMs: 40_000 });
      expect(stall?.windowBytes).toBeLessThan(1_000);
    }
  });

  it('declares a transfer that never sends a byte stalled as soon as it is a window old, counted from its own start', () => {
    expect(run(() => 0, 60_000)).toEqual({ stalled: true, windowBytes: 0, atMs: 10_000 });
    // Callers pass the clock (Date.now()), not a time since the start.
    const startedAtMs = 1_700_000_000_000;
    const window = new TransferRateWindow(rule, startedAtMs);
    for (let atMs = startedAtMs + 1_000; atMs < startedAtMs + 10_000; atMs += 1_000) expect(window.judge(atMs)).toEqual({ stalled: false });
    expect(window.judge(startedAtMs + 10_000)).toEqual({ stalled: true, windowBytes: 0 });
  });

  it('judges at exactly two check intervals after the last judgement; only a later one is skipped', () => {
    const window = new TransferRateWindow(rule, 0);
    expect(window.judge(9_000)).toEqual({ stalled: false }); // late, and not a window old anyway
    expect(window.judge(10_000)).toEqual({ stalled: true, windowBytes: 0 });
    expect(window.judge(12_000)).toEqual({ stalled: true, windowBytes: 0 });
    expect(window.judge(14_001)).toEqual({ stalled: false });
  });

  it('counts the bytes of the last window exactly enough: never a stall while the window holds the minimum, always one when even a slightly longer span does not', () => {
    // Random arrivals (bursts, trickles, silences, many small reads) on a 3.2 s window, judged at every check interval,
    // against an exact count: merged samples may count the bytes of one bucket (1/32 of the window) before the window
    // start, never fewer than the window's own.
    const small = { minBytesPerSecond: 100, windowMs: 3_200 };
    const minimum = (small.minBytesPerSecond * small.windowMs) / 1000;
    const bucketMs = small.windowMs / 32;
    const interval = stallCheckIntervalMs(small);
    for (let seed = 1; seed <= 12; seed += 1) {
      let state = seed;
      const random = (below: number) => {
        state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
        return (state >>> 8) % below;
      };
      const arrivals: { atMs: number; bytes: number }[] = [];
      const window = new TransferRateWindow(small, 0);
      const received = (fromMs: number, toMs: number) => arrivals.reduce((sum, arrival) => (arrival.atMs > fromMs && arrival.atMs <= toMs ? sum + arrival.bytes : sum), 0);
      let rate = 0;
      let everyMs = 10;
      let verdicts = 0;
      for (let atMs = 10; atMs <= 40_000; atMs += 10) {
        if (atMs % 1_000 === 0) [rate, everyMs] = [[0, 0, 20, 60, 100, 150, 400, 2_000][random(8)]!, [10, 50, 90, 150, 400, 1_000][random(6)]!];
        if (rate > 0 && atMs % everyMs === 0) {
          const bytes = Math.max(1, Math.round((rate * everyMs) / 1000) + random(5) - 2);
          arrivals.push({ atMs, bytes });
          window.received(atMs, bytes);
        }
        if (atMs % interval !== 0) continue;
        const verdict = window.judge(atMs);
        if (atMs < small.windowMs) {
          expect(verdict).toEqual({ stalled: false });
          continue;
        }
        const inWindow = received(atMs - small.windowMs, atMs);
        const withBucket = received(atMs - small.windowMs - bucketMs, atMs);
        if (inWindow >= minimum) expect(verdict, `seed ${seed} at ${atMs} ms`).toEqual({ stalled: false });
        if (withBucket < minimum) expect(verdict, `seed ${seed} at ${atMs} ms`).toEqual({ stalled: true, windowBytes: expect.any(Number) });
        if (verdict.stalled) {
          expect(verdict.windowBytes).toBeGreaterThanOrEqual(inWindow);
          expect(verdict.windowBytes).toBeLessThanOrEqual(withBucket);
          verdicts += 1;
        }
      }
      expect(verdicts, `seed ${seed}`).toBeGreaterThan(0);
    }
  });

  it('is off with a minimum of 0', () => {
    const window = new TransferRateWindow({ minBytesPerSecond: 0, windowMs: 1_000 }, 0);
    expect(window.judge(125)).toEqual({ stalled: false });
    expect(window.judge(5_000)).toEqual({ stalled: false });
  });
});

describe('stallCheckIntervalMs', () => {
  it('judges eight times a window, at most once a second and at least every 10 ms', () => {
    expect(stallCheckIntervalMs({ minBytesPerSecond: 1, windowMs: 1_000 })).toBe(125);
    expect(stallCheckIntervalMs(DEFAULT_STALL_RULE)).toBe(1_000);
    expect(stallCheckIntervalMs({ minBytesPerSecond: 1, windowMs: 40 })).toBe(10);
  });
});

describe('stallRuleUnderCap', () => {
  it('asks at most half a bandwidth cap, so that throttling never reads as a stall', () => {
    expect(stallRuleUnderCap(DEFAULT_STALL_RULE, undefined)).toEqual(DEFAULT_STALL_RULE);
    expect(stallRuleUnderCap(DEFAULT_STALL_RULE, 1_000_000)).toEqual(DEFAULT_STALL_RULE);
    expect(stallRuleUnderCap(DEFAULT_STALL_RULE, 100)).toEqual({ ...DEFAULT_STALL_RULE, minBytesPerSecond: 50 });
  });
});
