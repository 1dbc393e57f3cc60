import type { ModelStatusMessage } from '@edge-ml/contracts';

/** How many announcements the inbox remembers statuses and sends for; older ones are forgotten first. */
const LIMIT = 64;

/** The key both modules give one announcement: name@version#sha256. */
export const statusKey = (status: Pick<ModelStatusMessage, 'name' | 'version' | 'sha256'>) => `${status.name}@${status.version}#${status.sha256}`;

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= LIMIT) break;
    map.delete(oldest);
  }
}

/**
 * In-memory record of the closed loop within this process: the statuses the inference module sent (the latest per
 * announcement) and when each announcement was last delivered to edgeHub. A restart loses it on purpose: the loader
 * then sends the awaited announcement again, and the inference module answers a repeat again.
 */
export class StatusInbox {
  private readonly statuses = new Map<string, ModelStatusMessage>();
  private readonly firstSentAt = new Map<string, number>();
  private readonly lastSentAt = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  receive(status: ModelStatusMessage): void {
    remember(this.statuses, statusKey(status), status);
    for (const wake of [...this.waiters]) wake();
  }

  statusFor(key: string): ModelStatusMessage | undefined {
    return this.statuses.get(key);
  }

  /** A new announcement of `key`: statuses of earlier ones say nothing about it. */
  startAnnouncement(key: string): void {
    this.statuses.delete(key);
    this.firstSentAt.delete(key);
    this.lastSentAt.delete(key);
  }

  markSent(key: string, atMs: number): void {
    if (!this.firstSentAt.has(key)) remember(this.firstSentAt, key, atMs);
    remember(this.lastSentAt, key, atMs);
  }

  /** When this process first and last delivered the announcement to edgeHub (undefined: not yet). */
  sends(key: string): { firstMs: number | undefined; lastMs: number | undefined } {
    return { firstMs: this.firstSentAt.get(key), lastMs: this.lastSentAt.get(key) };
  }

  /** Resolves when a status for `key` arrives, at `untilMs`, or when the signal aborts, whichever comes first. */
  waitForStatus(key: string, untilMs: number, signal: AbortSignal): Promise<void> {
    if (this.statuses.has(key) || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(onStatus);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const onStatus = () => {
        if (this.statuses.has(key)) done();
      };
      const timer = setTimeout(done, Math.max(0, untilMs - Date.now()));
      this.waiters.add(onStatus);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
