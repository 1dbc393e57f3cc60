import { desiredFormOf, twinKeyOf, UpdatePolicySchema, type ModelStatusMessage, type OverrideTarget, type UpdatePolicy } from '@edge-ml/contracts';
import { applyMergePatch, redactSecrets, type BackoffOptions, type DesiredDocument, type EdgeClient, type Logger } from '@edge-ml/edge-kit';
import { registerStatusInput } from '../edge/status-input.js';
import { DEFAULT_IDLE_TIMEOUT_MS } from '../download/guarded-get.js';
import { DEFAULT_STALL_RULE, type StallRule } from '../download/stall-rule.js';
import { InvalidDesiredError, type LoaderError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '../package/package-limits.js';
import { announcementKey, ModelRepository } from '../repository/model-repository.js';
import { announcementOf, legacyPointersOf } from '../serving/index-changes.js';
import { rebuildIndex } from '../serving/rebuild-index.js';
import { ServingIndexStore } from '../serving/serving-index-store.js';
import { withRelativeStoragePaths } from '../storage/relative-paths.js';
import { EntryLoop } from './entry-loop.js';
import { isResumableStagingEntry, type DeltaNote, type ExecutorContext } from './executors.js';
import { LoaderStateStore } from './loader-state.js';
import { planRemovals } from './removal-plan.js';
import { Reporter, type EntryDescription } from './reporter.js';
import { pruneStaging } from './staging-budget.js';
import { statusKey, StatusInbox } from './status-inbox.js';
import { installedTarget, readDesired, type DesiredTargets, type ModelTarget } from './target.js';

export interface LoaderOptions {
  storageRoot: string;
  edge?: EdgeClient;
  logger: Logger;
  limits?: PackageLimits;
  backoff?: BackoffOptions;
  idleTimeoutMs?: number;
  /** The minimum average rate of every transfer (default DEFAULT_STALL_RULE). */
  stallRule?: StallRule;
  maxBytesPerSecond?: number;
  progressIntervalMs?: number;
  /** How often models/serving.json and the legacy pointers are compared with what the loader wrote (default 15 s). */
  indexCheckIntervalMs?: number;
}

/** What the desired properties and the direct methods' overrides ask for now. */
interface Resolution {
  /** The target of every desired entry, by model name. */
  targets: Map<string, ModelTarget>;
  /** The twin's own targets' keys (a rejection stands while its target stands, in the twin or an override). */
  twinKeys: string[];
  policy: UpdatePolicy;
  /** The default entry: the desired defaultModel or the single form's name (null: the `models` form names none). */
  defaultModel: string | null;
  /** Entries of the `models` form that do not parse, with the reason: each keeps serving what it served. */
  invalid: Record<string, string>;
  /** What is reported in desiredForm.warnings: keys that are no model names, a defaultModel naming no entry. */
  warnings: string[];
  error?: LoaderError;
}

const DEFAULT_POLICY = UpdatePolicySchema.parse({});

/**
 * The loader: desired properties in, every desired model confirmed out. Each entry (model name) has its own
 * reconciler (EntryLoop) with its own closed loop; this class resolves the desired entries (twin plus direct-method
 * overrides), starts, re-targets and stops the entries' loops, keeps the serving index's default, and removes entries
 * that left the desired state under the never-dark rule (removal-plan.ts).
 */
export class Loader {
  readonly repository: ModelRepository;
  readonly index: ServingIndexStore;
  private readonly state: LoaderStateStore;
  private readonly topReporter: Reporter;
  private readonly inbox = new StatusInbox();
  private readonly deltas = new Map<string, DeltaNote>();
  /** Versions refused for lack of memory, by announcement key, with when to try them again. */
  private readonly deferrals: ExecutorContext['deferrals'] = new Map();
  private readonly backoff: BackoffOptions;
  private readonly loops = new Map<string, EntryLoop>();
  private desired: Record<string, unknown> = {};
  private desiredVersion = -1;
  private closed = false;
  private stagingPrunedAtStart = false;
  /** The desired form last reported (JSON), so that it is reported when it changes only. */
  private reportedDesiredForm: string | undefined;
  /** Entry changes and removal reviews run one after another, in the order they were asked for. */
  private pending: Promise<void> = Promise.resolve();
  private reviewTimer: NodeJS.Timeout | undefined;
  private indexCheckTimer: NodeJS.Timeout | undefined;
  /** The whole desired document was refused and modelUpdate says so: the next valid one reports the default entry again. */
  private topFailed = false;
  /** The invalid entries' messages last reported, so that each is reported when it changes only. */
  private readonly reportedInvalid = new Map<string, string>();

  constructor(private readonly options: LoaderOptions) {
    this.repository = new ModelRepository(options.storageRoot);
    this.state = new LoaderStateStore(options.storageRoot, options.logger);
    this.index = new ServingIndexStore(this.repository, options.logger);
    this.topReporter = new Reporter(options.edge, options.logger, options.progressIntervalMs);
    this.backoff = options.backoff ?? { initialDelayMs: 2_000, maxDelayMs: 5 * 60_000 };
    if (options.edge) registerStatusInput(options.edge, options.logger, (status) => this.receiveStatus(status));
  }

  /** Prepares the repository (unfinished extractions removed, resumable downloads kept) and reads state and serving index. */
  async initialise(): Promise<void> {
    await this.repository.initialise();
    await this.state.load();
    await this.index.load(async (base, at) => rebuildIndex(base, this.state.current, await this.repository.listInstalled(), (manifest) => this.repository.announcementFor(manifest), at));
    await this.verifyIndex();
    const interval = this.options.indexCheckIntervalMs ?? 15_000;
    this.indexCheckTimer = setInterval(() => void this.enqueue(() => this.verifyIndex()), interval);
    this.indexCheckTimer.unref();
    const removed = await this.repository.cleanStaging(isResumableStagingEntry);
    if (removed.length > 0) this.options.logger.info({ removed }, 'repository.staging.cleaned');
  }

  /** Takes a full desired document or a patch. Stale or repeated versions are ignored; a full document always wins. */
  applyDesired(document: DesiredDocument): void {
    if (!document.full && document.version <= this.desiredVersion) return;
    this.desired = document.full ? document.properties : applyMergePatch(this.desired, document.properties);
    this.desiredVersion = document.version;
    this.enqueue(async () => {
      for (const [name, entry] of Object.entries(this.state.current.entries)) {
        if (entry.override && document.version > entry.override.sinceDesiredVersion) await this.state.updateEntry(name, { override: null });
      }
      await this.reconcileEntries();
    });
  }

  /** Sets one entry's target from a direct method; it holds until a newer desired version arrives. */
  async applyOverride(target: OverrideTarget): Promise<void> {
    const name = target.source === 'installed' ? target.name : overrideName(target);
    if (!name) return;
    const run = this.enqueue(async () => {
      // The single forms name one model: a method's target replaces it, and with it any other entry's override.
      if (this.resolve().twinKind !== 'models') {
        for (const [other, entry] of Object.entries(this.state.current.entries)) if (other !== name && entry.override) await this.state.updateEntry(other, { override: null });
      }
      await this.state.updateEntry(name, { override: { target, sinceDesiredVersion: this.desiredVersion } });
      await this.reconcileEntries();
    });
    await run;
  }

  /** A DLModelStatus from the inference module (already parsed): kept for the announcement it names, and its entry woken. */
  receiveStatus(status: ModelStatusMessage): void {
    this.inbox.receive(status);
    this.options.logger.info({ model: status.name, version: status.version, outcome: status.outcome, trigger: status.trigger, ...(status.outcome === 'rejected' ? { code: status.error.code } : {}) }, 'model.status.received');
    // The inference module restarted: memory may have freed, versions refused for lack of it are tried again.
    if (status.trigger === 'startup') this.retryDeferred();
    const loop = this.loops.get(status.name);
    // A rejection may also concern the entry's last-known-good (its files lost): the planner decides.
    if (loop && !loop.running && (this.state.entry(status.name).awaiting?.key === statusKey(status) || status.outcome === 'rejected')) loop.trigger();
  }

  /** Ends every deferral for lack of memory and wakes the entries concerned (memory may have freed). */
  private retryDeferred(): void {
    if (this.deferrals.size === 0) return;
    const names = new Set([...this.deferrals.keys()].map((key) => key.slice(0, key.indexOf('@'))));
    this.deferrals.clear();
    for (const name of names) this.loops.get(name)?.trigger();
  }

  /** The loader's state as read back from storage: entries, verdicts, confirmation history. */
  get loaderState() {
    return this.state.current;
  }

  /** The names of the desired entries, in name order. */
  entryNames(): string[] {
    return [...this.resolve().targets.keys()].sort();
  }

  /** The entry `modelUpdate`, `activeModel` and `LatestAIModelFileName` describe: the default model, else the first by name. */
  defaultEntry(): string | undefined {
    const { defaultModel, targets } = this.resolve();
    return defaultModel ?? [...targets.keys()].sort()[0];
  }

  /** Resolves once nothing is left to do for the current desired state, including waiting for confirmation (for tests and tools). */
  async whenIdle(): Promise<void> {
    for (;;) {
      await this.pending;
      const running = [...this.loops.values()].filter((loop) => loop.running);
      if (running.length === 0) {
        await this.pending;
        if (![...this.loops.values()].some((loop) => loop.running)) return;
      }
      await Promise.all(running.map((loop) => loop.whenIdle()));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reviewTimer);
    clearInterval(this.indexCheckTimer);
    await Promise.all([...this.loops.values()].map((loop) => loop.close()));
    await this.pending;
  }

  /** Rewrites the serving index and the legacy pointers from memory when the files on disk say otherwise. */
  private async verifyIndex(): Promise<void> {
    try {
      await this.index.verifyOnDisk();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'serving.index.repair.failed');
    }
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.pending.then(async () => {
      if (!this.closed) await work();
    });
    this.pending = run.catch((error: unknown) => this.options.logger.warn({ err: error }, 'loader.entries.failed'));
    return run;
  }

  /** The desired entries now: the twin's, with the direct methods' overrides applied. */
  private resolve(): Resolution & { twinKind: DesiredTargets['kind'] | undefined } {
    let twin: DesiredTargets;
    try {
      twin = readDesired(this.desired);
    } catch (error) {
      return { targets: new Map(), twinKeys: [], policy: DEFAULT_POLICY, defaultModel: null, invalid: {}, warnings: [], error: error as LoaderError, twinKind: undefined };
    }
    const targets = new Map<string, ModelTarget>(twin.targets);
    let { defaultModel } = twin;
    for (const entry of Object.values(this.state.current.entries)) {
      const override = entry.override?.target;
      if (!override) continue;
      let target: ModelTarget | undefined;
      if (override.source === 'installed') {
        target = installedTarget(override.name, override.version, override.modelSha256);
      } else {
        try {
          target = readDesired(override.desired).target;
        } catch {
          target = undefined;
        }
      }
      if (!target) continue;
      if (twin.kind !== 'models') {
        targets.clear();
        defaultModel = target.name;
      }
      targets.set(target.name, target);
    }
    const warnings = Object.entries(twin.invalidKeys).map(([key, reason]) => `models["${key}"] ignored: ${reason}`);
    if (twin.kind === 'models' && defaultModel !== null && !targets.has(defaultModel) && !(defaultModel in twin.invalid)) {
      // A default naming no entry keeps the previous default while that one is desired (a typo does not move /v1/detect).
      const previous = this.index.current.defaultModel;
      warnings.push(`defaultModel "${defaultModel}" names no entry of models; ${previous !== null && targets.has(previous) ? `"${previous}" stays the default` : 'no default is named'}`);
      defaultModel = previous !== null && targets.has(previous) ? previous : null;
    }
    return { targets, twinKeys: [...twin.targets.values()].map((target) => target.key), policy: twin.policy, defaultModel, invalid: twin.invalid, warnings, twinKind: twin.kind };
  }

  /** Starts or re-targets the desired entries' loops, and marks the others removed. */
  private async reconcileEntries(): Promise<void> {
    if (this.desiredVersion < 0) return;
    await this.verifyIndex();
    const resolution = this.resolve();
    await this.reportDesiredForm(resolution.warnings);
    if (resolution.error) {
      const { error } = resolution;
      this.options.logger.warn({ code: error.code, reason: error.message }, 'desired.invalid');
      this.topFailed = true;
      await this.topReporter.update({ state: 'failed', error: { code: error.code, message: this.outgoingMessage(error) } });
      return;
    }
    await this.reportInvalidEntries(resolution.invalid);
    if (!this.stagingPrunedAtStart) {
      this.stagingPrunedAtStart = true;
      await this.pruneStaging('start');
    }
    await this.releaseRejections(resolution);
    await this.index.setDefault(resolution.defaultModel);
    // Desired properties that name no model (`"model": null`, no form at all) remove nothing: the device keeps serving.
    if (resolution.twinKind !== 'none') {
      const installedNames = new Set((await this.repository.listInstalled()).map((manifest) => manifest.name));
      const known = new Set([...this.index.names(), ...Object.keys(this.state.current.entries), ...this.loops.keys(), ...installedNames]);
      for (const name of known) {
        // An invalid entry is still desired: it keeps serving what it served.
        if (!resolution.targets.has(name) && !(name in resolution.invalid)) await this.markRemoved(name, resolution.policy);
      }
    }
    for (const name of resolution.targets.keys()) {
      if (this.state.entry(name).removedAt !== null) {
        await this.state.updateEntry(name, { removedAt: null });
        this.options.logger.info({ model: name }, 'model.entry.readded');
        // Its real state at once (not `removed` until its next update): what it serves, the loop reports any progress.
        const confirmed = this.index.entry(name)?.confirmed;
        await this.loopFor(name).report(confirmed ? { state: 'active', name, version: confirmed.version } : { state: 'idle', name });
      }
      this.loopFor(name).trigger();
    }
    if (this.topFailed) await this.reportDefaultEntryAgain();
    await this.reviewRemovals();
  }

  /** Each invalid entry is reported `failed` under its own name (its message naming the field), once per message. */
  private async reportInvalidEntries(invalid: Record<string, string>): Promise<void> {
    for (const name of [...this.reportedInvalid.keys()]) if (!(name in invalid)) this.reportedInvalid.delete(name);
    for (const [name, reason] of Object.entries(invalid)) {
      if (this.reportedInvalid.get(name) === reason) continue;
      this.reportedInvalid.set(name, reason);
      const error = new InvalidDesiredError(`models.${name}: ${reason}`);
      this.options.logger.warn({ model: name, code: error.code, reason: error.message }, 'desired.entry.invalid');
      await this.loopFor(name).report({ state: 'failed', name, error: { code: error.code, message: this.outgoingMessage(error) } });
    }
  }

  /** After a refused document, modelUpdate says the default entry's state again (its loop may have nothing new to report). */
  private async reportDefaultEntryAgain(): Promise<void> {
    this.topFailed = false;
    const name = this.defaultEntry();
    const loop = name === undefined ? undefined : this.loops.get(name);
    const last = loop?.lastReport;
    if (last && last.state !== 'failed') {
      await this.patchReported({ modelUpdate: last });
      return;
    }
    const confirmed = name === undefined ? undefined : this.index.entry(name)?.confirmed;
    await this.topReporter.update(confirmed ? { state: 'active', name: confirmed.name, version: confirmed.version } : { state: 'idle' });
  }

  private loopFor(name: string): EntryLoop {
    let loop = this.loops.get(name);
    if (loop) return loop;
    const context: ExecutorContext = {
      name,
      repository: this.repository,
      index: this.index,
      state: this.state,
      reporter: new Reporter(this.options.edge, this.options.logger, this.options.progressIntervalMs, { name, isDefault: () => this.defaultEntry() === name, describe: () => this.describe(name) }),
      inbox: this.inbox,
      deltas: this.deltas,
      deferrals: this.deferrals,
      edge: this.options.edge,
      logger: this.options.logger,
      limits: this.options.limits ?? DEFAULT_PACKAGE_LIMITS,
      idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      stallRule: this.options.stallRule ?? DEFAULT_STALL_RULE,
      ...(this.options.maxBytesPerSecond ? { maxBytesPerSecond: this.options.maxBytesPerSecond } : {}),
    };
    loop = new EntryLoop(name, {
      context,
      backoff: this.backoff,
      resolve: () => {
        const { targets, policy } = this.resolve();
        return { target: targets.get(name), policy };
      },
      outgoingMessage: (error) => this.outgoingMessage(error),
      pruneStaging: (reason) => this.pruneStaging(reason),
      pruneState: () => this.pruneState(),
      onSettled: () => void this.enqueue(() => this.reviewRemovals()),
    });
    this.loops.set(name, loop);
    return loop;
  }

  /** An entry that left the desired state: its loop stops, it is reported `removed` until its versions are deleted. */
  private async markRemoved(name: string, policy: UpdatePolicy): Promise<void> {
    const loop = this.loops.get(name);
    if (loop) {
      this.loops.delete(name);
      await loop.retire();
    }
    let { removedAt } = this.state.entry(name);
    if (removedAt !== null) return;
    removedAt = new Date().toISOString();
    await this.state.updateEntry(name, { removedAt, awaiting: null, override: null });
    // A version on trial is abandoned with its entry: while the entry is still served, it serves its last-known-good.
    const served = this.index.entry(name);
    if (served?.confirmed && served.confirmed.sha256 !== served.announced.sha256) await this.index.setAnnounced({ ...announcementOf(served.confirmed), announcedAt: removedAt });
    const removeAfter = new Date(Date.parse(removedAt) + policy.removeGraceSeconds * 1000).toISOString();
    this.options.logger.info({ model: name, removeAfter }, 'model.entry.removed');
    await this.patchReported({ models: { [twinKeyOf(name)]: { ...NULL_REPORT, state: 'removed', name, removeAfter, updatedAt: removedAt } } });
  }

  /** Applies the never-dark rule to removed entries: out of the index when safe, versions deleted after the grace period. */
  private async reviewRemovals(): Promise<void> {
    if (this.closed) return;
    const resolution = this.resolve();
    if (resolution.error || this.desiredVersion < 0) return;
    const nowMs = Date.now();
    const removed = Object.entries(this.state.current.entries)
      .filter(([name, entry]) => entry.removedAt !== null && !resolution.targets.has(name))
      .map(([name, entry]) => ({ name, removedAtMs: Date.parse(entry.removedAt!), indexed: this.index.entry(name) !== undefined, confirmed: Boolean(this.index.entry(name)?.confirmed) }));
    const remaining = [...resolution.targets.keys()].map((name) => ({ name, settled: !this.loops.get(name)?.running, confirmed: Boolean(this.index.entry(name)?.confirmed) }));
    const plan = planRemovals(removed, remaining, nowMs, resolution.policy.removeGraceSeconds * 1000);
    for (const name of plan.unindex) {
      await this.index.withdraw(name);
      failpoint('removal.unindexed');
      this.options.logger.info({ model: name }, 'model.entry.unindexed');
    }
    // An entry the inference module unloads frees its memory.
    if (plan.unindex.length > 0) this.retryDeferred();
    for (const name of plan.purge) {
      try {
        const versions = (await this.repository.listInstalled()).filter((manifest) => manifest.name === name);
        const deleted = await this.repository.removeVersions(versions);
        await this.state.forgetEntry(name);
        await this.pruneState();
        this.options.logger.info({ model: name, deleted }, 'model.entry.purged');
        await this.patchReported({ models: { [twinKeyOf(name)]: null } });
      } catch (error) {
        this.options.logger.warn({ err: error, model: name }, 'model.entry.purge.failed');
      }
    }
    if (plan.unindex.length > 0 || plan.purge.length > 0) await this.reportDefault();
    clearTimeout(this.reviewTimer);
    if (plan.nextCheckMs !== undefined) {
      this.reviewTimer = setTimeout(() => void this.enqueue(() => this.reviewRemovals()), Math.max(0, plan.nextCheckMs - Date.now()) + 10);
      this.reviewTimer.unref();
    }
  }

  /** activeModel and LatestAIModelFileName once an entry left the index (the legacy mirror may have moved). */
  private async reportDefault(): Promise<void> {
    const { top } = await this.describe(this.defaultEntry() ?? '');
    await this.patchReported({ ...top });
  }

  /** What a state change of an entry reports besides its progress (see Reporter). */
  private async describe(name: string): Promise<EntryDescription> {
    const installed = await this.repository.listInstalled();
    const confirmed = this.index.entry(name)?.confirmed;
    const legacy = legacyPointersOf(this.index.current).confirmed;
    const manifest = legacy && installed.find((candidate) => announcementKey(candidate) === `${legacy.name}@${legacy.version}#${legacy.sha256}`);
    return {
      activeVersion: confirmed ? { version: confirmed.version, sha256: confirmed.sha256 } : null,
      installedVersions: installed.filter((candidate) => candidate.name === name).map((candidate) => candidate.version),
      top: {
        activeModel: legacy ? { name: legacy.name, version: legacy.version, sha256: legacy.sha256 } : null,
        ...(manifest ? { LatestAIModelFileName: manifest.packageFileName ?? manifest.name } : {}),
        installedVersions: installed.map((candidate) => `${candidate.name}@${candidate.version}`),
      },
    };
  }

  private async patchReported(patch: Record<string, unknown>): Promise<void> {
    await this.options.edge?.patchReported(patch).catch((error: unknown) => this.options.logger.warn({ err: error }, 'reported.update.failed'));
  }

  /** Drops verdicts and confirmation history of versions no longer installed (see LoaderStateStore.prune). */
  private async pruneState(): Promise<void> {
    const before = new Date().toISOString();
    const installed = await this.repository.listInstalled();
    await this.state.prune(new Set(installed.map((manifest) => announcementKey(manifest))), before);
  }

  /** Tells the twin which desired form is followed, which fields a richer form makes it ignore, and what it could not follow. */
  private async reportDesiredForm(warnings: string[]): Promise<void> {
    const desiredForm = { ...desiredFormOf(this.desired), warnings };
    if (warnings.length > 0 && JSON.stringify(desiredForm) !== this.reportedDesiredForm) this.options.logger.warn({ warnings }, 'desired.form.warnings');
    const key = JSON.stringify(desiredForm);
    if (key === this.reportedDesiredForm) return;
    this.reportedDesiredForm = key;
    if (desiredForm.ignored.length > 0) this.options.logger.warn({ followed: desiredForm.followed, ignored: desiredForm.ignored }, 'desired.form.ignored');
    await this.patchReported({ desiredForm });
  }

  /** A rejection blocks its version only while the target it was rejected under stands (in the twin or an override). */
  private async releaseRejections(resolution: Resolution): Promise<void> {
    const { rejections } = this.state.current;
    if (rejections.length === 0) return;
    const standing = new Set([...resolution.twinKeys, ...[...resolution.targets.values()].map((target) => target.key)]);
    const kept = rejections.filter((block) => standing.has(block.targetKey));
    if (kept.length !== rejections.length) await this.state.update({ rejections: kept });
  }

  /** An error's message as it may leave the device: secrets redacted, storage paths relative to the storage root. */
  private outgoingMessage(error: unknown): string {
    return withRelativeStoragePaths(redactSecrets(error instanceof Error ? error.message : String(error)), this.options.storageRoot);
  }

  /** Applies the staging budget: keeps what any desired entry (twin or method) refers to, removes the rest. */
  private async pruneStaging(reason: 'start' | 'permanent-failure' | 'disk-full'): Promise<void> {
    const keys = [...this.resolve().targets.values()].map((target) => target.key);
    try {
      // Other entries may be extracting while one prunes: only the start-up prune removes unfinished extractions.
      const removed = await pruneStaging(this.repository, keys, { keepExtractions: reason !== 'start' });
      if (removed.length > 0) this.options.logger.info({ removed, reason }, 'repository.staging.pruned');
    } catch (error) {
      this.options.logger.warn({ err: error, reason }, 'repository.staging.prune.failed');
    }
  }
}

/** Every field of a model's report, null: a `removed` entry has no progress, version or error. */
const NULL_REPORT = { name: null, version: null, bytesDownloaded: null, bytesTotal: null, path: null, bytesFetched: null, bytesReused: null, confirmDeadline: null, error: null, activeVersion: null, installedVersions: null };

function overrideName(target: Extract<OverrideTarget, { source: 'desired' }>): string | undefined {
  try {
    return readDesired(target.desired).target?.name;
  } catch {
    return undefined;
  }
}
