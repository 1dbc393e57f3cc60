import type { Logger } from '@edge-ml/edge-kit';
import type { ModelRegistry } from './model-registry.js';
import { readLegacyPlan, readServingPlan } from './serving-index-file.js';
import { namesToRemove, planEntryRequests, startupOrder, type PlannedEntry, type ServingPlan } from './serving-plan.js';

export interface ServingReconcilerOptions {
  registry: ModelRegistry;
  storageRoot: string;
  logger: Logger;
}

/**
 * Brings the registry to what shared storage says to serve (models/serving.json, or the legacy pointers before the
 * loader wrote one): at start-up each entry's last-known-good first and its announced version after it; while running,
 * on every change the watch or the poll notices, each entry's announced version, and entries that left the index are
 * unloaded. An index that cannot be read changes nothing while running (at start-up the legacy pointers stand in).
 */
export class ServingReconciler {
  private lastProblem: string | undefined;

  constructor(private readonly options: ServingReconcilerOptions) {}

  async reconcileAtStartup(): Promise<void> {
    const log = this.options.logger;
    let read = await readServingPlan(this.options.storageRoot, this.reportProblem);
    if (read.status === 'unreadable') {
      this.reportProblem(read.file, read.problem);
      // The loader mirrors the default entry to the legacy pointers: better that than serving nothing.
      const legacy = await readLegacyPlan(this.options.storageRoot, this.reportProblem);
      read = legacy ? { status: 'planned', plan: legacy } : { status: 'none' };
    }
    if (read.status !== 'planned') {
      log.info({ storageRoot: this.options.storageRoot }, 'model.startup.none');
      return;
    }
    const { plan } = read;
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
    const read = await readServingPlan(this.options.storageRoot, this.reportProblem);
    if (read.status === 'unreadable') return this.reportProblem(read.file, read.problem);
    this.lastProblem = undefined;
    if (read.status === 'none') return;
    const { plan } = read;
    const { registry } = this.options;
    registry.setIndexDefault(plan.defaultModel);
    const removals = namesToRemove(registry.names(), plan).map((name) => {
      this.options.logger.info({ model: name, source: plan.source }, 'model.index.removed');
      return registry.remove(name);
    });
    const updates = [...plan.entries].map(([name, entry]) => this.bringUp(plan, name, entry));
    await Promise.all([...removals, ...updates]);
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
