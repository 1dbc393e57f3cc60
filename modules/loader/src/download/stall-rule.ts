/** A body must average at least `minBytesPerSecond` over every `windowMs` (once it is that old); 0 turns the rule off. */
export interface StallRule {
  minBytesPerSecond: number;
  windowMs: number;
}

/**
 * 64 B/s over 5 minutes (19,200 bytes per window): a satellite link of 2 KB/s shared by eight transfers at once gives
 * each four times that, so even one that gets a quarter of its fair share passes; a body trickling a byte every few
 * seconds fails after 5 minutes instead of never.
 */
export const DEFAULT_STALL_RULE: StallRule = { minBytesPerSecond: 64, windowMs: 300_000 };

/** Under a bandwidth cap the rule never asks for more than half the cap, so that throttling never reads as a stall. */
export function stallRuleUnderCap(rule: StallRule, maxBytesPerSecond: number | undefined): StallRule {
  if (!maxBytesPerSecond) return rule;
  return { ...rule, minBytesPerSecond: Math.min(rule.minBytesPerSecond, Math.floor(maxBytesPerSecond / 2)) };
}

/** How often a transfer's rate is judged: often enough to end a stall soon after the window, at most once a second. */
export const stallCheckIntervalMs = (rule: StallRule) => Math.min(1_000, Math.max(10, Math.floor(rule.windowMs / 8)));

export type StallVerdict = { stalled: false } | { stalled: true; windowBytes: number };

/**
 * The bytes a transfer received over time, enough to tell how many arrived in the last window. Pure: the caller
 * passes the time. Samples are merged so that at most about 32 per window are held; a merged sample keeps its exact
 * count at its own time, so the bytes of a window are never undercounted (a stall is never declared early).
 */
export class TransferRateWindow {
  /** Cumulative byte counts at the time they were reached, oldest first. */
  private readonly samples: { atMs: number; totalBytes: number }[];
  private totalBytes = 0;
  private lastJudgedAtMs: number;
  private readonly bucketMs: number;

  constructor(
    private readonly rule: StallRule,
    private readonly startedAtMs: number,
  ) {
    this.samples = [{ atMs: startedAtMs, totalBytes: 0 }];
    this.lastJudgedAtMs = startedAtMs;
    this.bucketMs = Math.max(1, rule.windowMs / 32);
  }

  received(nowMs: number, bytes: number): void {
    this.totalBytes += bytes;
    const last = this.samples.at(-1);
    const beforeLast = this.samples.at(-2);
    // The newest sample moves forward within its bucket; the first sample (the start) never moves.
    if (last && beforeLast && nowMs - beforeLast.atMs < this.bucketMs) Object.assign(last, { atMs: nowMs, totalBytes: this.totalBytes });
    else this.samples.push({ atMs: nowMs, totalBytes: this.totalBytes });
    // Samples older than the latest one at or before the window's start are never read again.
    // Stryker disable next-line OptionalChaining: equivalent, a window is at least 1 ms (config), so the newest sample never leaves and samples[1] exists.
    while ((this.samples[1]?.atMs ?? Number.POSITIVE_INFINITY) <= nowMs - this.rule.windowMs) this.samples.shift();
  }

  /**
   * Whether the transfer is stalled at `nowMs`. A judgement that comes more than two check intervals after the last
   * one is skipped: the process itself was paused (a busy CPU, a suspended device), and its buffered bytes are not
   * read yet.
   */
  judge(nowMs: number): StallVerdict {
    const paused = nowMs - this.lastJudgedAtMs > 2 * stallCheckIntervalMs(this.rule);
    this.lastJudgedAtMs = nowMs;
    if (paused || this.rule.minBytesPerSecond <= 0 || nowMs - this.startedAtMs < this.rule.windowMs) return { stalled: false };
    const windowStartMs = nowMs - this.rule.windowMs;
    const before = this.samples.filter((sample) => sample.atMs <= windowStartMs).at(-1) ?? { totalBytes: 0 };
    const windowBytes = this.totalBytes - before.totalBytes;
    return windowBytes < (this.rule.minBytesPerSecond * this.rule.windowMs) / 1000 ? { stalled: true, windowBytes } : { stalled: false };
  }
}
