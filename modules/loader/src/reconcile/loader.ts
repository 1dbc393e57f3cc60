import { desiredFormOf, UpdatePolicySchema, type ModelStatusMessage, type OverrideTarget, type UpdatePolicy } from '@edge-ml/contracts';
import { applyMergePatch, backoffDelayMs, redactSecrets, sleep, type BackoffOptions, type DesiredDocument, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { registerStatusInput } from '../edge/status-input.js';
import { DiskFullError, LoaderError } from '../errors.js';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '../package/package-limits.js';
import { ModelRepository } from '../repository/model-repository.js';
import { isResumableStagingEntry, type DeltaNote, type ExecutorContext } from './executors.js';
import { gatherFacts } from './gather-facts.js';
import { LoaderStateStore } from './loader-state.js';
import { planSteps, type Step } from './plan.js';
import { Reporter } from './reporter.js';
import { statusKey, StatusInbox } from './status-inbox.js';
import { createStepExecutors, executeStep } from './step-executors.js';
import { desiredTargetKeys, pruneStaging } from './staging-budget.js';
import { targetFingerprint } from './target-fingerprint.js';
import { asDiskFullIfNoSpace } from '../storage/disk-space.js';
import { withRelativeStoragePaths } from '../storage/relative-paths.js';
import { installedTarget, readDesired, type ModelTarget } from './target.js';

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
 * The loader's reconciler: desired properties in, a confirmed model out. Each round gathers facts from disk and from
 * the inference module's statuses, plans, and executes one step; retryable failures back off (capped, jittered) for
 * as long as the desired state stands, permanent ones are reported and wait for a new desired state. A new desired
 * state aborts work in progress, including a wait for confirmation.
 */
export class Loader {
  readonly repository: ModelRepository;
  private readonly state: LoaderStateStore;
  private readonly reporter: Reporter;
  private readonly inbox = new StatusInbox();
  private readonly deltas = new Map<string, DeltaNote>();
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
  /** The desired form last reported (JSON), so that it is reported when it changes only. */
  private reportedDesiredForm: string | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: LoaderOptions) {
    this.repository = new ModelRepository(options.storageRoot);
    this.state = new LoaderStateStore(options.storageRoot, options.logger);
    this.reporter = new Reporter(options.edge, options.logger, options.progressIntervalMs);
    this.backoff = options.backoff ?? { initialDelayMs: 2_000, maxDelayMs: 5 * 60_000 };
    this.context = {
      repository: this.repository,
      state: this.state,
      reporter: this.reporter,
      inbox: this.inbox,
      deltas: this.deltas,
      edge: options.edge,
      logger: options.logger,
      limits: options.limits ?? DEFAULT_PACKAGE_LIMITS,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      ...(options.maxBytesPerSecond ? { maxBytesPerSecond: options.maxBytesPerSecond } : {}),
    };
    if (options.edge) registerStatusInput(options.edge, options.logger, (status) => this.receiveStatus(status));
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
  async applyOverride(target: OverrideTarget): Promise<void> {
    await this.state.update({ override: { target, sinceDesiredVersion: this.desiredVersion } });
    this.trigger();
  }

  /** A DLModelStatus from the inference module (already parsed): kept for the announcement it names, and the loop woken. */
  receiveStatus(status: ModelStatusMessage): void {
    this.inbox.receive(status);
    this.options.logger.info({ model: status.name, version: status.version, outcome: status.outcome, trigger: status.trigger, ...(status.outcome === 'rejected' ? { code: status.error.code } : {}) }, 'model.status.received');
    // A rejection may also concern the last-known-good (its files lost): the planner decides.
    if (!this.runner && (this.state.current.awaiting?.key === statusKey(status) || status.outcome === 'rejected')) this.trigger();
  }

  /** The loader's state as read back from storage: verdicts, confirmation history, what is awaited. */
  get loaderState() {
    return this.state.current;
  }

  /** Resolves once nothing is left to do for the current desired state, including waiting for confirmation (for tests and tools). */
  whenIdle(): Promise<void> {
    if (!this.runner) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.controller?.abort(new Error('loader closing'));
    await this.runner;
  }

  /** The target of the twin's desired properties, and the policy (which an override set by updateModel may carry). */
  private resolveTarget(): { target: ModelTarget | undefined; policy: UpdatePolicy; error?: LoaderError } {
    const override = this.state.current.override?.target;
    if (override?.source === 'installed') {
      // A rollback names its target itself; the twin only lends the policy (the defaults when it does not parse).
      let policy = UpdatePolicySchema.parse({});
      try {
        policy = readDesired(this.desired).policy;
      } catch {
        // keep the defaults
      }
      return { target: installedTarget(override.name, override.version, override.modelSha256), policy };
    }
    try {
      return readDesired(override?.source === 'desired' ? override.desired : this.desired);
    } catch (error) {
      return { target: undefined, policy: UpdatePolicySchema.parse({}), error: error as LoaderError };
    }
  }

  /** What a running round works for: a change of any field of the target aborts it. */
  private static runKey(target: ModelTarget | undefined): string | undefined {
    return target ? targetFingerprint(target) : undefined;
  }

  private trigger(): void {
    if (this.closed) return;
    this.dirty = true;
    const { target } = this.resolveTarget();
    if (this.controller && this.runningKey !== Loader.runKey(target)) this.controller.abort(new Error('desired state changed'));
    this.runner ??= this.loop().finally(() => {
      this.runner = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      await this.reportDesiredForm();
      const { target, policy, error } = this.resolveTarget();
      if (error) {
        this.options.logger.warn({ code: error.code, reason: error.message }, 'desired.invalid');
        await this.reporter.update({ state: 'failed', error: { code: error.code, message: this.outgoingMessage(error) } });
        continue;
      }
      // Only once desired properties arrived: a status may wake the loop before, when no target is known yet.
      if (!this.stagingPrunedAtStart && this.desiredVersion >= 0) {
        this.stagingPrunedAtStart = true;
        await this.pruneStaging('start');
      }
      await this.releaseRejections();
      const controller = new AbortController();
      this.controller = controller;
      this.runningKey = Loader.runKey(target);
      await this.reconcile(target, policy, controller.signal);
      this.controller = undefined;
    }
  }

  /** Tells the twin which desired form is followed, and which seed fields a rich `model` makes it ignore. */
  private async reportDesiredForm(): Promise<void> {
    if (this.desiredVersion < 0) return;
    const desiredForm = desiredFormOf(this.desired);
    const key = JSON.stringify(desiredForm);
    if (key === this.reportedDesiredForm) return;
    this.reportedDesiredForm = key;
    if (desiredForm.ignored.length > 0) this.options.logger.warn({ followed: desiredForm.followed, ignored: desiredForm.ignored }, 'desired.form.ignored');
    await this.options.edge?.patchReported({ desiredForm }).catch((error: unknown) => this.options.logger.warn({ err: error }, 'reported.update.failed'));
  }

  /** A rejection blocks its version only while the target it was rejected under stands (in the twin or an override). */
  private async releaseRejections(): Promise<void> {
    if (this.desiredVersion < 0) return;
    const { rejections, override } = this.state.current;
    if (rejections.length === 0) return;
    const standing = new Set<string>();
    try {
      const twinTarget = readDesired(this.desired).target;
      if (twinTarget) standing.add(twinTarget.key);
    } catch {
      return;
    }
    if (override) {
      const { target } = this.resolveTarget();
      if (target) standing.add(target.key);
    }
    const kept = rejections.filter((block) => standing.has(block.targetKey));
    if (kept.length !== rejections.length) await this.state.update({ rejections: kept });
  }

  private async reconcile(target: ModelTarget | undefined, policy: UpdatePolicy, signal: AbortSignal): Promise<void> {
    const executors = createStepExecutors(this.context, policy, signal);
    let attempt = 0;
    while (!signal.aborted) {
      let step: Step | undefined;
      try {
        [step] = planSteps(target, await gatherFacts(this.context, target, policy));
        if (!step) return;
        await executeStep(executors, step);
        if (step.action !== 'collect-garbage' && step.action !== 'await-confirmation') attempt = 0;
      } catch (error) {
        if (signal.aborted) return;
        await this.handleFailure(step, target, error, attempt, signal);
        attempt += 1;
      }
    }
  }

  /** An error's message as it may leave the device: secrets redacted, storage paths relative to the storage root. */
  private outgoingMessage(error: unknown): string {
    return withRelativeStoragePaths(redactSecrets(error instanceof Error ? error.message : String(error)), this.options.storageRoot);
  }

  /** Applies the staging budget: keeps what the twin's or a method's desired model refers to, removes the rest. */
  private async pruneStaging(reason: 'start' | 'permanent-failure' | 'disk-full'): Promise<void> {
    const override = this.state.current.override?.target;
    try {
      const removed = await pruneStaging(this.repository, desiredTargetKeys([this.desired, override?.source === 'desired' ? override.desired : undefined]));
      if (removed.length > 0) this.options.logger.info({ removed, reason }, 'repository.staging.pruned');
    } catch (error) {
      this.options.logger.warn({ err: error, reason }, 'repository.staging.prune.failed');
    }
  }

  /** A failed step (or, with no step, reading the facts) is reported and retried with backoff, or recorded as permanent. */
  private async handleFailure(step: Step | undefined, target: ModelTarget | undefined, thrown: unknown, attempt: number, signal: AbortSignal): Promise<void> {
    // ENOSPC can strike any write (download, extraction, install, pointer, state): it is always a full disk.
    const error = await asDiskFullIfNoSpace(thrown, this.options.storageRoot);
    const code = error instanceof LoaderError ? error.code : 'LOADER_INTERNAL';
    const message = this.outgoingMessage(error);
    const base = target ? { name: target.name, version: target.version } : {};
    if (target?.source === 'download' && error instanceof LoaderError && !error.retryable) {
      this.options.logger.error({ code, reason: message, model: target.name, version: target.version, step: step?.action }, 'model.update.failed');
      await this.state
        .update({ failure: { key: target.key, url: target.url, fingerprint: targetFingerprint(target), code, message } })
        .catch((stateError: unknown) => this.options.logger.warn({ err: stateError }, 'loader.state.write.failed'));
      await this.reporter.update({ state: 'failed', ...base, error: { code, message } });
      await this.pruneStaging('permanent-failure');
      return;
    }
    if (error instanceof DiskFullError) await this.pruneStaging('disk-full');
    const delayMs = backoffDelayMs(attempt, this.backoff);
    this.options.logger.warn({ code, reason: message, attempt, delayMs, step: step?.action }, 'model.update.retrying');
    const downloading = step?.action.startsWith('fetch-') ?? false;
    await this.reporter.update({ state: downloading ? 'downloading' : 'failed', ...base, error: { code, message: `${message}; retrying in ${Math.round(delayMs / 1000)} s` } });
    await sleep(delayMs, signal).catch(() => undefined);
  }
}
