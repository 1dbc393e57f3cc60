import type { DecodeOptions } from '../image/decode-image.js';
import type { LoadModelRequest, PipelineResult } from '../pipeline/model-pipeline.js';
import type { ModelSpec } from '../pipeline/model-spec.js';
import type { ModelSignature, Tensor } from '../pipeline/signature.js';
import type { ExecutionProviders } from '../runtimes/model-runtime.js';

export type WorkerRequest =
  | { type: 'load'; requestId: number; modelId: string; load: LoadModelRequest }
  /** Decode the image bytes in the worker, then infer: one thread, no hand-off between decode and inference. */
  | { type: 'detect'; requestId: number; modelId: string; image: Uint8Array; decode: DecodeOptions; scoreThreshold?: number; sentAt: number }
  /** Run the model's runtime on tensors the client prepared, in the model's input order: no decoding, no post-processing. */
  | { type: 'infer-tensors'; requestId: number; modelId: string; inputs: Tensor[]; sentAt: number }
  | { type: 'unload'; requestId: number; modelId: string };

/** Wall-clock milliseconds comparable across threads (each thread's performance.now() has its own origin). */
export const wallClockMs = () => performance.timeOrigin + performance.now();

/** A request before the pool numbers it. */
export type WorkerCall = WorkerRequest extends infer Request ? (Request extends WorkerRequest ? Omit<Request, 'requestId'> : never) : never;

export interface LoadedModelInfo {
  spec: ModelSpec;
  signature: ModelSignature;
  runtimeName: 'onnxruntime' | 'litert';
  providers: ExecutionProviders;
  loadMs: number;
  warmupMs: number;
}

export interface SerializedError {
  code: string;
  message: string;
  /** The HTTP status of a client's mistake (a bad image: 400, too large: 413); absent for internal errors. */
  statusCode?: number;
}

/** A detection made from image bytes: the pipeline's result, how long decoding took and the original image's size. */
export interface DetectedResult extends PipelineResult {
  /** Time the request waited in the worker for the request before it (the worker runs one model at a time). */
  workerWaitMs: number;
  /**
   * From the start of decoding until this thread picks the frame up: under load it includes the wait for the other
   * request's inference to release the thread (sharp's result is delivered on this thread's event loop).
   */
  decodeMs: number;
  image: { width: number; height: number };
}

/** The runtime's outputs for given tensors, in the model's output order. */
export interface InferredTensors {
  outputs: Tensor[];
  workerWaitMs: number;
  inferenceMs: number;
}

export type WorkerResponse =
  | { type: 'ready' }
  | { type: 'loaded'; requestId: number; info: LoadedModelInfo }
  | { type: 'detected'; requestId: number; result: DetectedResult }
  | { type: 'inferred'; requestId: number; result: InferredTensors }
  | { type: 'unloaded'; requestId: number }
  | { type: 'failed'; requestId: number; error: SerializedError };

/** An error's code (or `fallbackCode`), message, and status when it was the client's mistake. */
export function serializeError(error: unknown, fallbackCode = 'INTERNAL'): SerializedError {
  if (error instanceof Error) {
    const { code, statusCode } = error as Error & { code?: unknown; statusCode?: unknown };
    const clientError = typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500;
    return { code: typeof code === 'string' ? code : fallbackCode, message: error.message, ...(clientError ? { statusCode } : {}) };
  }
  return { code: fallbackCode, message: String(error) };
}
