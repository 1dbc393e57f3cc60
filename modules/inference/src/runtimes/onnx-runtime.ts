import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModelLoadError } from '../pipeline/errors.js';
import type { ModelSignature, Tensor, TensorDType, TensorInfo } from '../pipeline/signature.js';
import type { ExecutionProviders, ModelRuntime, RuntimeOptions } from './model-runtime.js';

const DTYPES: Record<string, TensorDType> = { float32: 'float32', float16: 'float16', uint8: 'uint8', int8: 'int8', int32: 'int32', int64: 'int64', bool: 'bool' };

type OrtValueMetadata = { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] };

function toTensorInfo(metadata: OrtValueMetadata): TensorInfo {
  return {
    name: metadata.name,
    dtype: DTYPES[metadata.type ?? ''] ?? 'unknown',
    shape: (metadata.shape ?? []).map((dimension) => (typeof dimension === 'number' && dimension > 0 ? dimension : -1)),
  };
}

function toOrtTensor(info: TensorInfo, tensor: Tensor): ort.Tensor {
  const type = info.dtype === 'unknown' ? 'float32' : info.dtype;
  return new ort.Tensor(type as 'float32', tensor.data as Float32Array, tensor.shape);
}

export class OnnxModelRuntime implements ModelRuntime {
  readonly runtimeName = 'onnxruntime';
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly signature: ModelSignature,
    readonly providers: ExecutionProviders,
  ) {}

  /**
   * Creates a session on the configured providers as a fallback list: when a provider cannot be used on this device
   * (e.g. `cuda` without the CUDA libraries), it is skipped and the next ones are tried, down to `cpu`, which is
   * always last. Only when the last attempt fails is the model itself at fault.
   */
  static async load(modelPath: string, options: RuntimeOptions): Promise<OnnxModelRuntime> {
    const wanted = fallbackList(options.executionProviders);
    const skipped: ExecutionProviders['skipped'] = [];
    for (let first = 0; first < wanted.length; first += 1) {
      const attempt = wanted.slice(first);
      try {
        const session = await ort.InferenceSession.create(modelPath, {
          executionProviders: attempt,
          intraOpNumThreads: options.threads,
          interOpNumThreads: 1,
          graphOptimizationLevel: 'all',
          // The memory pattern plans one block for a run's intermediate tensors, which the arena adds beside the chunks
          // the first run grew and keeps for good: ~4 MiB more per worker for YOLOX-nano, with the same outputs to the
          // bit and the same latency without it (docs/benchmarks.md).
          enableMemPattern: false,
          logSeverityLevel: 3,
        });
        const inputs = (session.inputMetadata as readonly OrtValueMetadata[]).map(toTensorInfo);
        const outputs = (session.outputMetadata as readonly OrtValueMetadata[]).map(toTensorInfo);
        return new OnnxModelRuntime(session, { inputs, outputs, hasDetectionPostProcess: false }, { used: attempt, skipped });
      } catch (error) {
        // ONNX Runtime names the file by its absolute path; messages leave the device, paths on it do not.
        const reason = (error instanceof Error ? error.message : String(error)).split(modelPath).join(path.basename(modelPath));
        if (attempt.length === 1) throw new ModelLoadError(`ONNX Runtime rejected ${path.basename(modelPath)}: ${reason}`, { cause: error });
        skipped.push({ name: attempt[0] ?? '', reason });
      }
    }
    throw new ModelLoadError('no ONNX Runtime execution provider is configured');
  }

  async run(inputs: Tensor[]): Promise<Tensor[]> {
    const feeds: Record<string, ort.Tensor> = {};
    this.signature.inputs.forEach((info, index) => {
      const tensor = inputs[index];
      if (!tensor) throw new Error(`missing input ${info.name}`);
      feeds[info.name] = toOrtTensor(info, tensor);
    });
    const results = await this.session.run(feeds);
    return this.signature.outputs.map((info) => {
      const value = results[info.name];
      if (!value) throw new Error(`ONNX Runtime returned no ${info.name}`);
      return { data: value.data as Tensor['data'], shape: value.dims.map(Number) };
    });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** The configured providers without duplicates, with `cpu` last: the provider every build of ONNX Runtime has. */
export function fallbackList(configured: readonly string[]): string[] {
  const unique = [...new Set(configured.map((name) => name.trim().toLowerCase()).filter(Boolean))].filter((name) => name !== 'cpu');
  return [...unique, 'cpu'];
}
