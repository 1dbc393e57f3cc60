import { SERVING_INDEX } from '@edge-ml/contracts';
import type { Logger } from '@edge-ml/edge-kit';
import type { ModelRegistry } from './model-registry.js';
import { readLegacyPlan, readServingIndex, type ServingIndexRead } from './serving-index-file.js';
import { messageVerdict, namesToRemove, planEntryRequests, planSource, startupOrder, type MessageVerdict, type PlannedEntry, type ServingPlan } from './serving-plan.js';

export interface ServingReconcilerOptions {
  registry: ModelRegistry;
  storageRoot: string;
  logger: Logger;
}

/**
 * Brings the registry to what shared storage says to serve (models/serving.json, or the legacy pointers while no index
 * has existed): at start-up each entry's last-known-good first and its announced version after it; while running, on
 * every change the watch or the poll notices, each entry's announced version, and entries that left the index are
 * unloaded. Once an index has been seen, a missing or unreadable one changes nothing (planSource); at start-up an
 * unreadable index lets the legacy pointers stand in, and the poll picks up the loader's rewrite.
 */
export class ServingReconciler {
  private lastProblem: string | undefined;
  /** An index file existed (readable or not) at some point in this process: the legacy pointers no longer stand in. */
  private indexSeen = false;
  /** The last valid index read. */
  private lastGood: ServingPlan | undefined;
  private missingDefault: string | undefined;

  constructor(private readonly options: ServingReconcilerOptions) {}

  async reconcileAtStartup(): Promise<void> {
    const log = this.options.logger;
    const plan = await this.planToFollow(true);
    if (!plan) {
      log.info({ storageRoot: this.options.storageRoot }, 'model.startup.none');
      return;
    }
    this.options.registry.setIndexDefault(plan.defaultModel);
    log.info({ source: plan.source, models: [...plan.entries.keys()], defaultModel: plan.defaultModel }, 'model.startup.plan');
    for (const name of startupOrder(plan)) {
      const entry = plan.entries.get(name)!;
      for (const { announcement, sendStatus } of planEntryRequests(entry, false, () => true)) {
        const pointer = announcement === entry.confirmed ? 'confirmed' : 'announced';
        log.info({ model: announcement.name, version: announcement.version, pointer }, `model.startup.${pointer}`);
        await this.options.registry.request(announcement, 'startup', { sendStatus });
      }
    }
  }

  /** Reads the index and acts on what changed; the PointerWatcher never runs two at once. */
  async check(): Promise<void> {
    const plan = await this.planToFollow(false);
    if (!plan) return;
    const { registry } = this.options;
    registry.setIndexDefault(plan.defaultModel);
    const removals = namesToRemove(registry.names(), plan).map((name) => {
      this.options.logger.info({ model: name, source: plan.source }, 'model.index.removed');
      return registry.remove(name);
    });
    const updates = [...plan.entries].map(([name, entry]) => this.bringUp(plan, name, entry));
    await Promise.all([...removals, ...updates]);
  }

  /** What a DLModelInput message naming `name` gets, judged on the index as it is now (messageVerdict). */
  async verdictForMessage(name: string): Promise<MessageVerdict> {
    const read = await readServingIndex(this.options.storageRoot);
    this.note(read);
    return messageVerdict(name, read.status === 'planned' ? read.plan : undefined, this.lastGood, this.indexSeen);
  }

  /** The plan to act on now, or undefined to keep what serves (logged once per problem). */
  private async planToFollow(startup: boolean): Promise<ServingPlan | undefined> {
    const read = await readServingIndex(this.options.storageRoot);
    const source = planSource(read.status, this.indexSeen, startup);
    this.note(read);
    if (read.status === 'planned') {
      this.lastProblem = undefined;
      this.warnOfMissingDefault(read.plan);
      return read.plan;
    }
    if (read.status === 'unreadable') this.reportProblem(read.file, read.problem);
    else if (source === 'keep') this.reportProblem(SERVING_INDEX, 'the serving index is missing; every model keeps serving until the loader writes it again');
    if (source !== 'legacy') return undefined;
    // The loader mirrors the default entry to the legacy pointers: better that than serving nothing.
    return readLegacyPlan(this.options.storageRoot, this.reportProblem);
  }

  /** An index whose defaultModel names no entry: /v1/detect answers with the first serving name instead (logged once per name). */
  private warnOfMissingDefault(plan: ServingPlan): void {
    const missing = plan.defaultModel !== null && !plan.entries.has(plan.defaultModel) ? plan.defaultModel : undefined;
    if (missing !== undefined && missing !== this.missingDefault) this.options.logger.warn({ defaultModel: missing, models: [...plan.entries.keys()] }, 'model.index.defaultMissing');
    this.missingDefault = missing;
  }

  private note(read: ServingIndexRead): void {
    if (read.status !== 'missing') this.indexSeen = true;
    if (read.status === 'planned') this.lastGood = read.plan;
  }

  private async bringUp(plan: ServingPlan, name: string, entry: PlannedEntry): Promise<void> {
    const { controller, manager } = this.options.registry.ensure(name);
    for (const { announcement, sendStatus } of planEntryRequests(entry, manager.active !== undefined, (candidate) => controller.wants(candidate))) {
      this.options.logger.info({ model: announcement.name, version: announcement.version, source: plan.source }, 'model.pointer.changed');
      await this.options.registry.request(announcement, 'pointer', { sendStatus });
    }
  }

  private readonly reportProblem = (file: string, problem: string): void => {
    const key = `${file}: ${problem}`;
    if (key !== this.lastProblem) this.options.logger.warn({ file, problem }, 'model.pointer.unreadable');
    this.lastProblem = key;
  };
}
