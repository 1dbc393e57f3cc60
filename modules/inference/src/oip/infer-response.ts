import type { DetectionResult, OipDatatype, OipInferenceResponse, OipResponseOutput } from '@edge-ml/contracts';
import type { TypedTensorArray } from '../pipeline/signature.js';
import type { NamedTensor } from '../pipeline/tensor-inputs.js';
import type { ImageOutputName, OutputChoice } from './infer-plan.js';
import { binaryElements, jsonElements, oipDatatypeOf } from './tensor-codec.js';

/** An output on its way to the client. */
export interface ResponseTensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  data: TypedTensorArray | Buffer[];
  binary: boolean;
}

export interface EncodedResponse {
  body: Buffer;
  contentType: 'application/json' | 'application/octet-stream';
  /** The JSON object's length when binary data follows it (the Inference-Header-Content-Length header). */
  headerLength?: number;
}

/** The runtime's outputs as response tensors, binary as each output or the request asks. */
export function tensorOutputs(outputs: readonly NamedTensor[], choices: readonly OutputChoice[] | undefined, binaryByDefault: boolean): ResponseTensor[] {
  return outputs.map((output, index) => ({
    name: output.name,
    datatype: oipDatatypeOf(output.dtype),
    shape: output.shape,
    data: output.data,
    binary: choices?.[index]?.binary ?? binaryByDefault,
  }));
}

/**
 * Detections as three outputs with one row each: `boxes` FP32 [N, 4] as [xmin, ymin, xmax, ymax] normalised to the
 * original image, `scores` FP32 [N], `labels` BYTES [N]. A classification is a row whose box is the whole image.
 */
export function imageOutputs(result: DetectionResult, choices: readonly OutputChoice[]): ResponseTensor[] {
  const rows = [
    ...result.detections.map(({ box, score, label }) => ({ box: [box.xmin, box.ymin, box.xmax, box.ymax], score, label })),
    ...result.classifications.map(({ score, label }) => ({ box: [0, 0, 1, 1], score, label })),
  ];
  const tensors: Record<ImageOutputName, Omit<ResponseTensor, 'binary'>> = {
    boxes: { name: 'boxes', datatype: 'FP32', shape: [rows.length, 4], data: Float32Array.from(rows.flatMap((row) => row.box)) },
    scores: { name: 'scores', datatype: 'FP32', shape: [rows.length], data: Float32Array.from(rows, (row) => row.score) },
    labels: { name: 'labels', datatype: 'BYTES', shape: [rows.length], data: rows.map((row) => Buffer.from(row.label, 'utf8')) },
  };
  return choices.map((choice) => ({ ...tensors[choice.name as ImageOutputName], binary: choice.binary }));
}

/** The response body: the JSON object alone, or followed by the binary outputs in the order the JSON lists them. */
export function encodeInferResponse(head: Omit<OipInferenceResponse, 'outputs'>, outputs: readonly ResponseTensor[]): EncodedResponse {
  const chunks: Buffer[] = [];
  const described = outputs.map(({ name, datatype, shape, data, binary }): OipResponseOutput => {
    if (!binary) return { name, datatype, shape, data: jsonElements(datatype, data) };
    const bytes = binaryElements(datatype, data);
    chunks.push(bytes);
    return { name, datatype, shape, parameters: { binary_data_size: bytes.length } };
  });
  const json = Buffer.from(JSON.stringify({ ...head, outputs: described } satisfies OipInferenceResponse));
  if (chunks.length === 0) return { body: json, contentType: 'application/json' };
  return { body: Buffer.concat([json, ...chunks]), contentType: 'application/octet-stream', headerLength: json.length };
}
