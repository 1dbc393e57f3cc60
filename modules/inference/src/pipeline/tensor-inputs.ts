import { EdgeError } from '@edge-ml/edge-kit/errors';
import type { ModelSignature, Tensor, TensorDType, TensorInfo } from './signature.js';

/** A tensor with the name of the model input or output it is, and its element type. */
export interface NamedTensor extends Tensor {
  name: string;
  dtype: TensorDType;
}

/** Tensors a client sent that do not fit the model's inputs or outputs. Maps to HTTP 400. */
export class TensorMismatchError extends EdgeError {
  readonly statusCode = 400;
  constructor(
    readonly code: 'TENSOR_INPUT_UNKNOWN' | 'TENSOR_INPUT_MISSING' | 'TENSOR_INPUT_DUPLICATE' | 'TENSOR_DATATYPE_MISMATCH' | 'TENSOR_SHAPE_MISMATCH' | 'TENSOR_OUTPUT_UNKNOWN',
    message: string,
  ) {
    super(message);
  }
}

const describe = (info: TensorInfo) => `${info.dtype} [${info.shape.join(', ')}]`;
const names = (tensors: readonly { name: string }[]) => tensors.map((tensor) => `"${tensor.name}"`).join(', ');

/** True when every dimension equals the model's, or the model takes any size there (-1). */
export function shapeFits(modelShape: readonly number[], shape: readonly number[]): boolean {
  return modelShape.length === shape.length && modelShape.every((dimension, axis) => dimension < 0 || dimension === shape[axis]);
}

/** The element count of a shape, assumed validated (non-negative integers). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dimension) => count * dimension, 1);
}

/** The client's tensors in the model's input order, each checked against its input's name, element type and shape. */
export function orderTensorInputs(signature: ModelSignature, inputs: readonly NamedTensor[]): Tensor[] {
  const byName = new Map<string, NamedTensor>();
  for (const input of inputs) {
    if (byName.has(input.name)) throw new TensorMismatchError('TENSOR_INPUT_DUPLICATE', `input "${input.name}" is sent twice`);
    if (!signature.inputs.some((info) => info.name === input.name)) {
      throw new TensorMismatchError('TENSOR_INPUT_UNKNOWN', `the model has no input "${input.name}"; its inputs are ${names(signature.inputs)}`);
    }
    byName.set(input.name, input);
  }
  return signature.inputs.map((info) => {
    const input = byName.get(info.name);
    if (!input) throw new TensorMismatchError('TENSOR_INPUT_MISSING', `input "${info.name}" (${describe(info)}) is missing`);
    if (info.dtype !== 'unknown' && input.dtype !== info.dtype) {
      throw new TensorMismatchError('TENSOR_DATATYPE_MISMATCH', `input "${info.name}" is ${describe(info)}; the request sends ${input.dtype}`);
    }
    if (!shapeFits(info.shape, input.shape)) {
      throw new TensorMismatchError('TENSOR_SHAPE_MISMATCH', `input "${info.name}" is ${describe(info)} (-1: any size); the request sends [${input.shape.join(', ')}]`);
    }
    if (input.data.length !== elementCount(input.shape)) {
      throw new TensorMismatchError('TENSOR_SHAPE_MISMATCH', `input "${info.name}" has ${input.data.length} elements; its shape [${input.shape.join(', ')}] holds ${elementCount(input.shape)}`);
    }
    return { data: input.data, shape: input.shape };
  });
}

/** The positions of the requested outputs among the model's, in the order requested; all of them when none is named. */
export function selectOutputs(signature: ModelSignature, requested: readonly string[] | undefined): number[] {
  if (requested === undefined) return signature.outputs.map((_info, index) => index);
  return requested.map((name) => {
    const index = signature.outputs.findIndex((info) => info.name === name);
    if (index < 0) throw new TensorMismatchError('TENSOR_OUTPUT_UNKNOWN', `the model has no output "${name}"; its outputs are ${names(signature.outputs)}`);
    return index;
  });
}
