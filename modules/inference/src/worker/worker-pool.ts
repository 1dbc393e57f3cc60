import type { Worker } from 'node:worker_threads';
import type { Logger } from '@edge-ml/edge-kit';
import type { DecodeOptions } from '../image/decode-image.js';
import type { LoadModelRequest } from '../pipeline/model-pipeline.js';
import type { Tensor } from '../pipeline/signature.js';
import { wallClockMs, type DetectedResult, type InferredTensors, type LoadedModelInfo, type WorkerCall, type WorkerResponse } from './protocol.js';
import { spawnInferenceWorker } from './spawn-worker.js';
import { OverloadedError, WorkerTaskError } from './worker-errors.js';

export interface WorkerPoolOptions {
  size: number;
  /** Requests waiting for a worker beyond this are refused with OverloadedError. */
  maxQueue: number;
  logger: Logger;
  /**
   * Requests a worker holds at once (default 2): while one runs its model, the next one's image decodes on libuv's
   * pool, so decoding and inference overlap. Measured on 2 cores against decoding on the main thread, one request per
   * worker: throughput at c=8 +7-11% in-process and +5-8% over HTTP, c=1 p50 -13% (docs/benchmarks.md).
   */
  jobsPerWorker?: number;
  spawn?: () => Worker;
}

export type DetectResult = DetectedResult & { queueMs: number };
export type TensorResult = InferredTensors & { queueMs: number };

interface PendingCall {
  resolve: (response: WorkerResponse) => void;
  reject: (error: Error) => void;
}

/** A request waiting for a worker: `send` runs it on the worker it is given, with the time it waited in the queue. */
interface Job {
  enqueuedAt: number;
  send: (worker: PoolWorker, queueMs: number) => Promise<void>;
  reject: (error: Error) => void;
}

/** The image as the worker gets it: the caller's bytes are cloned, never detached; a view into a larger buffer is cut out first. */
function sendable(image: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  const whole = image.byteOffset === 0 && image.byteLength === image.buffer.byteLength && image.buffer instanceof ArrayBuffer;
  if (whole) return { bytes: image, transfer: [] };
  // A pooled Buffer shares its ArrayBuffer with others: cloning the view would copy all of it.
  const copy = image.slice();
  return { bytes: copy, transfer: [copy.buffer as ArrayBuffer] };
}

/** The same elements as `like`, over `bytes` (a copy of its bytes that owns its buffer). */
function retyped(like: Tensor['data'], bytes: Uint8Array): Tensor['data'] {
  const Constructor = like.constructor as new (buffer: ArrayBuffer) => Tensor['data'];
  return new Constructor(bytes.buffer as ArrayBuffer);
}

class PoolWorker {
  inFlight = 0;
  /** Set while a replacement worker reloads the models its predecessor held. */
  reloading = false;
  ready: Promise<void>;
  private nextRequestId = 1;
  private readonly calls = new Map<number, PendingCall>();
  private markReady!: () => void;

  constructor(
    readonly worker: Worker,
    private readonly onExit: (self: PoolWorker, error: Error) => void,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    worker.on('message', (response: WorkerResponse) => this.receive(response));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`inference worker exited with code ${code}`)));
  }

  call(request: WorkerCall, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.calls.set(requestId, { resolve, reject });
      this.worker.postMessage({ ...request, requestId }, transfer);
    });
  }

  private receive(response: WorkerResponse): void {
    if (response.type === 'ready') return this.markReady();
    const call = this.calls.get(response.requestId);
    if (!call) return;
    this.calls.delete(response.requestId);
    if (response.type === 'failed') call.reject(new WorkerTaskError(response.error.code, response.error.message, response.error.statusCode));
    else call.resolve(response);
  }

  private failed = false;
  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    for (const call of this.calls.values()) call.reject(new WorkerTaskError('WORKER_CRASHED', error.message));
    this.calls.clear();
    this.onExit(this, error);
  }

  hasRoom(limit: number): boolean {
    return !this.reloading && this.inFlight < limit;
  }

  async terminate(): Promise<void> {
    this.failed = true;
    await this.worker.terminate();
  }
}

/**
 * A fixed set of inference worker threads, each holding its own copy of every loaded model, fed from one bounded queue.
 * A worker that dies is replaced and given the models it held; the requests it held (at most `jobsPerWorker`) fail,
 * no other does.
 */
export class WorkerPool {
  private workers: PoolWorker[] = [];
  private readonly queue: Job[] = [];
  private readonly loadedModels = new Map<string, LoadModelRequest>();
  private closed = false;

  private readonly jobsPerWorker: number;

  constructor(private readonly options: WorkerPoolOptions) {
    this.jobsPerWorker = options.jobsPerWorker ?? 2;
    if (!Number.isInteger(this.jobsPerWorker) || this.jobsPerWorker < 1) throw new RangeError(`jobsPerWorker must be a positive integer, got ${this.jobsPerWorker}`);
  }

