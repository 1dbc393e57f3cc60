import type { LoaderReported, LoaderUpdateReport, UpdateState } from '@edge-ml/contracts';
import { redactSecrets, type EdgeClient, type Logger } from '@edge-ml/edge-kit';

export interface ProgressUpdate {
  state: UpdateState;
  path?: 'patch' | 'chunks' | 'full';
  bytesFetched?: number;
  bytesReused?: number;
  name?: string;
  version?: string;
  bytesDownloaded?: number;
  bytesTotal?: number;
  confirmDeadline?: string;
  error?: { code: string; message: string } | null;
}

/**
 * Sends the loader's reported properties. Progress while downloading is sent at most every `progressIntervalMs`,
 * state changes at once. Messages pass through redactSecrets: SAS tokens never reach the twin. Every field of
 * `modelUpdate` is sent, null when it does not apply: the hub merges reported properties and would keep a stale one.
 */
export class Reporter {
  private lastProgressAt = 0;
  last: LoaderUpdateReport | undefined;

  constructor(
    private readonly edge: EdgeClient | undefined,
    private readonly logger: Logger,
    private readonly progressIntervalMs = 2_000,
  ) {}

  async update(update: ProgressUpdate, extra: Omit<LoaderReported, 'modelUpdate'> = {}): Promise<void> {
    const now = Date.now();
    const isProgress = update.state === 'downloading' && this.last?.state === 'downloading' && this.last.version === update.version && !update.error;
    if (isProgress && now - this.lastProgressAt < this.progressIntervalMs) return;
    this.lastProgressAt = now;
    const report: LoaderUpdateReport = {
      state: update.state,
      name: update.name ?? null,
      version: update.version ?? null,
      bytesDownloaded: update.bytesDownloaded ?? null,
      bytesTotal: update.bytesTotal ?? null,
      path: update.path ?? null,
      bytesFetched: update.bytesFetched ?? null,
      bytesReused: update.bytesReused ?? null,
      confirmDeadline: update.confirmDeadline ?? null,
      error: update.error ? { code: update.error.code, message: redactSecrets(update.error.message) } : null,
      updatedAt: new Date(now).toISOString(),
    };
    this.last = report;
    if (!isProgress) this.logger.info({ state: report.state, model: report.name, version: report.version, error: report.error }, 'model.update.state');
    await this.edge?.patchReported({ modelUpdate: report, ...extra }).catch((error: unknown) => this.logger.warn({ err: error }, 'reported.update.failed'));
  }
}
