import { readFlexbufferMap } from './flexbuffer.js';

/** What a .tflite file says about its first subgraph, read straight from the flatbuffer (field ids from TFLite's schema.fbs). */
export interface TfliteModelInfo {
  outputs: { tensorIndex: number; name: string; shape: number[]; scale?: number; zeroPoint?: number }[];
  inputs: { tensorIndex: number; name: string; shape: number[] }[];
  customOps: string[];
  /** Options of the TFLite_Detection_PostProcess op, when the model has one. */
  detectionPostProcess?: Map<string, number | boolean>;
}

export class TfliteFormatError extends Error {
  readonly code = 'MODEL_TFLITE_INVALID';
}

class FlatbufferReader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u32(position: number): number {
    if (position < 0 || position + 4 > this.bytes.length) throw new TfliteFormatError(`flatbuffer offset ${position} is out of bounds`);
    return this.view.getUint32(position, true);
  }
  i32(position: number): number {
    return this.u32(position) | 0;
  }
  /** Absolute position of a table field, or 0 when the field is absent. */
  field(table: number, id: number): number {
    const vtable = table - this.i32(table);
    const vtableSize = this.view.getUint16(vtable, true);
    if (4 + id * 2 >= vtableSize) return 0;
    const offset = this.view.getUint16(vtable + 4 + id * 2, true);
    return offset === 0 ? 0 : table + offset;
  }
  deref(position: number): number {
    return position + this.u32(position);
  }
  vector(fieldPosition: number): { length: number; start: number } {
    if (fieldPosition === 0) return { length: 0, start: 0 };
    const vector = this.deref(fieldPosition);
    return { length: this.u32(vector), start: vector + 4 };
  }
  string(fieldPosition: number): string {
    const { length, start } = this.vector(fieldPosition);
    return Buffer.from(this.bytes.subarray(start, start + length)).toString('utf8');
  }
  int32Vector(fieldPosition: number): number[] {
    const { length, start } = this.vector(fieldPosition);
    return Array.from({ length }, (_, index) => this.i32(start + 4 * index));
  }
}

// Field ids from tensorflow/lite/schema/schema.fbs.
const MODEL = { operatorCodes: 1, subgraphs: 2 };
const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3 };
const TENSOR = { shape: 0, name: 3, quantization: 4 };
const QUANTIZATION = { scale: 2, zeroPoint: 3 };
const OPERATOR = { opcodeIndex: 0, customOptions: 5 };
const OPERATOR_CODE = { customCode: 1 };
const DETECTION_POSTPROCESS = 'TFLite_Detection_PostProcess';

function locateSubgraph(reader: FlatbufferReader) {
  if (reader.bytes.length < 8 || Buffer.from(reader.bytes.subarray(4, 8)).toString('latin1') !== 'TFL3') {
    throw new TfliteFormatError('not a TFLite flatbuffer: the TFL3 identifier is missing');
  }
  const root = reader.u32(0);
  const subgraphs = reader.vector(reader.field(root, MODEL.subgraphs));
  if (subgraphs.length === 0) throw new TfliteFormatError('the model has no subgraph');
  return { root, subgraph: reader.deref(subgraphs.start) };
}

function tensorAt(reader: FlatbufferReader, subgraph: number, tensorIndex: number): number {
  const tensors = reader.vector(reader.field(subgraph, SUBGRAPH.tensors));
  if (tensorIndex < 0 || tensorIndex >= tensors.length) throw new TfliteFormatError(`tensor index ${tensorIndex} is out of range`);
  return reader.deref(tensors.start + 4 * tensorIndex);
}

