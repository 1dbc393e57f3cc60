import { EventEmitter } from 'node:events';
import type { DetectionResult, ModelAnnouncement, ModelFamily, ModelFormat } from '@edge-ml/contracts';
import type { Logger } from '@edge-ml/edge-kit';
import type { DecodeOptions } from '../image/decode-image.js';
import type { ModelSpec } from '../pipeline/model-spec.js';
import type { RuntimeOptions } from '../runtimes/model-runtime.js';
import { serializeError } from '../worker/protocol.js';
import type { WorkerPool } from '../worker/worker-pool.js';
import { describeFindings, missingLabels } from './acceptance.js';
import { readAcceptanceSamples, readModelFiles, type LoadedSample } from './model-files.js';
import { AcceptanceFailedError, NoModelError } from './serving-errors.js';

export interface ActiveModel {
  id: string;
  name: string;
  version: string;
  format: ModelFormat;
  family: ModelFamily;
  runtime: 'onnxruntime' | 'litert';
  sha256: string;
  modelPath: string;
  spec: ModelSpec;
  activatedAt: string;
  loadMs: number;
  warmupMs: number;
  /** Acceptance samples run and passed before it served; absent when its package has none. */
  acceptance?: { samples: number; passed: number };
}

export type ActivationOutcome =
  | { status: 'activated'; model: ActiveModel; previous?: ActiveModel }
  | { status: 'unchanged'; model: ActiveModel }
  | { status: 'superseded' }
  | { status: 'failed'; error: { code: string; message: string } };

export interface ModelManagerEvents {
  activated: [model: ActiveModel, previous: ActiveModel | undefined];
  failed: [announcement: ModelAnnouncement, error: { code: string; message: string }];
  retired: [model: ActiveModel];
}

export interface ModelManagerOptions {
  storageRoot: string;
  pool: WorkerPool;
  runtime: RuntimeOptions;
  logger: Logger;
  decode: DecodeOptions;
}

interface Queued {
  announcement: ModelAnnouncement;
  resolve: (outcome: ActivationOutcome) => void;
}

/**
 * Owns which model serves. Activations run one at a time: load and warm up in every worker, pass the package's
 * acceptance samples (when it has any), switch one reference, then free the old model once the requests pinned to it
 * have finished. A newer announcement that arrives while one is loading supersedes any still waiting; a repeat of the
 * active model is a no-op. A failure leaves the old model serving.
 */
export class ModelManager extends EventEmitter<ModelManagerEvents> {
  private current: ActiveModel | undefined;
  private readonly pins = new Map<string, number>();
  private readonly retiring = new Map<string, ActiveModel>();
  private waiting: Queued | undefined;
  private running: Promise<void> | undefined;
  private sequence = 0;

  constructor(private readonly options: ModelManagerOptions) {
    super();
  }

  get active(): ActiveModel | undefined {
    return this.current;
  }

  activate(announcement: ModelAnnouncement): Promise<ActivationOutcome> {
    return new Promise((resolve) => {
      this.waiting?.resolve({ status: 'superseded' });
      this.waiting = { announcement, resolve };
      this.running ??= this.drainQueue();
    });
  }

  /** Decodes, runs and decodes outputs with the model active at arrival; a swap meanwhile does not affect this request. */
  async detect(image: Buffer, options: { scoreThreshold?: number } = {}): Promise<DetectionResult> {
    const model = this.current;
    if (!model) throw new NoModelError();
    const started = performance.now();
    this.pins.set(model.id, (this.pins.get(model.id) ?? 0) + 1);
    try {
      // The worker decodes and infers: no hand-off between the two, and the event loop only moves bytes.
      const result = await this.options.pool.detect(model.id, image, this.options.decode, options.scoreThreshold);
      return {
        model: { name: model.name, version: model.version, format: model.format, family: model.family },
        image: result.image,
        detections: result.detections,
        classifications: result.classifications,
        timings: { decodeMs: result.decodeMs, queueMs: result.queueMs, ...result.timings, totalMs: performance.now() - started },
      };
    } finally {
      this.unpin(model.id);
    }
  }

  /** Waits for any activation in progress, then unloads the active model. */
  async close(): Promise<void> {
    this.waiting?.resolve({ status: 'superseded' });
    this.waiting = undefined;
    await this.running;
  }

  private async drainQueue(): Promise<void> {
    try {
      while (this.waiting) {
        const { announcement, resolve } = this.waiting;
        this.waiting = undefined;
        resolve(await this.activateNow(announcement));
      }
    } finally {
      // Cleared in the same turn as the last check of `waiting`: a caller that resumes from the last outcome and
      // activates again at once must start a new drain, not find this one still marked running.
      this.running = undefined;
    }
  }

