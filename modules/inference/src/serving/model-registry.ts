import { EventEmitter } from 'node:events';
import type { ActivationReport, ActivationTrigger, DetectionResult, ModelAnnouncement } from '@edge-ml/contracts';
import type { Logger } from '@edge-ml/edge-kit';
import { ActivationController } from './activation-controller.js';
import type { ActivationOutcome, ModelManager } from './model-manager.js';
import type { BoundedMap } from './outcome-cache.js';
import { ModelNotFoundError, NoModelError } from './serving-errors.js';

/** One served model name: the manager that owns which of its versions serves, and the controller that decides what it loads. */
export interface ServedEntry {
  name: string;
  manager: ModelManager;
  controller: ActivationController;
}

export interface ModelRegistryEvents {
  added: [entry: ServedEntry];
  removed: [entry: ServedEntry];
  /** The index named another default model. */
  defaultChanged: [];
}

export interface ModelRegistryOptions {
  /** A manager for one name; all of them share the worker pool and the memory budget. */
  createManager: (name: string) => ModelManager;
  logger: Logger;
  /** Outcomes remembered across names (and across an entry's removal and return). */
  outcomes: BoundedMap<string, ActivationReport>;
  /** INFERENCE_DEFAULT_MODEL: the default model whenever it serves. */
  configuredDefault?: string | undefined;
}

/**
 * Every model name the module serves, each with its own manager and controller, so that loading or swapping one name
 * never waits for, nor blocks requests to, another: they share only the worker pool, whose queue holds requests, not
 * loads. Entries come and go with the serving index (ServingReconciler); a DLModelInput message adds the entry it names.
 */
export class ModelRegistry extends EventEmitter<ModelRegistryEvents> {
  private readonly entries = new Map<string, ServedEntry>();
  private indexDefault: string | null = null;

  constructor(private readonly options: ModelRegistryOptions) {
    super();
  }

  /** Every entry's name, sorted: those serving and those with no version serving yet. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Names with a version serving now, sorted. */
  servingNames(): string[] {
    return this.names().filter((name) => this.entries.get(name)?.manager.active !== undefined);
  }

  /** The manager of one name: the OIP routes' lookup. */
  get(name: string): ModelManager | undefined {
    return this.entries.get(name)?.manager;
  }

  entry(name: string): ServedEntry | undefined {
    return this.entries.get(name);
  }

  /** Calls `listener` for every entry now and every one added later. */
  forEachEntry(listener: (entry: ServedEntry) => void): void {
    for (const entry of this.entries.values()) listener(entry);
    this.on('added', listener);
  }

  /** The serving index's `defaultModel` (null when it names none). */
  setIndexDefault(name: string | null): void {
    if (this.indexDefault === name) return;
    this.indexDefault = name;
    this.emit('defaultChanged');
  }

  /**
   * The model `/v1/detect`, `/score` and unnamed edge images use: INFERENCE_DEFAULT_MODEL if it serves, else the
   * index's defaultModel if it serves, else the first serving model by name; undefined while none serves.
   */
  defaultName(): string | undefined {
    const serving = (name: string | null | undefined): name is string => !!name && this.entries.get(name)?.manager.active !== undefined;
    if (serving(this.options.configuredDefault)) return this.options.configuredDefault;
    if (serving(this.indexDefault)) return this.indexDefault;
    return this.servingNames()[0];
  }

  /** The entry reports speak of as the default: the serving default, else the first that would be once it serves. */
  reportedDefaultName(): string | undefined {
    const candidates = [this.defaultName(), this.options.configuredDefault, this.indexDefault, this.names()[0]];
    return candidates.find((name): name is string => !!name && this.entries.has(name));
  }

  /** The entry of a name, created (with nothing serving) when there is none. */
  ensure(name: string): ServedEntry {
    const existing = this.entries.get(name);
    if (existing) return existing;
    const manager = this.options.createManager(name);
    const controller = new ActivationController({ manager, logger: this.options.logger.child({ model: name }), outcomes: this.options.outcomes });
    const entry = { name, manager, controller };
    this.entries.set(name, entry);
    this.options.logger.info({ model: name }, 'model.entry.added');
    this.emit('added', entry);
    return entry;
  }

  /** The manager that answers a request for `name`, or for the default model when no name is given. */
  resolve(name?: string): ModelManager {
    if (name === undefined) {
      const fallback = this.defaultName();
      if (fallback === undefined) throw new NoModelError();
      return this.entries.get(fallback)!.manager;
    }
    const entry = this.entries.get(name);
    if (!entry) throw new ModelNotFoundError(name, this.names());
    return entry.manager;
  }

  /** Detects with a named model, or with the default model when `name` is undefined. */
  detect(name: string | undefined, image: Buffer, options: { scoreThreshold?: number } = {}): Promise<DetectionResult> {
    return this.resolve(name).detect(image, options);
  }

  /** Makes the entry of the announcement's name serve it, as its manager does (no status, no outcome memory): tests and benchmarks. */
  activate(announcement: ModelAnnouncement): Promise<ActivationOutcome> {
    return this.ensure(announcement.name).manager.activate(announcement);
  }

  /** Asks the controller of the announcement's name for it (a DLModelInput message, the reconciler). */
  request(announcement: ModelAnnouncement, trigger: ActivationTrigger, options: { sendStatus?: boolean } = {}): Promise<ActivationReport | undefined> {
    return this.ensure(announcement.name).controller.request(announcement, trigger, options);
  }

  /**
   * Stops serving a name: it leaves the registry at once (new requests get MODEL_NOT_FOUND), a load in progress ends,
   * and its version is freed in the workers once the requests already running on it have finished.
   */
  async remove(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return;
    this.entries.delete(name);
    this.options.logger.info({ model: name }, 'model.entry.removed');
    this.emit('removed', entry);
    await entry.manager.unload();
  }

  /** Waits for every activation in progress. */
  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.manager.close()));
  }
}
