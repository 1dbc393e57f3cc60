import { EventEmitter } from 'node:events';
import type { ActivationReport, ActivationTrigger, ModelAnnouncement, ModelStatusMessage } from '@edge-ml/contracts';
import { ModelStatusMessageSchema } from '@edge-ml/contracts';
import type { Logger } from '@edge-ml/edge-kit';
import type { ActivationOutcome, ActiveModel, ModelManager } from './model-manager.js';
import { announcementKey } from './model-pointers.js';
import { BoundedMap } from './outcome-cache.js';

export interface ActivationControllerEvents {
  /** An activation attempt ended; `status` is the DLModelStatus body to send, absent when the loader is not to be told. */
  attempted: [report: ActivationReport, status: ModelStatusMessage | undefined];
}

export interface ActivationControllerOptions {
  manager: ModelManager;
  logger: Logger;
  /** Outcomes remembered, by name@version#sha256: shared by the controllers of every model name. */
  outcomes?: BoundedMap<string, ActivationReport>;
}

type Result = Pick<ActivationReport, 'outcome' | 'error' | 'loadMs' | 'warmupMs' | 'acceptance' | 'sha256'>;

function acceptedBy(model: ActiveModel): Result {
  return { outcome: 'accepted', sha256: model.sha256, loadMs: model.loadMs, warmupMs: model.warmupMs, ...(model.acceptance ? { acceptance: model.acceptance } : {}) };
}

/** Whether the active model is this announcement: same name, version and sha256, or the same file for a seed body. */
function serves(active: ActiveModel | undefined, announcement: ModelAnnouncement): active is ActiveModel {
  if (!active || active.name !== announcement.name || active.version !== announcement.version) return false;
  return announcement.sha256 ? active.sha256 === announcement.sha256 : active.modelPath === announcement.modelPath;
}

/** The DLModelStatus body for a report; undefined when it cannot name the version by hash. */
export function toStatusMessage(report: ActivationReport): ModelStatusMessage | undefined {
  const base = { schemaVersion: 1, name: report.name, version: report.version, sha256: report.sha256, trigger: report.trigger, at: report.at };
  const body =
    report.outcome === 'accepted'
      ? { ...base, outcome: 'accepted', loadMs: report.loadMs ?? 0, warmupMs: report.warmupMs ?? 0, ...(report.acceptance ? { acceptance: report.acceptance } : {}) }
      : { ...base, outcome: 'rejected', error: { code: (report.error?.code ?? 'MODEL_LOAD_FAILED').slice(0, 64), message: (report.error?.message ?? '').slice(0, 2_000) } };
  const parsed = ModelStatusMessageSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Rejections that are no verdict on the model's files, so not remembered: files missing or unreadable (a storage
 * fault the loader may repair), and a memory budget that other models filled (they may leave).
 */
const CIRCUMSTANTIAL_REJECTIONS = new Set(['MODEL_FILE_UNREADABLE', 'MODEL_MEMORY_BUDGET_EXCEEDED']);

/**
 * Decides what one model name loads, whatever asked (a DLModelInput message, a changed serving index, start-up), and reports
 * each attempt once. Remembers outcomes per name@version#sha256 (bounded): a rejected version is not loaded again,
 * since installed versions are immutable; a message for it gets the remembered rejection, the pointer watch skips it.
 * A request for the version being loaded joins that load; one for the version serving answers without reloading.
 */
export class ActivationController extends EventEmitter<ActivationControllerEvents> {
  private readonly outcomes: BoundedMap<string, ActivationReport>;
  private readonly inFlight = new Map<string, Promise<ActivationOutcome>>();
  /** The key last handed to the manager while it is loading: anything handed earlier will be superseded. */
  private latestKey: string | undefined;
  private readonly log: Logger;

  constructor(private readonly options: ActivationControllerOptions) {
    super();
    this.outcomes = options.outcomes ?? new BoundedMap(64);
    this.log = options.logger;
  }

  /** The last outcome of a version, if this process has tried it. */
  outcomeOf(announcement: Pick<ModelAnnouncement, 'name' | 'version' | 'sha256'>): ActivationReport | undefined {
    return this.outcomes.get(announcementKey(announcement));
  }

