import type { OipDatatype } from '@edge-ml/contracts';
import type { TensorDType, TypedTensorArray } from '../pipeline/signature.js';
import { OipRequestError } from './oip-errors.js';

/** Bytes per element of each fixed-size datatype (the protocol's table); BYTES elements are a 4-byte length and the bytes. */
export const ELEMENT_BYTES: Record<Exclude<OipDatatype, 'BYTES'>, number> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8, FP16: 2, FP32: 4, FP64: 8,
};

/** The runtimes' element types and their protocol datatypes, both ways (the runtimes have no others). */
const TO_OIP: Record<Exclude<TensorDType, 'unknown'>, OipDatatype> = { float32: 'FP32', float16: 'FP16', uint8: 'UINT8', int8: 'INT8', int32: 'INT32', int64: 'INT64', bool: 'BOOL' };
const FROM_OIP: Partial<Record<OipDatatype, Exclude<TensorDType, 'unknown'>>> = Object.fromEntries(Object.entries(TO_OIP).map(([dtype, datatype]) => [datatype, dtype]));

/** The protocol datatype of a runtime element type; an element type the runtime did not name reads as FP32, as the ONNX runtime feeds it. */
export function oipDatatypeOf(dtype: TensorDType): OipDatatype {
  return dtype === 'unknown' ? 'FP32' : TO_OIP[dtype];
}

/** The runtime element type of a protocol datatype, or undefined when no runtime here has one (UINT16, UINT32, UINT64, INT16, FP64, BYTES). */
export function tensorDTypeOf(datatype: OipDatatype): Exclude<TensorDType, 'unknown'> | undefined {
  return FROM_OIP[datatype];
}

/**
 * The element count of a declared shape, or a 400 when it exceeds `maxElements` (what the request can carry): checked
 * before anything is allocated, so that a shape of [1e9, 1e9] costs nothing.
 */
export function declaredElementCount(name: string, shape: readonly number[], maxElements: number, limit: string): number {
  let count = 1;
  for (const dimension of shape) {
    count *= dimension;
    if (count > maxElements) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}" declares shape [${shape.join(', ')}]: more elements than ${limit}`);
  }
  return count;
}

function typedArrayFor(dtype: Exclude<TensorDType, 'unknown'>, length: number): TypedTensorArray {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'float16': return new Uint16Array(length);
    case 'uint8': case 'bool': return new Uint8Array(length);
    case 'int8': return new Int8Array(length);
    case 'int32': return new Int32Array(length);
    case 'int64': return new BigInt64Array(length);
  }
}

/** Binary tensor data (little-endian, row-major, no padding) as a typed array of its own; the caller checked its length. */
export function decodeBinaryTensor(dtype: Exclude<TensorDType, 'unknown'>, bytes: Uint8Array): TypedTensorArray {
  const elementBytes = ELEMENT_BYTES[TO_OIP[dtype] as Exclude<OipDatatype, 'BYTES'>];
  const array = typedArrayFor(dtype, bytes.byteLength / elementBytes);
  // A copy: the body's bytes need not be aligned for the element type, and the tensor is sent to a worker on its own.
  new Uint8Array(array.buffer).set(bytes);
  if (dtype === 'bool' && (array as Uint8Array).some((value) => value > 1)) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', 'a BOOL element is a byte of 0 or 1');
  return array;
}

/** Integer ranges of the integer element types a JSON number must fall in. */
const INTEGER_RANGE: Partial<Record<TensorDType, [number, number]>> = {
  uint8: [0, 255], int8: [-128, 127], int32: [-(2 ** 31), 2 ** 31 - 1], int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * JSON tensor data, flat or nested exactly as the shape (row-major), as a typed array of `dtype`. Every element is
 * checked: numbers for numeric types (integers in range for integer types), booleans for BOOL.
 */
export function decodeJsonTensor(name: string, datatype: OipDatatype, dtype: Exclude<TensorDType, 'unknown'>, shape: readonly number[], data: readonly unknown[]): TypedTensorArray {
  if (dtype === 'float16') throw new OipRequestError('OIP_DATATYPE_UNSUPPORTED', `input "${name}" is FP16, which JSON cannot carry exactly; send it as binary data (parameters.binary_data_size)`);
  const count = shape.reduce((product, dimension) => product * dimension, 1);
  const flat = flattenTensorData(name, shape, data, count);
  const array = typedArrayFor(dtype, count);
  const range = INTEGER_RANGE[dtype];
  for (let index = 0; index < count; index += 1) {
    const value = flat[index];
    if (dtype === 'bool') {
      if (typeof value !== 'boolean') throw badElement(name, datatype, index, value);
      (array as Uint8Array)[index] = value ? 1 : 0;
    } else if (typeof value !== 'number' || (range && !(Number.isInteger(value) && value >= range[0] && value <= range[1]))) {
      throw badElement(name, datatype, index, value);
    } else if (array instanceof BigInt64Array) {
      array[index] = BigInt(value);
    } else {
      array[index] = value;
    }
  }
  return array;
}

function badElement(name: string, datatype: OipDatatype, index: number, value: unknown): OipRequestError {
  const shown = JSON.stringify(value)?.slice(0, 40) ?? String(value);
  return new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}" is ${datatype}; element ${index} is ${shown}`);
}