  private isSameAsActive(announcement: ModelAnnouncement, sha256: string): boolean {
    const active = this.current;
    return active !== undefined && active.name === announcement.name && active.version === announcement.version && active.sha256 === sha256;
  }

  private async activateNow(announcement: ModelAnnouncement): Promise<ActivationOutcome> {
    const log = this.options.logger.child({ model: announcement.name, version: announcement.version });
    const id = `${announcement.name}@${announcement.version}#${++this.sequence}`;
    let loaded = false;
    try {
      const files = await readModelFiles(this.options.storageRoot, announcement);
      if (this.isSameAsActive(announcement, files.sha256) && this.current) {
        log.info('model.activation.unchanged');
        return { status: 'unchanged', model: this.current };
      }
      const samples = await readAcceptanceSamples(this.options.storageRoot, announcement, files.descriptor);
      log.info('model.load.start');
      const info = await this.options.pool.loadEverywhere(id, {
        format: announcement.format,
        modelPath: files.modelPath,
        labelsText: files.labelsText,
        ...(files.descriptor ? { descriptor: files.descriptor } : {}),
        runtime: this.options.runtime,
      });
      loaded = true;
      if (this.waiting) {
        log.info('model.activation.superseded');
        await this.options.pool.unloadEverywhere(id);
        return { status: 'superseded' };
      }
      const acceptanceStarted = performance.now();
      await this.runAcceptance(id, samples);
      if (samples.length > 0) log.info({ samples: samples.length, acceptanceMs: Math.round(performance.now() - acceptanceStarted) }, 'model.acceptance.passed');
      const model: ActiveModel = {
        id,
        name: announcement.name,
        version: announcement.version,
        format: announcement.format,
        family: info.spec.family,
        runtime: info.runtimeName,
        sha256: files.sha256,
        modelPath: announcement.modelPath,
        spec: info.spec,
        activatedAt: new Date().toISOString(),
        loadMs: info.loadMs,
        warmupMs: info.warmupMs,
        ...(samples.length > 0 ? { acceptance: { samples: samples.length, passed: samples.length } } : {}),
      };
      const previous = this.current;
      this.current = model;
      log.info({ family: model.family, runtime: model.runtime, loadMs: Math.round(info.loadMs), warmupMs: Math.round(info.warmupMs) }, 'model.activated');
      this.emit('activated', model, previous);
      if (previous) this.retire(previous);
      return previous ? { status: 'activated', model, previous } : { status: 'activated', model };
    } catch (error) {
      if (loaded) await this.options.pool.unloadEverywhere(id);
      const { code, message } = serializeError(error, 'MODEL_LOAD_FAILED');
      const info = { code, message };
      log.error({ err: error, code: info.code }, 'model.activation.failed');
      this.emit('failed', announcement, info);
      return { status: 'failed', error: info };
    }
  }

  /** Runs each acceptance sample through the worker path requests take; the first label missing rejects the model. */
  private async runAcceptance(modelId: string, samples: LoadedSample[]): Promise<void> {
    for (const sample of samples) {
      let findings;
      try {
        findings = await this.options.pool.detect(modelId, sample.bytes, this.options.decode, sample.minScore, { exemptFromQueueLimit: true });
      } catch (error) {
        throw new AcceptanceFailedError(sample.image, `it could not be run: ${error instanceof Error ? error.message : String(error)}`);
      }
      const missing = missingLabels(sample, findings);
      if (missing.length > 0) {
        const threshold = sample.minScore === undefined ? '' : ` with a score of at least ${sample.minScore}`;
        throw new AcceptanceFailedError(sample.image, `expected ${missing.join(', ')}${threshold}, but ${describeFindings(findings)}`);
      }
    }
  }

  private retire(model: ActiveModel): void {
    this.retiring.set(model.id, model);
    if ((this.pins.get(model.id) ?? 0) === 0) void this.free(model);
  }

  private unpin(id: string): void {
    const count = (this.pins.get(id) ?? 1) - 1;
    if (count > 0) return void this.pins.set(id, count);
    this.pins.delete(id);
    const retiring = this.retiring.get(id);
    if (retiring) void this.free(retiring);
  }

  private async free(model: ActiveModel): Promise<void> {
    if (!this.retiring.delete(model.id)) return;
    await this.options.pool.unloadEverywhere(model.id);
    this.options.logger.info({ model: model.name, version: model.version }, 'model.retired');
    this.emit('retired', model);
  }
}
