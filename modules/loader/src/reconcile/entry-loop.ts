import type { UpdatePolicy } from '@edge-ml/contracts';
import { backoffDelayMs, sleep, type BackoffOptions } from '@edge-ml/edge-kit';
import { DiskFullError, LoaderError } from '../errors.js';
import { asDiskFullIfNoSpace } from '../storage/disk-space.js';
import { removeDeltaStagingOf, type ExecutorContext } from './executors.js';
import { gatherFacts } from './gather-facts.js';
import { planSteps, type Step } from './plan.js';
import { createStepExecutors, executeStep } from './step-executors.js';
import { targetFingerprint } from './target-fingerprint.js';
import type { DownloadTarget, ModelTarget } from './target.js';
import type { ProgressUpdate } from './reporter.js';

export interface EntryLoopOptions {
  context: ExecutorContext;
  backoff: BackoffOptions;
  /** The entry's target and the policy, as the loader resolves them now (desired properties and overrides). */
  resolve: () => { target: ModelTarget | undefined; policy: UpdatePolicy };
  /** An error's message as it may leave the device. */
  outgoingMessage: (error: unknown) => string;
  pruneStaging: (reason: 'permanent-failure' | 'disk-full') => Promise<void>;
  /** Drops state kept for versions no longer installed (after a garbage collection). */
  pruneState: () => Promise<void>;
  /** Called whenever the loop has nothing left to do (the loader then reviews removals). */
  onSettled: () => void;
}

/**
 * One entry's reconciler: each round gathers facts, plans and executes one step, for this model alone. Retryable
 * failures back off (capped, jittered) for as long as the target stands; permanent ones are recorded and wait for a
 * new target. Entries run concurrently: one entry's download, backoff or wait for confirmation never holds up another.
 * A change of the entry's target aborts its work in progress, including a wait for confirmation.
 */
export class EntryLoop {
  private runner: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private runningKey: string | undefined;
  private dirty = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  /** The download target the loop last worked for: its delta work in staging goes once the entry moves on. */
  private lastDownload: DownloadTarget | undefined;

  constructor(
    readonly name: string,
    private readonly options: EntryLoopOptions,
  ) {}

  /** Whether the entry has work in progress (downloading, awaiting a status, retrying). */
  get running(): boolean {
    return this.runner !== undefined;
  }

  trigger(): void {
    if (this.closed) return;
    this.dirty = true;
    const { target } = this.options.resolve();
    if (this.controller && this.runningKey !== runKey(target)) this.controller.abort(new Error('desired state changed'));
    this.runner ??= this.loop().finally(() => {
      this.runner = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.options.onSettled();
    });
  }

  /** Reports the entry's state from outside its rounds (re-added, invalid in the desired state). */
  report(update: ProgressUpdate): Promise<void> {
    return this.options.context.reporter.update(update);
  }

  /** What the entry last reported (undefined before its first report in this process). */
  get lastReport() {
    return this.options.context.reporter.last;
  }

  whenIdle(): Promise<void> {
    if (!this.runner) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.controller?.abort(new Error('entry closing'));
    await this.runner;
  }

  /** Stops the loop for good (its entry left the desired state) and removes the delta work it left in staging. */
  async retire(): Promise<void> {
    await this.close();
    await this.discardDeltaWorkUnless(undefined);
  }