export function readTfliteModelInfo(bytes: Uint8Array): TfliteModelInfo {
  const reader = new FlatbufferReader(bytes);
  const { root, subgraph } = locateSubgraph(reader);
  const describe = (tensorIndex: number) => {
    const tensor = tensorAt(reader, subgraph, tensorIndex);
    return { tensorIndex, name: reader.string(reader.field(tensor, TENSOR.name)), shape: reader.int32Vector(reader.field(tensor, TENSOR.shape)), tensor };
  };
  const inputs = reader.int32Vector(reader.field(subgraph, SUBGRAPH.inputs)).map((index) => {
    const { tensor: _tensor, ...info } = describe(index);
    return info;
  });
  const outputs = reader.int32Vector(reader.field(subgraph, SUBGRAPH.outputs)).map((index) => {
    const { tensor, ...info } = describe(index);
    const quantization = reader.field(tensor, TENSOR.quantization);
    if (quantization === 0) return info;
    const table = reader.deref(quantization);
    const scales = reader.vector(reader.field(table, QUANTIZATION.scale));
    const zeroPoints = reader.vector(reader.field(table, QUANTIZATION.zeroPoint));
    if (scales.length !== 1 || zeroPoints.length !== 1) return info;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { ...info, scale: view.getFloat32(scales.start, true), zeroPoint: Number(view.getBigInt64(zeroPoints.start, true)) };
  });

  const codes = reader.vector(reader.field(root, MODEL.operatorCodes));
  const customByCode = Array.from({ length: codes.length }, (_, index) => {
    const code = reader.deref(codes.start + 4 * index);
    const custom = reader.field(code, OPERATOR_CODE.customCode);
    return custom === 0 ? undefined : reader.string(custom);
  });
  const customOps = [...new Set(customByCode.filter((name): name is string => name !== undefined))];
  let detectionPostProcess: Map<string, number | boolean> | undefined;
  const operators = reader.vector(reader.field(subgraph, SUBGRAPH.operators));
  for (let index = 0; index < operators.length && !detectionPostProcess; index += 1) {
    const operator = reader.deref(operators.start + 4 * index);
    const opcodeField = reader.field(operator, OPERATOR.opcodeIndex);
    const opcode = opcodeField === 0 ? 0 : reader.u32(opcodeField);
    if (customByCode[opcode] !== DETECTION_POSTPROCESS) continue;
    const options = reader.vector(reader.field(operator, OPERATOR.customOptions));
    detectionPostProcess = readFlexbufferMap(bytes.subarray(options.start, options.start + options.length));
  }
  return { inputs, outputs, customOps, ...(detectionPostProcess ? { detectionPostProcess } : {}) };
}

/**
 * Returns a copy of the model whose output tensors carry the given static shapes.
 * The new shape vectors are appended after the original bytes and the tensors' shape offsets redirected to them,
 * which works because flatbuffer offsets point forward. The original bytes are not modified.
 */
export function withOutputShapes(bytes: Uint8Array, shapes: number[][]): Uint8Array {
  const reader = new FlatbufferReader(bytes);
  const { subgraph } = locateSubgraph(reader);
  const outputs = reader.int32Vector(reader.field(subgraph, SUBGRAPH.outputs));
  if (outputs.length !== shapes.length) throw new TfliteFormatError(`expected ${outputs.length} output shapes, got ${shapes.length}`);
  const base = (bytes.length + 3) & ~3;
  const extra = shapes.reduce((sum, shape) => sum + 4 + 4 * shape.length, 0);
  const patched = new Uint8Array(base + extra);
  patched.set(bytes);
  const view = new DataView(patched.buffer);
  let position = base;
  outputs.forEach((tensorIndex, index) => {
    const shape = shapes[index] ?? [];
    const shapeField = reader.field(tensorAt(reader, subgraph, tensorIndex), TENSOR.shape);
    if (shapeField === 0) throw new TfliteFormatError(`output tensor ${tensorIndex} has no shape field to redirect`);
    view.setUint32(position, shape.length, true);
    shape.forEach((dimension, axis) => view.setInt32(position + 4 + 4 * axis, dimension, true));
    view.setUint32(shapeField, position - shapeField, true);
    position += 4 + 4 * shape.length;
  });
  return patched;
}

/** The static output shapes of TFLite_Detection_PostProcess: boxes, classes, scores, count. */
export function detectionPostProcessShapes(options: Map<string, number | boolean>): number[][] {
  const maxDetections = Number(options.get('max_detections') ?? 10);
  const perDetection = Number(options.get('max_classes_per_detection') ?? 1);
  const rows = maxDetections * Math.max(1, perDetection);
  return [[1, rows, 4], [1, rows], [1, rows], [1]];
}
