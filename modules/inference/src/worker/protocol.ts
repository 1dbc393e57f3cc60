import type { LoadModelRequest, PipelineResult } from '../pipeline/model-pipeline.js';
import type { ModelSpec } from '../pipeline/model-spec.js';
import type { Frame } from '../pipeline/preprocess.js';
import type { ModelSignature } from '../pipeline/signature.js';

export type WorkerRequest =
  | { type: 'load'; requestId: number; modelId: string; load: LoadModelRequest }
  | { type: 'infer'; requestId: number; modelId: string; frame: Frame; scoreThreshold?: number }
  | { type: 'unload'; requestId: number; modelId: string };

/** A request before the pool numbers it. */
export type WorkerCall = WorkerRequest extends infer Request ? (Request extends WorkerRequest ? Omit<Request, 'requestId'> : never) : never;

export interface LoadedModelInfo {
  spec: ModelSpec;
  signature: ModelSignature;
  runtimeName: 'onnxruntime' | 'litert';
  loadMs: number;
  warmupMs: number;
}

export interface SerializedError {
  code: string;
  message: string;
}

export type WorkerResponse =
  | { type: 'ready' }
  | { type: 'loaded'; requestId: number; info: LoadedModelInfo }
  | { type: 'inferred'; requestId: number; result: PipelineResult }
  | { type: 'unloaded'; requestId: number }
  | { type: 'failed'; requestId: number; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'INTERNAL', message: error.message };
  }
  return { code: 'INTERNAL', message: String(error) };
}