  /** Tries an announced version (or answers from what is known); undefined when a newer request superseded it. */
  async request(announcement: ModelAnnouncement, trigger: ActivationTrigger, options: { sendStatus?: boolean } = {}): Promise<ActivationReport | undefined> {
    const sendStatus = options.sendStatus ?? true;
    const key = announcementKey(announcement);
    const known = this.outcomes.get(key);
    // Without a hash the same path may hold a new file (the seed's layout): only hashed versions count as known.
    if (announcement.sha256 && known?.outcome === 'rejected') {
      this.log.info({ model: announcement.name, version: announcement.version, trigger, code: known.error?.code }, 'model.activation.known-rejected');
      return this.conclude(announcement, trigger, known, sendStatus);
    }
    if (announcement.sha256 && this.inFlight.size === 0 && serves(this.options.manager.active, announcement)) {
      return this.conclude(announcement, trigger, acceptedBy(this.options.manager.active), sendStatus);
    }
    const outcome = await this.activate(key, announcement);
    switch (outcome.status) {
      case 'superseded':
        return undefined;
      case 'activated':
      case 'unchanged':
        return this.conclude(announcement, trigger, acceptedBy(outcome.model), sendStatus);
      case 'failed':
        return this.conclude(announcement, trigger, { outcome: 'rejected', error: outcome.error }, sendStatus);
    }
  }

  /**
   * Whether the reconciler should ask for this version: not the one loading, not the one serving, not one known to be
   * bad. A message asks regardless (and gets its answer from memory); the index watch asks only when this says so.
   */
  wants(announcement: ModelAnnouncement): boolean {
    const key = announcementKey(announcement);
    if (this.latestKey === key) return false;
    if (this.inFlight.size === 0 && serves(this.options.manager.active, announcement)) return false;
    return this.outcomes.get(key)?.outcome !== 'rejected';
  }

  private activate(key: string, announcement: ModelAnnouncement): Promise<ActivationOutcome> {
    const loading = this.latestKey === key ? this.inFlight.get(key) : undefined;
    if (loading) return loading;
    const pending = this.options.manager.activate(announcement);
    this.inFlight.set(key, pending);
    this.latestKey = key;
    void pending.finally(() => {
      if (this.inFlight.get(key) === pending) this.inFlight.delete(key);
      if (this.latestKey === key && !this.inFlight.has(key)) this.latestKey = undefined;
    });
    return pending;
  }

  private conclude(announcement: ModelAnnouncement, trigger: ActivationTrigger, result: Result, sendStatus: boolean): ActivationReport {
    const sha256 = announcement.sha256 ?? result.sha256;
    const report: ActivationReport = {
      name: announcement.name,
      version: announcement.version,
      ...(sha256 ? { sha256 } : {}),
      outcome: result.outcome,
      trigger,
      ...(result.error ? { error: result.error } : {}),
      ...(result.loadMs !== undefined ? { loadMs: result.loadMs } : {}),
      ...(result.warmupMs !== undefined ? { warmupMs: result.warmupMs } : {}),
      ...(result.acceptance ? { acceptance: result.acceptance } : {}),
      at: new Date().toISOString(),
    };
    // A version whose files could not be read, or that did not fit the memory budget, is not judged: the loader may put
    // the files back, other models may leave, and the index watch must then try it again. Every other rejection is
    // about the files' content.
    if (report.error?.code !== undefined && CIRCUMSTANTIAL_REJECTIONS.has(report.error.code)) this.outcomes.delete(announcementKey(announcement));
    else this.outcomes.set(announcementKey(announcement), report);
    const status = sendStatus ? toStatusMessage(report) : undefined;
    if (sendStatus && !status) this.log.warn({ model: report.name, version: report.version }, 'model.status.unsendable');
    this.log.info({ model: report.name, version: report.version, outcome: report.outcome, trigger, code: report.error?.code }, 'model.activation.concluded');
    this.emit('attempted', report, status);
    return report;
  }
}
