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

  it('is off with a minimum of 0', () => {
    const window = new TransferRateWindow({ minBytesPerSecond: 0, windowMs: 1_000 }, 0);
    expect(window.judge(125)).toEqual({ stalled: false });
    expect(window.judge(5_000)).toEqual({ stalled: false });
  });
});

describe('stallRuleUnderCap', () => {
  it('asks at most half a bandwidth cap, so that throttling never reads as a stall', () => {
    expect(stallRuleUnderCap(DEFAULT_STALL_RULE, undefined)).toEqual(DEFAULT_STALL_RULE);
    expect(stallRuleUnderCap(DEFAULT_STALL_RULE, 1_000_000)).toEqual(DEFAULT_STALL_RULE);
    expect(stallRuleUnderCap(DEFAULT_STALL_RULE, 100)).toEqual({ ...DEFAULT_STALL_RULE, minBytesPerSecond: 50 });
  });
});
