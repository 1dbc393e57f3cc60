import type { Worker } from 'node:worker_threads';
import type { Logger } from '@edge-ml/edge-kit';
import type { LoadModelRequest, PipelineResult } from '../pipeline/model-pipeline.js';
import type { Frame } from '../pipeline/preprocess.js';
import type { LoadedModelInfo, WorkerCall, WorkerResponse } from './protocol.js';
import { spawnInferenceWorker } from './spawn-worker.js';
import { OverloadedError, WorkerTaskError } from './worker-errors.js';

export interface WorkerPoolOptions {
  size: number;
  /** Requests waiting for a worker beyond this are refused with OverloadedError. */
  maxQueue: number;
  logger: Logger;
  spawn?: () => Worker;
}

export type InferResult = PipelineResult & { queueMs: number };

interface PendingCall {
  resolve: (response: WorkerResponse) => void;
  reject: (error: Error) => void;
}

interface InferJob {
  modelId: string;
  frame: Frame;
  scoreThreshold: number | undefined;
  enqueuedAt: number;
  resolve: (result: InferResult) => void;
  reject: (error: Error) => void;
}

class PoolWorker {
  busy = false;
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
    if (response.type === 'failed') call.reject(new WorkerTaskError(response.error.code, response.error.message));
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

  async terminate(): Promise<void> {
    this.failed = true;
    await this.worker.terminate();
  }
}

/**
 * A fixed set of inference worker threads, each holding its own copy of every loaded model, fed from one bounded queue.
 * A worker that dies is replaced and given the models it held; the request it was running fails, no other does.
 */
export class WorkerPool {
  private workers: PoolWorker[] = [];
  private readonly queue: InferJob[] = [];
  private readonly loadedModels = new Map<string, LoadModelRequest>();
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {}

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
    return first.value.info;
  }

  async unloadEverywhere(modelId: string): Promise<void> {
    this.loadedModels.delete(modelId);
    await Promise.allSettled(this.workers.map((worker) => worker.call({ type: 'unload', modelId })));
  }

  infer(modelId: string, frame: Frame, scoreThreshold?: number): Promise<InferResult> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    const idle = this.workers.find((worker) => !worker.busy);
    if (!idle && this.queue.length >= this.options.maxQueue) {
      return Promise.reject(new OverloadedError(1, this.queue.length));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ modelId, frame, scoreThreshold, enqueuedAt: performance.now(), resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the worker pool is closing'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.workers = [];
  }

  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (worker.busy) continue;
      const job = this.queue.shift();
      if (job) void this.run(worker, job);
    }
  }

  private async run(worker: PoolWorker, job: InferJob): Promise<void> {
    worker.busy = true;
    const queueMs = performance.now() - job.enqueuedAt;
    try {
      await worker.ready;
      // A pooled Buffer shares its ArrayBuffer with others; only a buffer of its own may be transferred.
      const rgb = job.frame.rgb;
      const ownsBuffer = rgb.byteOffset === 0 && rgb.byteLength === rgb.buffer.byteLength && rgb.buffer instanceof ArrayBuffer;
      const frame = ownsBuffer ? job.frame : { ...job.frame, rgb: rgb.slice() };
      const response = await worker.call(
        { type: 'infer', modelId: job.modelId, frame, ...(job.scoreThreshold === undefined ? {} : { scoreThreshold: job.scoreThreshold }) },
        [frame.rgb.buffer as ArrayBuffer],
      );
      if (response.type !== 'inferred') throw new Error(`unexpected worker response ${response.type}`);
      job.resolve({ ...response.result, queueMs });
    } catch (error) {
      job.reject(error instanceof Error ? error : new Error(String(error)));
    } finally {
      worker.busy = false;
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
    replacement.busy = true;
    this.workers = this.workers.map((worker) => (worker === dead ? replacement : worker));
    const models = [...this.loadedModels.entries()];
    void (async () => {
      await replacement.ready;
      for (const [modelId, request] of models) {
        await replacement.call({ type: 'load', modelId, load: request }).catch((loadError: unknown) => this.options.logger.error({ err: loadError, modelId }, 'inference.worker.reload.failed'));
      }
      replacement.busy = false;
      this.dispatch();
    })();
  }
}
