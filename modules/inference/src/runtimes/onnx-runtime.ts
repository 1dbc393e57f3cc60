import ort from 'onnxruntime-node';
import { ModelLoadError } from '../pipeline/errors.js';
import type { ModelSignature, Tensor, TensorDType, TensorInfo } from '../pipeline/signature.js';
import type { ModelRuntime, RuntimeOptions } from './model-runtime.js';

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
  ) {}

  static async load(modelPath: string, options: RuntimeOptions): Promise<OnnxModelRuntime> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        executionProviders: options.executionProviders,
        intraOpNumThreads: options.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (error) {
      throw new ModelLoadError(`ONNX Runtime rejected ${modelPath}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const inputs = (session.inputMetadata as readonly OrtValueMetadata[]).map(toTensorInfo);
    const outputs = (session.outputMetadata as readonly OrtValueMetadata[]).map(toTensorInfo);
    return new OnnxModelRuntime(session, { inputs, outputs, hasDetectionPostProcess: false });
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