/** The elements of flat data, or of data nested exactly as the shape; anything else is a 400 that says what was expected. */
export function flattenTensorData(name: string, shape: readonly number[], data: readonly unknown[], count: number): readonly unknown[] {
  if (!data.some(Array.isArray)) {
    if (data.length !== count) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}" has ${data.length} elements; its shape [${shape.join(', ')}] holds ${count}`);
    return data;
  }
  const flat: unknown[] = [];
  // Depth is bounded by the shape's rank (at most OIP_MAX_RANK), so the recursion is too.
  const visit = (level: readonly unknown[], axis: number, at: string) => {
    if (level.length !== shape[axis]) {
      throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": data${at} has ${level.length} entries; axis ${axis} of shape [${shape.join(', ')}] has ${shape[axis] ?? 'none'}`);
    }
    const last = axis === shape.length - 1;
    level.forEach((entry, index) => {
      if (last) {
        if (Array.isArray(entry)) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": data${at}[${index}] is nested deeper than the shape [${shape.join(', ')}]`);
        flat.push(entry);
      } else if (!Array.isArray(entry)) {
        throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": data${at}[${index}] is not an array, but the shape [${shape.join(', ')}] nests ${shape.length} levels`);
      } else {
        visit(entry, axis + 1, `${at}[${index}]`);
      }
    });
  };
  if (shape.length === 0) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}" has shape [] (one element) but nested data`);
  visit(data, 0, '');
  return flat;
}

/** BYTES elements from binary data: each a 4-byte little-endian length, then that many bytes. */
export function decodeBinaryBytes(name: string, count: number, bytes: Uint8Array): Buffer[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elements: Buffer[] = [];
  let offset = 0;
  for (let index = 0; index < count; index += 1) {
    if (offset + 4 > view.length) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": BYTES element ${index} has no 4-byte length; the tensor's ${view.length} bytes end first`);
    const length = view.readUInt32LE(offset);
    offset += 4;
    if (offset + length > view.length) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": BYTES element ${index} declares ${length} bytes; ${view.length - offset} remain`);
    elements.push(view.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== view.length) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": ${view.length - offset} bytes follow its ${count} BYTES elements`);
  return elements;
}

/** BYTES elements from JSON: strings, as base64 when the input's parameters say `content_type: "base64"`, else as UTF-8. */
export function decodeJsonBytes(name: string, shape: readonly number[], data: readonly unknown[], base64: boolean): Buffer[] {
  const count = shape.reduce((product, dimension) => product * dimension, 1);
  return flattenTensorData(name, shape, data, count).map((value, index) => {
    if (typeof value !== 'string') throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}" is BYTES; element ${index} is not a string`);
    if (!base64) return Buffer.from(value, 'utf8');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new OipRequestError('OIP_TENSOR_DATA_INVALID', `input "${name}": element ${index} is not base64`);
    return Buffer.from(value, 'base64');
  });
}

/** FP16 bits as the number they stand for (IEEE 754 half precision). */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** An output's elements as JSON values: numbers (INT64 as numbers, FP16 as the value it encodes), booleans for BOOL, strings for BYTES. */
export function jsonElements(datatype: OipDatatype, data: TypedTensorArray | readonly Buffer[]): (number | boolean | string)[] {
  if (datatype === 'BYTES') return (data as readonly Buffer[]).map((element) => element.toString('utf8'));
  if (datatype === 'BOOL') return Array.from(data as Uint8Array, (value) => value !== 0);
  if (datatype === 'FP16') return Array.from(data as Uint16Array, halfToNumber);
  if (data instanceof BigInt64Array) return Array.from(data, Number);
  return Array.from(data as Float32Array);
}

/** An output's elements as binary tensor data: little-endian, row-major; BYTES with a 4-byte length before each. */
export function binaryElements(datatype: OipDatatype, data: TypedTensorArray | readonly Buffer[]): Buffer {
  if (datatype !== 'BYTES') {
    const typed = data as TypedTensorArray;
    return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
  }
  const parts: Buffer[] = [];
  for (const element of data as readonly Buffer[]) {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(element.length);
    parts.push(length, element);
  }
  return Buffer.concat(parts);
}
