import { describe, expect, it } from 'vitest';
import type { ModelSignature } from '../pipeline/signature.js';
import { orderTensorInputs, selectOutputs, TensorMismatchError } from '../pipeline/tensor-inputs.js';
import { planInference } from './infer-plan.js';
import { parseInferBody, splitInferBody } from './infer-request.js';
import { encodeInferResponse, imageOutputs } from './infer-response.js';
import { OipRequestError } from './oip-errors.js';
import { binaryElements, decodeBinaryBytes, decodeJsonTensor, flattenTensorData, jsonElements } from './tensor-codec.js';

const codeOf = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    if (error instanceof OipRequestError || error instanceof TensorMismatchError) return error.code;
    throw error;
  }
  throw new Error('did not throw');
};

const withBinary = (json: unknown, ...tensors: Uint8Array[]) => {
  const head = Buffer.from(JSON.stringify(json));
  return { body: Buffer.concat([head, ...tensors]), length: String(head.length) };
};

describe('tensor data', () => {
  it('flattens data nested as the shape in row-major order, and takes flat data as it is', () => {
    expect(flattenTensorData('x', [2, 3], [[1, 2, 3], [4, 5, 6]], 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(flattenTensorData('x', [2, 3], [1, 2, 3, 4, 5, 6], 6)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses nesting that contradicts the shape, with the path of the first wrong level', () => {
    expect(() => flattenTensorData('x', [2, 2], [[1, 2], [3]], 4)).toThrow('input "x": data[1] has 1 entries; axis 1 of shape [2, 2] has 2');
    expect(() => flattenTensorData('x', [2], [[1], [2]], 2)).toThrow('data[0] is nested deeper');
    expect(() => flattenTensorData('x', [2, 1], [[1], 2], 2)).toThrow('data[1] is not an array');
  });

  it('converts JSON numbers to the typed array of the datatype, refusing values the type cannot hold', () => {
    expect(decodeJsonTensor('x', 'INT64', 'int64', [2], [1, -2])).toEqual(BigInt64Array.of(1n, -2n));
    expect(decodeJsonTensor('x', 'BOOL', 'bool', [2], [true, false])).toEqual(Uint8Array.of(1, 0));
    expect(decodeJsonTensor('x', 'FP32', 'float32', [1, 2], [[0.5, -1]])).toEqual(Float32Array.of(0.5, -1));
    expect(codeOf(() => decodeJsonTensor('x', 'INT8', 'int8', [1], [128]))).toBe('OIP_TENSOR_DATA_INVALID');
    expect(codeOf(() => decodeJsonTensor('x', 'INT64', 'int64', [1], [2 ** 60]))).toBe('OIP_TENSOR_DATA_INVALID');
    expect(codeOf(() => decodeJsonTensor('x', 'FP16', 'float16', [1], [1]))).toBe('OIP_DATATYPE_UNSUPPORTED');
  });

  it('reads BYTES elements with their 4-byte little-endian lengths, and refuses a length past the data or bytes left over', () => {
    const two = Buffer.from([2, 0, 0, 0, 0x61, 0x62, 0, 0, 0, 0]);
    expect(decodeBinaryBytes('x', 2, two).map((element) => element.toString())).toEqual(['ab', '']);
    expect(codeOf(() => decodeBinaryBytes('x', 1, Buffer.from([9, 0, 0, 0, 1])))).toBe('OIP_TENSOR_DATA_INVALID');
    expect(codeOf(() => decodeBinaryBytes('x', 1, two))).toBe('OIP_TENSOR_DATA_INVALID');
    expect(binaryElements('BYTES', [Buffer.from('ab'), Buffer.alloc(0)])).toEqual(two);
  });

  it('writes FP16 outputs to JSON as the values they encode, BOOL as booleans, INT64 as numbers', () => {
    expect(jsonElements('FP16', Uint16Array.of(0x3c00, 0xc000, 0x3555))).toEqual([1, -2, 0.333251953125]);
    expect(jsonElements('BOOL', Uint8Array.of(0, 1))).toEqual([false, true]);
    expect(jsonElements('INT64', BigInt64Array.of(7n))).toEqual([7]);
  });
});

describe('an inference request body', () => {
  it('splits at Inference-Header-Content-Length and gives each binary input its bytes, in order', () => {
    const a = new Uint8Array(Float32Array.of(1, 2).buffer);
    const { body, length } = withBinary(
      { inputs: [{ name: 'a', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } }, { name: 'b', shape: [1], datatype: 'INT32', data: [3] }, { name: 'c', shape: [1], datatype: 'UINT8', parameters: { binary_data_size: 1 } }] },
      a,
      Uint8Array.of(9),
    );
    const parsed = parseInferBody(body, length);
    expect(parsed.inputs.map((input) => (input.kind === 'tensor' ? [input.tensor.name, input.tensor.dtype, Array.from(input.tensor.data, Number)] : []))).toEqual([
      ['a', 'float32', [1, 2]],
      ['b', 'int32', [3]],
      ['c', 'uint8', [9]],
    ]);
  });

  it('reads a misaligned binary tensor (the JSON\'s length is odd) without a RangeError', () => {
    const { body, length } = withBinary({ inputs: [{ name: 'a', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 } }], id: 'xy' }, new Uint8Array(Float32Array.of(1.5).buffer));
    expect(Number(length) % 4).not.toBe(0);
    const [input] = parseInferBody(body, length).inputs;
    expect(input?.kind === 'tensor' && Array.from(input.tensor.data as Float32Array)).toEqual([1.5]);
  });

  it('refuses a header length that is not a number within the body', () => {
    for (const header of ['0', '11', 'x', '-1', '1.5', ['1', '2']]) expect(codeOf(() => splitInferBody(Buffer.alloc(10), header))).toBe('OIP_HEADER_LENGTH_INVALID');
    expect(splitInferBody(Buffer.from('{}abc'), '2').binary.toString()).toBe('abc');
  });

  it('refuses binary sizes that do not add up, and a size that is not the datatype and shape\'s', () => {
    const declared = (size: number, ...bytes: Uint8Array[]) => withBinary({ inputs: [{ name: 'a', shape: [2], datatype: 'FP32', parameters: { binary_data_size: size } }] }, ...bytes);
    const short = declared(8, new Uint8Array(4));
    expect(codeOf(() => parseInferBody(short.body, short.length))).toBe('OIP_BINARY_SIZE_MISMATCH');
    const extra = declared(8, new Uint8Array(12));
    expect(codeOf(() => parseInferBody(extra.body, extra.length))).toBe('OIP_BINARY_SIZE_MISMATCH');
    const wrong = declared(4, new Uint8Array(4));
    expect(() => parseInferBody(wrong.body, wrong.length)).toThrow('input "a" is FP32 [2]: 8 bytes, but binary_data_size is 4');
  });

  it('refuses a shape with more elements than the body can carry before allocating anything', () => {
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'a', shape: [65536, 65536, 65536], datatype: 'UINT8', data: [1] }] }));
    expect(() => parseInferBody(body, undefined)).toThrow(/declares shape \[65536, 65536, 65536\]: more elements than this request's \d+ bytes can carry \(its data has 1 entries\)/);
  });
});