  /**
   * Removes the delta work in staging (a patch's partial, the chunk path's ranges) of the target the loop last worked
   * for, unless `target` is that one: nothing resumes it once the entry has moved on (a later target, or none).
   */
  private async discardDeltaWorkUnless(target: ModelTarget | undefined): Promise<void> {
    const previous = this.lastDownload;
    this.lastDownload = target?.source === 'download' ? target : undefined;
    if (!previous || previous.key === target?.key) return;
    const { context } = this.options;
    try {
      const removed = await removeDeltaStagingOf(context, previous);
      if (removed.length > 0) context.logger.info({ model: previous.name, version: previous.version, removed }, 'repository.staging.superseded');
    } catch (error) {
      context.logger.warn({ err: error, model: previous.name, version: previous.version }, 'repository.staging.prune.failed');
    }
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      const { target, policy } = this.options.resolve();
      // The previous round has ended (it was aborted if the target changed): its target's delta work is no longer resumed.
      await this.discardDeltaWorkUnless(target);
      const controller = new AbortController();
      this.controller = controller;
      this.runningKey = runKey(target);
      await this.reconcile(target, policy, controller.signal);
      this.controller = undefined;
    }
    this.scheduleDeferredRetry();
  }

  /** A version refused for lack of memory is tried again when its deferral ends (the loop is idle meanwhile). */
  private scheduleDeferredRetry(): void {
    clearTimeout(this.retryTimer);
    const nowMs = Date.now();
    const until = [...this.options.context.deferrals].filter(([key, { untilMs }]) => key.startsWith(`${this.name}@`) && untilMs > nowMs).map(([, { untilMs }]) => untilMs);
    if (until.length === 0 || this.closed) return;
    this.retryTimer = setTimeout(() => this.trigger(), Math.min(...until) - nowMs + 10);
    this.retryTimer.unref();
  }

  private async reconcile(target: ModelTarget | undefined, policy: UpdatePolicy, signal: AbortSignal): Promise<void> {
    const { context } = this.options;
    const executors = createStepExecutors(context, policy, signal);
    let attempt = 0;
    while (!signal.aborted) {
      let step: Step | undefined;
      try {
        [step] = planSteps(target, await gatherFacts(context, target, policy));
        if (!step) return;
        await executeStep(executors, step);
        if (step.action === 'collect-garbage') await this.options.pruneState();
        if (step.action !== 'collect-garbage' && step.action !== 'await-confirmation') attempt = 0;
      } catch (error) {
        if (signal.aborted) return;
        await this.handleFailure(step, target, error, attempt, signal);
        attempt += 1;
      }
    }
  }

  /** A failed step (or, with no step, reading the facts) is reported and retried with backoff, or recorded as permanent. */
  private async handleFailure(step: Step | undefined, target: ModelTarget | undefined, thrown: unknown, attempt: number, signal: AbortSignal): Promise<void> {
    const { context } = this.options;
    // ENOSPC can strike any write (download, extraction, install, pointer, state): it is always a full disk.
    const error = await asDiskFullIfNoSpace(thrown, context.repository.root);
    const code = error instanceof LoaderError ? error.code : 'LOADER_INTERNAL';
    const message = this.options.outgoingMessage(error);
    const base = target ? { name: target.name, version: target.version } : {};
    if (target?.source === 'download' && error instanceof LoaderError && !error.retryable) {
      context.logger.error({ code, reason: message, model: target.name, version: target.version, step: step?.action }, 'model.update.failed');
      await context.state
        .updateEntry(this.name, { failure: { key: target.key, url: target.url, fingerprint: targetFingerprint(target), code, message } })
        .catch((stateError: unknown) => context.logger.warn({ err: stateError }, 'loader.state.write.failed'));
      await context.reporter.update({ state: 'failed', ...base, error: { code, message } });
      await this.options.pruneStaging('permanent-failure');
      return;
    }
    if (error instanceof DiskFullError) await this.options.pruneStaging('disk-full');
    const delayMs = backoffDelayMs(attempt, this.options.backoff);
    context.logger.warn({ code, reason: message, attempt, delayMs, step: step?.action, model: this.name }, 'model.update.retrying');
    const downloading = step?.action.startsWith('fetch-') ?? false;
    await context.reporter.update({ state: downloading ? 'downloading' : 'failed', ...base, error: { code, message: `${message}; retrying in ${Math.round(delayMs / 1000)} s` } });
    await sleep(delayMs, signal).catch(() => undefined);
  }
}

/** What a running round works for: a change of any field of the target aborts it. */
function runKey(target: ModelTarget | undefined): string | undefined {
  return target ? targetFingerprint(target) : undefined;
}
