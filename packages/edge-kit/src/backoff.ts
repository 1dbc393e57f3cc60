export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier?: number;
}

/** Capped exponential backoff with full jitter: attempt 0 waits up to initialDelayMs, later attempts grow until maxDelayMs. */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const multiplier = options.multiplier ?? 2;
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * multiplier ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