describe('planning and answering', () => {
  const signature: ModelSignature = {
    inputs: [{ name: 'images', dtype: 'float32', shape: [1, 3, -1, -1] }],
    outputs: [{ name: 'boxes', dtype: 'float32', shape: [1, -1, 4] }, { name: 'scores', dtype: 'float32', shape: [1, -1] }],
    hasDetectionPostProcess: false,
  };

  it("orders the client's tensors as the model's inputs, accepting any size where the model has -1", () => {
    const tensor = { name: 'images', dtype: 'float32' as const, shape: [1, 3, 2, 2], data: new Float32Array(12) };
    expect(orderTensorInputs(signature, [tensor])).toEqual([{ data: tensor.data, shape: tensor.shape }]);
    expect(codeOf(() => orderTensorInputs(signature, [{ ...tensor, shape: [1, 4, 1, 3] }]))).toBe('TENSOR_SHAPE_MISMATCH');
    expect(codeOf(() => orderTensorInputs(signature, [{ ...tensor, dtype: 'uint8', data: new Uint8Array(12) }]))).toBe('TENSOR_DATATYPE_MISMATCH');
    expect(codeOf(() => orderTensorInputs(signature, []))).toBe('TENSOR_INPUT_MISSING');
    expect(selectOutputs(signature, ['scores', 'boxes'])).toEqual([1, 0]);
    expect(selectOutputs(signature, undefined)).toEqual([0, 1]);
  });

  it('takes one BYTES input as an image, answered by boxes, scores and labels; binary_data overrides binary_data_output', () => {
    const image = Buffer.from('fake');
    const parsed = parseInferBody(Buffer.from(JSON.stringify({
      parameters: { binary_data_output: true, score_threshold: 0.4 },
      inputs: [{ name: 'img', shape: [1], datatype: 'BYTES', data: [image.toString('base64')], parameters: { content_type: 'base64' } }],
      outputs: [{ name: 'labels', parameters: { binary_data: false } }, { name: 'boxes' }],
    })), undefined);
    expect(planInference(parsed)).toEqual({ kind: 'image', inputName: 'img', image, scoreThreshold: 0.4, outputs: [{ name: 'labels', binary: false }, { name: 'boxes', binary: true }] });
  });

  it('writes detections as rows, classifications with the whole image as box, and binary outputs after the JSON', () => {
    const result = {
      model: { name: 'm', version: '1', format: 'onnx' as const, family: 'yolox' as const },
      image: { width: 10, height: 10 },
      detections: [{ label: 'dog', classId: 1, score: 0.5, box: { xmin: 0.1, ymin: 0.2, xmax: 0.3, ymax: 0.4 }, boxPixels: { xmin: 1, ymin: 2, xmax: 3, ymax: 4 } }],
      classifications: [{ label: 'cat', classId: 2, score: 0.25 }],
      timings: { decodeMs: 0, queueMs: 0, preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, totalMs: 0 },
    };
    const outputs = imageOutputs(result, [{ name: 'boxes', binary: false }, { name: 'labels', binary: true }]);
    const encoded = encodeInferResponse({ model_name: 'm', model_version: '1' }, outputs);
    expect(encoded.contentType).toBe('application/octet-stream');
    const json = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString()) as { outputs: unknown[] };
    expect(json.outputs).toEqual([
      { name: 'boxes', datatype: 'FP32', shape: [2, 4], data: Array.from(Float32Array.of(0.1, 0.2, 0.3, 0.4, 0, 0, 1, 1)) },
      { name: 'labels', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 14 } },
    ]);
    expect(encoded.body.subarray(encoded.headerLength)).toEqual(Buffer.from([3, 0, 0, 0, ...Buffer.from('dog'), 3, 0, 0, 0, ...Buffer.from('cat')]));
  });
});
