import { twinKeyOf, type ActivationReport, type InferenceReported, type ModelsResponse, type ServedModelReport, type ServedModelVersion } from '@edge-ml/contracts';
import type { InferenceMetrics } from '../metrics.js';
import type { MemoryBudget } from './memory-budget.js';
import type { ActiveModel } from './model-manager.js';
import type { ModelRegistry, ServedEntry } from './model-registry.js';

/** What `/v1/models` answers. */
export type ServingSnapshot = ModelsResponse;

const HISTORY_LENGTH = 10;
/** Names no longer served that reports keep as null (the hub merges a patch: a name must be nulled to disappear). */
const DEPARTED_LENGTH = 64;
const MIB = 2 ** 20;

/** Every field present, null where it does not apply: the hub merges a reported patch, so a missing key would keep its old value. */
function reportedActivation(report: ActivationReport): ActivationReport {
  return { sha256: null, error: null, loadMs: null, warmupMs: null, acceptance: null, ...report };
}

function reportedActive(active: ActiveModel | undefined): InferenceReported['activeModel'] {
  return active ? { name: active.name, version: active.version, format: active.format, family: active.family, sha256: active.sha256, activatedAt: active.activatedAt } : null;
}

function servedVersion(active: ActiveModel | undefined): ServedModelVersion | null {
  return active
    ? { name: active.name, version: active.version, format: active.format, family: active.family, runtime: active.runtime, sha256: active.sha256, activatedAt: active.activatedAt, loadMs: active.loadMs, warmupMs: active.warmupMs, scoreThreshold: active.spec.scoreThreshold, input: active.spec.input }
    : null;
}

interface NameState {
  lastActivation: ActivationReport | null;
  lastError: ServingSnapshot['lastError'];
}

/**
 * What the module tells the world about serving: the API's /v1/models, reported properties and metrics, from the
 * events of every served name's manager and controller. The single-model fields (`activeModel`, `lastActivation`,
 * `lastSwapError`) are the default model's; `models` has every name.
 */
export class ServingState {
  private history: ServingSnapshot['history'] = [];
  private swapCount = 0;
  private activations: ActivationReport[] = [];
  private readonly byName = new Map<string, NameState>();
  private readonly departed = new Set<string>();
  private readonly gaugeLabels = new Map<string, { name: string; version: string; family: string; runtime: string }>();
  private readonly listeners: ((reported: InferenceReported) => void)[] = [];

  constructor(
    private readonly registry: ModelRegistry,
    private readonly metrics: InferenceMetrics,
    private readonly memory?: MemoryBudget,
  ) {
    registry.forEachEntry((entry) => this.follow(entry));
    registry.on('removed', (entry) => {
      this.byName.delete(entry.name);
      this.setGauge(entry.name, undefined);
      this.departed.delete(entry.name);
      this.departed.add(entry.name);
      this.trimDeparted();
      this.publish();
    });
    registry.on('defaultChanged', () => this.publish());
  }

  /**
   * Names the hub still holds in the reported `models` map (from a previous run: the hub merges patches) that no entry
   * here has: reported as null from now on, so the map names only what this process serves.
   */
  forgetReported(names: Iterable<string>): void {
    for (const name of names) {
      if (!this.registry.entry(name)) this.departed.add(name);
    }
    this.trimDeparted();
  }

  /** Keeps the DEPARTED_LENGTH most recent departed names. */
  private trimDeparted(): void {
    for (const oldest of this.departed) {
      if (this.departed.size <= DEPARTED_LENGTH) break;
      this.departed.delete(oldest);
    }
  }

  /** Called with the reported properties every time they change. */
  onReportedChange(listener: (reported: InferenceReported) => void): void {
    this.listeners.push(listener);
  }

