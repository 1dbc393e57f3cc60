import { twinKeyOf, type LoaderModelReport, type LoaderReported, type LoaderUpdateReport, type UpdateState } from '@edge-ml/contracts';
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

/** What a state change of one entry reports besides its progress: its own versions, and for the default entry the top-level fields. */
export interface EntryDescription {
  activeVersion: { version: string; sha256: string } | null;
  installedVersions: string[];
  /** activeModel, LatestAIModelFileName, installedVersions: sent only for the default entry, as before several models. */
  top: Omit<LoaderReported, 'modelUpdate' | 'models' | 'desiredForm'>;
}

/**
 * Sends one entry's reported properties: `models.<twin key of the name>` always (a twin key cannot hold the `.` a
 * model name may: twinKeyOf), and `modelUpdate` plus the top-level fields while
 * the entry is the default one (so single-model users see what they saw before). Without a name (the desired state
 * itself is invalid) only `modelUpdate` is sent. Progress while downloading is sent at most every
 * `progressIntervalMs`, state changes at once. Messages pass through redactSecrets: SAS tokens never reach the twin.
 * Every field is sent, null when it does not apply: the hub merges reported properties and would keep a stale one.
 */
export class Reporter {
  private lastProgressAt = 0;
  last: LoaderUpdateReport | undefined;
  /** Patches leave in the order their updates were made: a state change that awaits its description never lands after a later one. */
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly edge: EdgeClient | undefined,
    private readonly logger: Logger,
    private readonly progressIntervalMs = 2_000,
    private readonly entry?: { name: string; isDefault: () => boolean; describe: () => Promise<EntryDescription> },
  ) {}

  async update(update: ProgressUpdate): Promise<void> {
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
    const patch = this.patchFor(report, isProgress);
    const send = this.sending.then(async () => {
      await this.edge?.patchReported(await patch).catch((error: unknown) => this.logger.warn({ err: error }, 'reported.update.failed'));
    });
    this.sending = send;
    await send;
  }

  /** The entry's installed versions (and the top-level list) after versions were deleted: the twin never lists a deleted one. */
  async reportInstalled(): Promise<void> {
    if (!this.entry) return;
    const description = await this.entry.describe();
    const patch = { models: { [twinKeyOf(this.entry.name)]: { installedVersions: description.installedVersions } }, installedVersions: description.top.installedVersions };
    await this.edge?.patchReported(patch).catch((error: unknown) => this.logger.warn({ err: error }, 'reported.update.failed'));
  }

  private async patchFor(report: LoaderUpdateReport, isProgress: boolean): Promise<Record<string, unknown>> {
    if (!this.entry) return { modelUpdate: report };
    const isDefault = this.entry.isDefault();
    if (isProgress) return { models: { [twinKeyOf(this.entry.name)]: report }, ...(isDefault ? { modelUpdate: report } : {}) };
    const description = await this.entry.describe();
    const entryReport: LoaderModelReport = { ...report, activeVersion: description.activeVersion, installedVersions: description.installedVersions, removeAfter: null };
    return { models: { [twinKeyOf(this.entry.name)]: entryReport }, ...(isDefault ? { modelUpdate: report, ...description.top } : {}) };
  }
}
