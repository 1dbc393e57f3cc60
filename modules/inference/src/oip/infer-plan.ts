import type { OipInferenceRequest, OipParameters } from '@edge-ml/contracts';
import { TensorMismatchError, type NamedTensor } from '../pipeline/tensor-inputs.js';
import type { DecodedInput, ParsedInferRequest } from './infer-request.js';
import { OipRequestError } from './oip-errors.js';

/** The outputs of the image path: one row per detection (classifications are whole-image rows). */
export const IMAGE_OUTPUTS = ['boxes', 'scores', 'labels'] as const;
export type ImageOutputName = (typeof IMAGE_OUTPUTS)[number];

export interface OutputChoice {
  name: string;
  binary: boolean;
}

/** What one inference request asks for: the model's runtime on the client's tensors, or detections for one image. */
export type InferPlan =
  | { kind: 'tensors'; inputs: NamedTensor[]; outputs: OutputChoice[] | undefined; binaryByDefault: boolean }
  | { kind: 'image'; inputName: string; image: Buffer; scoreThreshold: number | undefined; outputs: OutputChoice[] };

function booleanParameter(parameters: OipParameters | undefined, key: string, where: string): boolean | undefined {
  const value = parameters?.[key];
  if (value === undefined || typeof value === 'boolean') return value;
  throw new OipRequestError('OIP_REQUEST_INVALID', `${where}parameters.${key} must be a boolean, got ${JSON.stringify(value)}`);
}

function outputChoices(request: OipInferenceRequest, binaryByDefault: boolean): OutputChoice[] | undefined {
  return request.outputs?.map((output) => ({
    name: output.name,
    binary: booleanParameter(output.parameters, 'binary_data', `output "${output.name}": `) ?? binaryByDefault,
  }));
}

function scoreThreshold(parameters: OipParameters | undefined): number | undefined {
  const value = parameters?.score_threshold;
  if (value === undefined) return undefined;
  if (typeof value === 'number' && value >= 0 && value <= 1) return value;
  throw new OipRequestError('OIP_REQUEST_INVALID', `parameters.score_threshold must be a number from 0 to 1, got ${JSON.stringify(value)}`);
}

function imageInput(inputs: readonly DecodedInput[]): { name: string; image: Buffer } | undefined {
  const bytes = inputs.filter((input) => input.kind === 'bytes');
  if (bytes.length === 0) return undefined;
  const [only] = inputs;
  if (inputs.length !== 1 || !only || only.kind !== 'bytes' || only.elements.length !== 1) {
    throw new OipRequestError('OIP_IMAGE_INPUT_INVALID', 'a BYTES input is an encoded image: send exactly one input, of shape [1], holding one JPEG, PNG, WebP or BMP');
  }
  const [image] = only.elements;
  return image ? { name: only.name, image } : undefined;
}

/**
 * Decides the path of a parsed request: a BYTES input (the models here take none) is an image to detect objects in,
 * answered as `boxes`, `scores` and `labels`; numeric inputs go to the model's runtime as they are.
 */
export function planInference(parsed: ParsedInferRequest): InferPlan {
  const { request, inputs } = parsed;
  const binaryByDefault = booleanParameter(request.parameters, 'binary_data_output', '') ?? false;
  const outputs = outputChoices(request, binaryByDefault);
  const image = imageInput(inputs);
  if (image) {
    for (const output of outputs ?? []) {
      if (!(IMAGE_OUTPUTS as readonly string[]).includes(output.name)) {
        throw new TensorMismatchError('TENSOR_OUTPUT_UNKNOWN', `an image request has the outputs ${IMAGE_OUTPUTS.map((name) => `"${name}"`).join(', ')}, not "${output.name}"`);
      }
    }
    return {
      kind: 'image',
      inputName: image.name,
      image: image.image,
      scoreThreshold: scoreThreshold(request.parameters),
      outputs: outputs ?? IMAGE_OUTPUTS.map((name) => ({ name, binary: binaryByDefault })),
    };
  }
  return { kind: 'tensors', inputs: inputs.flatMap((input) => (input.kind === 'tensor' ? [input.tensor] : [])), outputs, binaryByDefault };
}
