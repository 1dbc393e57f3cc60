import { EventEmitter } from 'node:events';
import type { DetectionResult, ModelAnnouncement, ModelFamily, ModelFormat } from '@edge-ml/contracts';
import type { Logger } from '@edge-ml/edge-kit';
import type { DecodeOptions } from '../image/decode-image.js';
import type { ModelSpec } from '../pipeline/model-spec.js';
import type { ModelSignature } from '../pipeline/signature.js';
import { orderTensorInputs, selectOutputs, type NamedTensor } from '../pipeline/tensor-inputs.js';
import type { RuntimeOptions } from '../runtimes/model-runtime.js';
import { serializeError } from '../worker/protocol.js';
import type { WorkerPool } from '../worker/worker-pool.js';
import { describeFindings, missingLabels } from './acceptance.js';
import type { MemoryBudget } from './memory-budget.js';
import { readAcceptanceSamples, readModelFiles, type LoadedSample } from './model-files.js';
import { AcceptanceFailedError, ModelVersionNotServedError, NoModelError } from './serving-errors.js';

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
  /** The runtime's inputs and outputs: names, element types and shapes. */
  signature: ModelSignature;
  activatedAt: string;
  loadMs: number;
  warmupMs: number;
  /** Acceptance samples run and passed before it served; absent when its package has none. */
  acceptance?: { samples: number; passed: number };
}

/** What the model's runtime returned for a client's tensors, with the model that ran them. */
export interface TensorInferenceResult {
  model: { name: string; version: string; format: ModelFormat; family: ModelFamily };
  /** The outputs asked for, in the order asked, or every output in the model's order. */
  outputs: NamedTensor[];
  timings: { queueMs: number; inferenceMs: number; totalMs: number };
}

/** Which model a request may be answered by: a request for a version that does not serve is refused, never redirected. */
export interface ServedVersionOption {
  version?: string;
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
  /** Shared by every model name's manager: a version is loaded only once its estimated memory is reserved. */
  memory?: MemoryBudget;
}

interface Queued {
  announcement: ModelAnnouncement;
  resolve: (outcome: ActivationOutcome) => void;
}

/**
 * Owns which version of one model name serves (one instance per name, held by the ModelRegistry). Activations run one at a time: load and warm up in every worker, pass the package's
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
  async detect(image: Buffer, options: { scoreThreshold?: number } & ServedVersionOption = {}): Promise<DetectionResult> {
    const model = this.pinActive(options);
    const started = performance.now();
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

  /**
   * Runs the runtime of the model active at arrival on the client's own tensors (already preprocessed) and returns its
   * raw outputs, named; pinned like `detect`, so a swap meanwhile cannot free the model under it.
   */
  async inferTensors(inputs: readonly NamedTensor[], options: { outputs?: readonly string[] } & ServedVersionOption = {}): Promise<TensorInferenceResult> {
    const model = this.pinActive(options);
    const started = performance.now();
    try {
      const ordered = orderTensorInputs(model.signature, inputs);
      const selected = selectOutputs(model.signature, options.outputs);
      const result = await this.options.pool.inferTensors(model.id, ordered);
      const outputs = selected.map((index): NamedTensor => {
        const info = model.signature.outputs[index];
        const tensor = result.outputs[index];
        if (!info || !tensor) throw new Error(`the runtime returned ${result.outputs.length} outputs; the signature has ${model.signature.outputs.length}`);
        return { name: info.name, dtype: info.dtype, data: tensor.data, shape: tensor.shape };
      });
      return {
        model: { name: model.name, version: model.version, format: model.format, family: model.family },
        outputs,
        timings: { queueMs: result.queueMs, inferenceMs: result.inferenceMs, totalMs: performance.now() - started },
      };
    } finally {
      this.unpin(model.id);
    }
  }

  /** The active model, pinned until `unpin`; refused when none serves or another version than the one asked for does. */
  private pinActive(options: ServedVersionOption): ActiveModel {
    const model = this.current;
    if (!model) throw new NoModelError();
    if (options.version !== undefined && options.version !== model.version) throw new ModelVersionNotServedError(model.name, options.version, model.version);
    this.pins.set(model.id, (this.pins.get(model.id) ?? 0) + 1);
    return model;
  }

  /** Cancels the activation waiting, and waits for the one in progress. */
  async close(): Promise<void> {
    this.waiting?.resolve({ status: 'superseded' });
    this.waiting = undefined;
    await this.running;
  }

  /**
   * Stops serving: cancels what waits, lets a load in progress end, then retires the active model, which is freed
   * once the requests pinned to it have finished (a request arriving after this gets NoModelError).
   */
  async unload(): Promise<void> {
    await this.close();
    const active = this.current;
    if (!active) return;
    this.current = undefined;
    this.options.logger.info({ model: active.name, version: active.version }, 'model.unloading');
    this.retire(active);
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
      this.options.memory?.reserve(id, announcement, files.sizeBytes);
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
        this.options.memory?.release(id);
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
        signature: info.signature,
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
      this.options.memory?.release(id);
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
    this.options.memory?.release(model.id);
    this.options.logger.info({ model: model.name, version: model.version }, 'model.retired');
    this.emit('retired', model);
  }
}