  reported(): InferenceReported {
    const defaultName = this.registry.reportedDefaultName();
    const defaultState = defaultName ? this.byName.get(defaultName) : undefined;
    // Keyed by twin key: the hub refuses a key holding the "." a model name may (ssd.v1 is ssd%2Ev1).
    const models: Record<string, ServedModelReport | null> = {};
    for (const name of this.departed) models[twinKeyOf(name)] = null;
    for (const name of this.registry.names()) {
      const last = this.byName.get(name)?.lastActivation;
      models[twinKeyOf(name)] = { activeModel: reportedActive(this.registry.get(name)?.active), lastActivation: last ? reportedActivation(last) : null };
    }
    return {
      activeModel: reportedActive(defaultName ? this.registry.get(defaultName)?.active : undefined),
      lastSwapError: defaultState?.lastError ?? null,
      swapCount: this.swapCount,
      lastActivation: defaultState?.lastActivation ? reportedActivation(defaultState.lastActivation) : null,
      models,
      defaultModel: this.registry.defaultName() ?? null,
    };
  }

  snapshot(): ServingSnapshot {
    const defaultName = this.registry.reportedDefaultName();
    const defaultState = defaultName ? this.byName.get(defaultName) : undefined;
    const serving = this.registry.defaultName();
    return {
      active: servedVersion(defaultName ? this.registry.get(defaultName)?.active : undefined),
      defaultModel: serving ?? null,
      models: this.registry.names().map((name) => ({
        name,
        default: name === serving,
        active: servedVersion(this.registry.get(name)?.active),
        lastActivation: this.byName.get(name)?.lastActivation ?? null,
        lastError: this.byName.get(name)?.lastError ?? null,
        memoryMB: (this.memory?.reservedBytesOf(name) ?? 0) / MIB,
      })),
      memory: {
        budgetMB: this.memory?.budgetBytes === undefined ? null : this.memory.budgetBytes / MIB,
        estimatedMB: (this.memory?.reservedBytes ?? 0) / MIB,
      },
      history: this.history,
      lastError: defaultState?.lastError ?? null,
      swapCount: this.swapCount,
      lastActivation: defaultState?.lastActivation ?? null,
      activations: this.activations,
    };
  }

  private follow({ name, manager, controller }: ServedEntry): void {
    const current = () => this.registry.entry(name)?.manager === manager;
    const stateOf = () => {
      const known = this.byName.get(name) ?? { lastActivation: null, lastError: null };
      this.byName.set(name, known);
      return known;
    };
    this.departed.delete(name);
    controller.on('attempted', (report) => {
      this.activations = [report, ...this.activations].slice(0, HISTORY_LENGTH);
      this.metrics.activations.inc({ outcome: report.outcome, trigger: report.trigger });
      if (!current()) return;
      stateOf().lastActivation = report;
      this.publish();
    });
    manager.on('activated', (model, previous) => {
      if (previous) this.swapCount += 1;
      this.history = [{ name: model.name, version: model.version, activatedAt: model.activatedAt }, ...this.history].slice(0, HISTORY_LENGTH);
      this.metrics.swaps.inc({ outcome: previous ? 'swapped' : 'loaded' });
      if (!current()) return;
      stateOf().lastError = null;
      this.setGauge(name, model);
      this.publish();
    });
    manager.on('failed', (announcement, error) => {
      this.metrics.swaps.inc({ outcome: 'failed' });
      if (!current()) return;
      stateOf().lastError = { ...error, name: announcement.name, version: announcement.version, at: new Date().toISOString() };
      this.publish();
    });
  }

  /** `inference_active_model_info`: one series per served name, for the version it serves. */
  private setGauge(name: string, model: ActiveModel | undefined): void {
    const previous = this.gaugeLabels.get(name);
    if (previous) this.metrics.activeModel.remove(previous);
    this.gaugeLabels.delete(name);
    if (!model) return;
    const labels = { name: model.name, version: model.version, family: model.family, runtime: model.runtime };
    this.metrics.activeModel.set(labels, 1);
    this.gaugeLabels.set(name, labels);
  }

  private publish(): void {
    const reported = this.reported();
    for (const listener of this.listeners) listener(reported);
  }
}
