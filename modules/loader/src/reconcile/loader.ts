import type { UpdatePolicy } from '@edge-ml/contracts';
import { applyMergePatch, backoffDelayMs, redactSecrets, sleep, type BackoffOptions, type DesiredDocument, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { DiskFullError, LoaderError } from '../errors.js';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '../package/package-limits.js';
import { ModelRepository } from '../repository/model-repository.js';
import { announceVersion, announcementKey, fetchPackage, hasVerifiedPackage, installPackage, isResumableStagingEntry, removeStagingFilesOf, type ExecutorContext } from './executors.js';
import { LoaderStateStore } from './loader-state.js';
import { planSteps, type Facts, type Step } from './plan.js';
import { Reporter } from './reporter.js';
import { desiredTargetKeys, pruneStaging } from './staging-budget.js';
import { targetFingerprint } from './target-fingerprint.js';
import { asDiskFullIfNoSpace } from '../storage/disk-space.js';
import { withRelativeStoragePaths } from '../storage/relative-paths.js';
import { readDesired, type ModelTarget } from './target.js';

export interface LoaderOptions {
  storageRoot: string;
  edge?: EdgeClient;
  logger: Logger;
  limits?: PackageLimits;
  backoff?: BackoffOptions;
  idleTimeoutMs?: number;
  maxBytesPerSecond?: number;
  progressIntervalMs?: number;
}

/**
 * The loader's reconciler: desired properties in, the announced model out. Each round gathers facts from disk,
 * plans, and executes one step; retryable failures back off (capped, jittered) for as long as the desired state
 * stands, permanent ones are reported and wait for a new desired state. A new desired state aborts work in progress.
 */
export class Loader {
  readonly repository: ModelRepository;
  private readonly state: LoaderStateStore;
  private readonly reporter: Reporter;
  private readonly context: ExecutorContext;
  private readonly backoff: BackoffOptions;
  private desired: Record<string, unknown> = {};
  private desiredVersion = -1;
  private runner: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private runningKey: string | undefined;
  private dirty = false;
  private closed = false;
  private stagingPrunedAtStart = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: LoaderOptions) {
    this.repository = new ModelRepository(options.storageRoot);
    this.state = new LoaderStateStore(options.storageRoot);
    this.reporter = new Reporter(options.edge, options.logger, options.progressIntervalMs);
    this.backoff = options.backoff ?? { initialDelayMs: 2_000, maxDelayMs: 5 * 60_000 };
    this.context = {
      repository: this.repository,
      state: this.state,
      reporter: this.reporter,
      edge: options.edge,
      logger: options.logger,
      limits: options.limits ?? DEFAULT_PACKAGE_LIMITS,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      ...(options.maxBytesPerSecond ? { maxBytesPerSecond: options.maxBytesPerSecond } : {}),
    };
  }

  /** Prepares the repository: unfinished extractions are removed, resumable downloads and verified packages kept. */
  async initialise(): Promise<void> {
    await this.repository.initialise();
    await this.state.load();
    const removed = await this.repository.cleanStaging(isResumableStagingEntry);
    if (removed.length > 0) this.options.logger.info({ removed }, 'repository.staging.cleaned');
  }

  /** Takes a full desired document or a patch. Stale or repeated versions are ignored; a full document always wins. */
  applyDesired(document: DesiredDocument): void {
    if (!document.full && document.version <= this.desiredVersion) return;
    this.desired = document.full ? document.properties : applyMergePatch(this.desired, document.properties);
    this.desiredVersion = document.version;
    const override = this.state.current.override;
    if (override && document.version > override.sinceDesiredVersion) void this.state.update({ override: null });
    this.trigger();
  }

  /** Sets a target from a direct method; it holds until a newer desired version arrives. */
  async applyOverride(desired: Record<string, unknown>): Promise<void> {
    await this.state.update({ override: { desired, sinceDesiredVersion: this.desiredVersion } });
    this.trigger();
  }

  /** Resolves once nothing is left to do for the current desired state (for tests and tools). */
  whenIdle(): Promise<void> {
    if (!this.runner) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.controller?.abort(new Error('loader closing'));
    await this.runner;
  }

  private effectiveDesired(): Record<string, unknown> {
    return this.state.current.override?.desired ?? this.desired;
  }

  private resolveTarget(): { target: ModelTarget | undefined; policy: UpdatePolicy; error?: LoaderError } {
    try {
      return readDesired(this.effectiveDesired());
    } catch (error) {
      return { target: undefined, policy: { keepVersions: 2 }, error: error as LoaderError };
    }
  }

  private trigger(): void {
    if (this.closed) return;
    this.dirty = true;
    const { target } = this.resolveTarget();
    if (this.controller && this.runningKey !== (target ? targetFingerprint(target) : undefined)) this.controller.abort(new Error('desired state changed'));
    this.runner ??= this.loop().finally(() => {
      this.runner = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      const { target, policy, error } = this.resolveTarget();
      if (error) {
        this.options.logger.warn({ code: error.code, reason: error.message }, 'desired.invalid');
        await this.reporter.update({ state: 'failed', error: { code: error.code, message: this.outgoingMessage(error) } });
        continue;
      }
      if (!this.stagingPrunedAtStart) {
        this.stagingPrunedAtStart = true;
        await this.pruneStaging('start');
      }
      const controller = new AbortController();
      this.controller = controller;
      this.runningKey = target ? targetFingerprint(target) : undefined;
      await this.reconcile(target, policy, controller.signal);
      this.controller = undefined;
    }
  }

  private async gatherFacts(target: ModelTarget | undefined, policy: UpdatePolicy): Promise<Facts> {
    const installedAll = await this.repository.listInstalled();
    const announced = await this.repository.readAnnounced();
    const excessVersions = Math.max(0, installedAll.filter((entry) => !(announced && entry.name === announced.name && entry.version === announced.version)).length - policy.keepVersions);
    if (!target) return { installed: false, announced: false, verifiedPackage: false, failedPermanently: false, excessVersions };
    const manifest = await this.repository.readManifest(target.name, target.version);
    const installed = manifest !== undefined && (!target.sha256 || manifest.packageSha256 === target.sha256) && (!target.md5 || manifest.packageMd5 === target.md5);
    const failure = this.state.current.failure;
    return {
      installed,
      announced: installed && announced?.name === target.name && announced.version === target.version && this.state.current.messageSentFor === announcementKey(manifest),
      verifiedPackage: await hasVerifiedPackage(this.context, target),
      failedPermanently: failure !== null && failure.fingerprint === targetFingerprint(target),
      excessVersions,
    };
  }

  private async execute(step: Step, policy: UpdatePolicy, signal: AbortSignal): Promise<void> {
    switch (step.action) {
      case 'fetch':
        return fetchPackage(this.context, step.target, signal, policy.maxBytesPerSecond);
      case 'install':
        return installPackage(this.context, step.target, signal);
      case 'announce': {
        const manifest = await this.repository.readManifest(step.target.name, step.target.version);
        if (!manifest) throw new Error(`${step.target.name}@${step.target.version} vanished before it was announced`);
        await announceVersion(this.context, manifest, step.target.fileName);
        if (this.state.current.failure) await this.state.update({ failure: null });
        // A crash between install and the clean-up of its package leaves the package behind; it is not needed now.
        await removeStagingFilesOf(this.context, step.target);
        return;
      }
      case 'collect-garbage': {
        const removed = await this.repository.collectGarbage(policy.keepVersions);
        if (removed.length > 0) this.options.logger.info({ removed }, 'repository.gc');
        return;
      }
    }
  }

  /** An error's message as it may leave the device: secrets redacted, storage paths relative to the storage root. */
  private outgoingMessage(error: unknown): string {
    return withRelativeStoragePaths(redactSecrets(error instanceof Error ? error.message : String(error)), this.options.storageRoot);
  }

  /** Applies the staging budget: keeps what the twin's or a method's desired model refers to, removes the rest. */
  private async pruneStaging(reason: 'start' | 'permanent-failure' | 'disk-full'): Promise<void> {
    try {
      const removed = await pruneStaging(this.repository, desiredTargetKeys([this.desired, this.state.current.override?.desired]));
      if (removed.length > 0) this.options.logger.info({ removed, reason }, 'repository.staging.pruned');
    } catch (error) {
      this.options.logger.warn({ err: error, reason }, 'repository.staging.prune.failed');
    }
  }

  private async reconcile(target: ModelTarget | undefined, policy: UpdatePolicy, signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const [step] = planSteps(target, await this.gatherFacts(target, policy));
      if (!step) return;
      try {
        await this.execute(step, policy, signal);
        if (step.action !== 'collect-garbage') attempt = 0;
      } catch (thrown) {
        if (signal.aborted) return;
        // ENOSPC can strike any write (download, extraction, install, pointer, state): it is always a full disk.
        const error = await asDiskFullIfNoSpace(thrown, this.options.storageRoot);
        const code = error instanceof LoaderError ? error.code : 'LOADER_INTERNAL';
        const message = this.outgoingMessage(error);
        const base = target ? { name: target.name, version: target.version } : {};
        if (target && error instanceof LoaderError && !error.retryable) {
          this.options.logger.error({ code, reason: message, model: target.name, version: target.version }, 'model.update.failed');
          await this.state
            .update({ failure: { key: target.key, url: target.url, fingerprint: targetFingerprint(target), code, message } })
            .catch((stateError: unknown) => this.options.logger.warn({ err: stateError }, 'loader.state.write.failed'));
          await this.reporter.update({ state: 'failed', ...base, error: { code, message } });
          await this.pruneStaging('permanent-failure');
          continue;
        }
        if (error instanceof DiskFullError) await this.pruneStaging('disk-full');
        const delayMs = backoffDelayMs(attempt, this.backoff);
        attempt += 1;
        this.options.logger.warn({ code, reason: message, attempt, delayMs }, 'model.update.retrying');
        await this.reporter.update({ state: step.action === 'fetch' ? 'downloading' : 'failed', ...base, error: { code, message: `${message}; retrying in ${Math.round(delayMs / 1000)} s` } });
        await sleep(delayMs, signal).catch(() => undefined);
      }
    }
  }

}
