import type { ModelSignature, Tensor } from '../pipeline/signature.js';

/** One loaded model in one runtime. Not thread-safe: a worker runs one inference at a time on it. */
export interface ModelRuntime {
  readonly signature: ModelSignature;
  readonly runtimeName: 'onnxruntime' | 'litert';
  /** The execution providers the model runs on, and those asked for that could not be used, with why. */
  readonly providers: ExecutionProviders;
  /** Inputs in signature order. */
  run(inputs: Tensor[]): Promise<Tensor[]>;
  dispose(): Promise<void>;
}

export interface RuntimeOptions {
  /** ONNX Runtime execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: string[];
  threads: number;
}

export interface ExecutionProviders {
  used: string[];
  skipped: { name: string; reason: string }[];
}
