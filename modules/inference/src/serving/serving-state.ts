import type { ActivationReport, InferenceReported, ModelsResponse } from '@edge-ml/contracts';
import type { InferenceMetrics } from '../metrics.js';
import type { ActivationController } from './activation-controller.js';
import type { ModelManager } from './model-manager.js';

/** What `/v1/models` answers. */
export type ServingSnapshot = ModelsResponse;

const HISTORY_LENGTH = 10;

/** Every field present, null where it does not apply: the hub merges a reported patch, so a missing key would keep its old value. */
function reportedActivation(report: ActivationReport): ActivationReport {
  return { sha256: null, error: null, loadMs: null, warmupMs: null, acceptance: null, ...report };
}

/** What the module tells the world about serving: the API's /v1/models, reported properties and metrics, from the manager's events. */
export class ServingState {
  private history: ServingSnapshot['history'] = [];
  private lastError: ServingSnapshot['lastError'] = null;
  private swapCount = 0;
  private activations: ActivationReport[] = [];
  private readonly listeners: ((reported: InferenceReported) => void)[] = [];

  constructor(
    private readonly manager: ModelManager,
    private readonly metrics: InferenceMetrics,
    controller?: ActivationController,
  ) {
    controller?.on('attempted', (report) => {
      this.activations = [report, ...this.activations].slice(0, HISTORY_LENGTH);
      metrics.activations.inc({ outcome: report.outcome, trigger: report.trigger });
      this.publish();
    });
    manager.on('activated', (model, previous) => {
      if (previous) this.swapCount += 1;
      this.history = [{ name: model.name, version: model.version, activatedAt: model.activatedAt }, ...this.history].slice(0, HISTORY_LENGTH);
      this.lastError = null;
      metrics.swaps.inc({ outcome: previous ? 'swapped' : 'loaded' });
      metrics.activeModel.reset();
      metrics.activeModel.set({ name: model.name, version: model.version, family: model.family, runtime: model.runtime }, 1);
      this.publish();
    });
    manager.on('failed', (announcement, error) => {
      this.lastError = { ...error, name: announcement.name, version: announcement.version, at: new Date().toISOString() };
      metrics.swaps.inc({ outcome: 'failed' });
      this.publish();
    });
  }

  /** Called with the reported properties every time they change. */
  onReportedChange(listener: (reported: InferenceReported) => void): void {
    this.listeners.push(listener);
  }

  reported(): InferenceReported {
    const active = this.manager.active;
    return {
      activeModel: active
        ? { name: active.name, version: active.version, format: active.format, family: active.family, sha256: active.sha256, activatedAt: active.activatedAt }
        : null,
      lastSwapError: this.lastError,
      swapCount: this.swapCount,
      lastActivation: this.activations[0] ? reportedActivation(this.activations[0]) : null,
    };
  }

  snapshot(): ServingSnapshot {
    const active = this.manager.active;
    return {
      active: active
        ? { name: active.name, version: active.version, format: active.format, family: active.family, runtime: active.runtime, sha256: active.sha256, activatedAt: active.activatedAt, loadMs: active.loadMs, warmupMs: active.warmupMs, scoreThreshold: active.spec.scoreThreshold, input: active.spec.input }
        : null,
      history: this.history,
      lastError: this.lastError,
      swapCount: this.swapCount,
      lastActivation: this.activations[0] ?? null,
      activations: this.activations,
    };
  }

  private publish(): void {
    const reported = this.reported();
    for (const listener of this.listeners) listener(reported);
  }
}