  async start(): Promise<void> {
    this.workers = Array.from({ length: this.options.size }, () => this.spawn());
    await Promise.all(this.workers.map((worker) => worker.ready));
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Models loaded in the workers, by id. */
  loadedModelIds(): string[] {
    return [...this.loadedModels.keys()];
  }

  get size(): number {
    return this.workers.length;
  }

  /** Loads and warms up a model in every worker; if any worker fails, the model is unloaded everywhere and the error thrown. */
  async loadEverywhere(modelId: string, request: LoadModelRequest): Promise<LoadedModelInfo> {
    const results = await Promise.allSettled(this.workers.map((worker) => worker.ready.then(() => worker.call({ type: 'load', modelId, load: request }))));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) {
      await this.unloadEverywhere(modelId);
      throw failure.reason;
    }
    this.loadedModels.set(modelId, request);
    const first = results[0];
    if (first?.status !== 'fulfilled' || first.value.type !== 'loaded') throw new Error('the pool has no workers');
    const { providers } = first.value.info;
    if (providers.skipped.length > 0) this.options.logger.warn({ modelId, used: providers.used, skipped: providers.skipped }, 'model.providers.skipped');
    return first.value.info;
  }

  async unloadEverywhere(modelId: string): Promise<void> {
    this.loadedModels.delete(modelId);
    await Promise.allSettled(this.workers.map((worker) => worker.call({ type: 'unload', modelId })));
  }

  /**
   * Decodes image bytes and runs a model on them, both in a worker; a bad image rejects with its 4xx status.
   * `exemptFromQueueLimit` is for the module's own work (acceptance samples), which load must not refuse.
   */
  detect(modelId: string, image: Uint8Array, decode: DecodeOptions, scoreThreshold?: number, options: { exemptFromQueueLimit?: boolean } = {}): Promise<DetectResult> {
    return this.enqueue(options, async (worker, queueMs) => {
      const { bytes, transfer } = sendable(image);
      const threshold = scoreThreshold === undefined ? {} : { scoreThreshold };
      const response = await worker.call({ type: 'detect', modelId, image: bytes, decode, ...threshold, sentAt: wallClockMs() }, transfer);
      if (response.type !== 'detected') throw new Error(`unexpected worker response ${response.type}`);
      // Queueing is the pool's queue plus the wait inside the worker behind the request it was running.
      return { ...response.result, queueMs: queueMs + response.result.workerWaitMs };
    });
  }

  /** Runs a model's runtime on tensors in its input order, in a worker, under the same queue limit as `detect`. */
  inferTensors(modelId: string, inputs: Tensor[]): Promise<TensorResult> {
    return this.enqueue({}, async (worker, queueMs) => {
      const sent = inputs.map((input) => ({ input, ...sendable(new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength)) }));
      // As with images: the caller's tensors are cloned, never detached; a view into a larger buffer is cut out first.
      const tensors = sent.map(({ input, bytes, transfer }) => (transfer.length === 0 ? input : { shape: input.shape, data: retyped(input.data, bytes) }));
      const response = await worker.call({ type: 'infer-tensors', modelId, inputs: tensors, sentAt: wallClockMs() }, sent.flatMap(({ transfer }) => transfer));
      if (response.type !== 'inferred') throw new Error(`unexpected worker response ${response.type}`);
      return { ...response.result, queueMs: queueMs + response.result.workerWaitMs };
    });
  }

  /** Queues work for the next free worker; refused with OverloadedError when every worker is busy and the queue full. */
  private enqueue<T>(options: { exemptFromQueueLimit?: boolean }, send: (worker: PoolWorker, queueMs: number) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    const roomNow = this.workers.some((worker) => worker.hasRoom(this.jobsPerWorker));
    if (!roomNow && !options.exemptFromQueueLimit && this.queue.length >= this.options.maxQueue) {
      return Promise.reject(new OverloadedError(1, this.queue.length));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ enqueuedAt: performance.now(), send: async (worker, queueMs) => resolve(await send(worker, queueMs)), reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the worker pool is closing'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.workers = [];
  }

  /** Gives queued requests to the least loaded workers: two requests go to two workers before one holds both. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let target: PoolWorker | undefined;
      for (const worker of this.workers) if (worker.hasRoom(this.jobsPerWorker) && (!target || worker.inFlight < target.inFlight)) target = worker;
      if (!target) return;
      const job = this.queue.shift();
      if (job) void this.run(target, job);
    }
  }

  private async run(worker: PoolWorker, job: Job): Promise<void> {
    worker.inFlight += 1;
    const queueMs = performance.now() - job.enqueuedAt;
    try {
      await worker.ready;
      await job.send(worker, queueMs);
    } catch (error) {
      job.reject(error instanceof Error ? error : new Error(String(error)));
    } finally {
      worker.inFlight -= 1;
      this.dispatch();
    }
  }

  private spawn(): PoolWorker {
    const worker = new PoolWorker((this.options.spawn ?? spawnInferenceWorker)(), (dead, error) => this.replace(dead, error));
    return worker;
  }

  private replace(dead: PoolWorker, error: Error): void {
    if (this.closed) return;
    this.options.logger.error({ err: error }, 'inference.worker.crashed');
    const replacement = this.spawn();
    replacement.reloading = true;
    this.workers = this.workers.map((worker) => (worker === dead ? replacement : worker));
    const models = [...this.loadedModels.entries()];
    void (async () => {
      await replacement.ready;
      for (const [modelId, request] of models) {
        await replacement.call({ type: 'load', modelId, load: request }).catch((loadError: unknown) => this.options.logger.error({ err: loadError, modelId }, 'inference.worker.reload.failed'));
      }
      replacement.reloading = false;
      this.dispatch();
    })();
  }
}
