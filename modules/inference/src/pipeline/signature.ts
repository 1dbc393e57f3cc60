export type TensorDType = 'float32' | 'float16' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool' | 'unknown';

export interface TensorInfo {
  name: string;
  dtype: TensorDType;
  /** -1 for a dynamic dimension. */
  shape: number[];
  /** Affine quantisation of a quantised tensor: real = (q - zeroPoint) * scale. */
  quantization?: { scale: number; zeroPoint: number };
}

export interface ModelSignature {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** True when the graph ends in TFLite's detection post-process op (SSD). */
  hasDetectionPostProcess: boolean;
}

export type TypedTensorArray = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array | Float64Array | Uint16Array;

export interface Tensor {
  data: TypedTensorArray;
  shape: number[];
}

export function describeSignature(signature: ModelSignature): string {
  const list = (tensors: TensorInfo[]) => tensors.map((tensor) => `${tensor.name}:${tensor.dtype}[${tensor.shape.join(',')}]`).join(', ');
  return `inputs (${list(signature.inputs)}), outputs (${list(signature.outputs)})`;
}
