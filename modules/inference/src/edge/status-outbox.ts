import type { ModelStatusMessage } from '@edge-ml/contracts';
import type { EdgeClient, EdgeMessage, Logger } from '@edge-ml/edge-kit';

/** The DLModelStatus message for a status body: properties name the version and the outcome, for routes and tools. */
export function statusMessage(status: ModelStatusMessage): EdgeMessage {
  return {
    body: Buffer.from(JSON.stringify(status)),
    properties: { model: `${status.name}@${status.version}`, outcome: status.outcome },
    contentType: 'application/json',
    contentEncoding: 'utf-8',
  };
}

/**
 * Statuses waiting for edgeHub. The client refuses to send while disconnected (at start-up too, before it connects);
 * the latest status of each version is kept (bounded) and sent when `flush` runs again, after every (re)connect.
 */
export class StatusOutbox {
  private readonly pending = new Map<string, ModelStatusMessage>();
  private flushing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly client: EdgeClient,
    private readonly outputName: string,
    private readonly logger: Logger,
    private readonly capacity = 16,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  send(status: ModelStatusMessage): Promise<void> {
    const key = `${status.name}@${status.version}#${status.sha256}`;
    this.pending.delete(key);
    this.pending.set(key, status);
    for (const oldest of this.pending.keys()) {
      if (this.pending.size <= this.capacity) break;
      this.pending.delete(oldest);
    }
    return this.flush();
  }

  /** Sends what is pending, oldest first; stops at the first failure and keeps the rest for the next flush. */
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.again = false;
        for (const [key, status] of this.pending) {
          try {
            await this.client.sendOutput(this.outputName, statusMessage(status));
          } catch (error) {
            this.logger.debug({ err: error, model: key }, 'model.status.deferred');
            return;
          }
          if (this.pending.get(key) === status) this.pending.delete(key);
          this.logger.info({ model: status.name, version: status.version, outcome: status.outcome, trigger: status.trigger }, 'model.status.sent');
        }
      } while (this.again);
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }
}
