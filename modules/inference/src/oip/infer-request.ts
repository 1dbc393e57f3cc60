import { OipInferenceRequestSchema, type OipDatatype, type OipInferenceRequest, type OipRequestInput } from '@edge-ml/contracts';
import type { NamedTensor } from '../pipeline/tensor-inputs.js';
import { OipRequestError } from './oip-errors.js';
import { declaredElementCount, decodeBinaryBytes, decodeBinaryTensor, decodeJsonBytes, decodeJsonTensor, ELEMENT_BYTES, tensorDTypeOf } from './tensor-codec.js';

/** The header of the binary tensor data extension: the length of the JSON object that starts the body. */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** An input as the request carries it: a numeric tensor ready for a runtime, or BYTES elements. */
export type DecodedInput =
  | { kind: 'tensor'; datatype: OipDatatype; tensor: NamedTensor }
  | { kind: 'bytes'; name: string; shape: number[]; elements: Buffer[] };

export interface ParsedInferRequest {
  /** The request's JSON object without its inputs' `data`, which `inputs` holds decoded: a request in flight keeps only its tensors. */
  request: OipInferenceRequest;
  inputs: DecodedInput[];
}

/** The JSON object and the binary data after it, split where Inference-Header-Content-Length says (the whole body without it). */
export function splitInferBody(body: Buffer, headerLength: string | string[] | undefined): { json: Buffer; binary: Buffer } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  const text = Array.isArray(headerLength) ? headerLength.join(',') : headerLength;
  const length = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(length) || length < 1 || length > body.length) {
    throw new OipRequestError('OIP_HEADER_LENGTH_INVALID', `Inference-Header-Content-Length is "${text.slice(0, 40)}"; it must be the length in bytes of the JSON object, between 1 and the body's ${body.length} bytes`);
  }
  return { json: body.subarray(0, length), binary: body.subarray(length) };
}

function parseJson(json: Buffer): unknown {
  if (json.length === 0) throw new OipRequestError('OIP_JSON_INVALID', 'the body is empty; send an inference request object');
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw new OipRequestError('OIP_JSON_INVALID', `the inference request is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The request's JSON object, checked against the protocol's inference request (as the module narrows it). */
export function parseInferenceRequest(value: unknown): OipInferenceRequest {
  const result = OipInferenceRequestSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5).map((issue) => `${issue.path.map(String).join('/') || '(request)'}: ${issue.message}`);
  throw new OipRequestError('OIP_REQUEST_INVALID', `the inference request is invalid: ${issues.join('; ')}`);
}

function binaryDataSize(input: OipRequestInput): number | undefined {
  const size = input.parameters?.binary_data_size;
  if (size === undefined) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new OipRequestError('OIP_REQUEST_INVALID', `input "${input.name}": parameters.binary_data_size must be a non-negative integer, got ${JSON.stringify(size)}`);
  }
  return size;
}

/** Each input's binary data, cut from what follows the JSON in the order of the inputs; every byte must belong to one. */
function binaryRegions(inputs: readonly OipRequestInput[], binary: Buffer): (Buffer | undefined)[] {
  let offset = 0;
  const regions = inputs.map((input) => {
    const size = binaryDataSize(input);
    if (size === undefined) {
      if (input.data === undefined) throw new OipRequestError('OIP_REQUEST_INVALID', `input "${input.name}" has neither data nor parameters.binary_data_size`);
      return undefined;
    }
    if (input.data !== undefined) throw new OipRequestError('OIP_REQUEST_INVALID', `input "${input.name}" has both data and parameters.binary_data_size; send one`);
    if (offset + size > binary.length) {
      throw new OipRequestError('OIP_BINARY_SIZE_MISMATCH', `input "${input.name}" declares ${size} bytes of binary data at offset ${offset}, but ${binary.length} bytes follow the JSON object${binary.length === 0 ? ' (is Inference-Header-Content-Length set?)' : ''}`);
    }
    const region = binary.subarray(offset, offset + size);
    offset += size;
    return region;
  });
  if (offset !== binary.length) throw new OipRequestError('OIP_BINARY_SIZE_MISMATCH', `${binary.length} bytes follow the JSON object; the inputs' binary_data_size add up to ${offset}`);
  return regions;
}

function decodeInput(input: OipRequestInput, region: Buffer | undefined, maxElements: number): DecodedInput {
  // Binary data of a fixed-size type is checked against its byte size below, which says more than an element bound.
  const fixedSizeBinary = region !== undefined && input.datatype !== 'BYTES';
  const count = fixedSizeBinary
    ? declaredElementCount(input.name, input.shape, Number.MAX_SAFE_INTEGER, 'any tensor can hold')
    : declaredElementCount(input.name, input.shape, maxElements, `this request's ${maxElements} bytes can carry${input.data ? ` (its data has ${input.data.length} entries)` : ''}`);
  if (input.datatype === 'BYTES') {
    const base64 = input.parameters?.content_type === 'base64';
    const elements = region ? decodeBinaryBytes(input.name, count, region) : decodeJsonBytes(input.name, input.shape, input.data ?? [], base64);
    return { kind: 'bytes', name: input.name, shape: input.shape, elements };
  }
  const dtype = tensorDTypeOf(input.datatype);
  if (!dtype) throw new OipRequestError('OIP_DATATYPE_UNSUPPORTED', `input "${input.name}" is ${input.datatype}; the runtimes here take FP32, FP16, UINT8, INT8, INT32, INT64, BOOL and BYTES (an image)`);
  let data;
  if (region) {
    const expected = count * ELEMENT_BYTES[input.datatype];
    if (region.length !== expected) {
      throw new OipRequestError('OIP_BINARY_SIZE_MISMATCH', `input "${input.name}" is ${input.datatype} [${input.shape.join(', ')}]: ${expected} bytes, but binary_data_size is ${region.length}`);
    }
    data = decodeBinaryTensor(dtype, region);
  } else {
    data = decodeJsonTensor(input.name, input.datatype, dtype, input.shape, input.data ?? []);
  }
  return { kind: 'tensor', datatype: input.datatype, tensor: { name: input.name, dtype, shape: input.shape, data } };
}

/**
 * An inference request body, JSON alone or JSON followed by binary tensor data, parsed and every input decoded and
 * checked: sizes against the body before anything is allocated (no element takes less than a byte of the body),
 * binary sizes against datatype and shape, JSON data against shape and datatype.
 */
export function parseInferBody(body: Buffer, headerLength: string | string[] | undefined): ParsedInferRequest {
  const { json, binary } = splitInferBody(body, headerLength);
  const request = parseInferenceRequest(parseJson(json));
  const regions = binaryRegions(request.inputs, binary);
  const inputs = request.inputs.map((input, index) => decodeInput(input, regions[index], Math.max(1, body.length)));
  return { request: { ...request, inputs: request.inputs.map(({ data: _data, ...input }) => input) }, inputs };
}
