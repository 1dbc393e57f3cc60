import { EdgeError } from '@edge-ml/edge-kit';

export type OipRequestErrorCode =
  | 'OIP_JSON_INVALID'
  | 'OIP_REQUEST_INVALID'
  | 'OIP_HEADER_LENGTH_INVALID'
  | 'OIP_BINARY_SIZE_MISMATCH'
  | 'OIP_TENSOR_DATA_INVALID'
  | 'OIP_DATATYPE_UNSUPPORTED'
  | 'OIP_IMAGE_INPUT_INVALID';

/** An inference request the protocol or the model cannot take. Maps to HTTP 400 with `{ error, code }`. */
export class OipRequestError extends EdgeError {
  readonly statusCode = 400;
  constructor(
    readonly code: OipRequestErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A model name that no model serves under. Maps to HTTP 404. */
export class OipModelNotFoundError extends EdgeError {
  readonly code = 'MODEL_NOT_FOUND';
  readonly statusCode = 404;
  constructor(name: string, served: readonly string[]) {
    super(`no model "${name}" is served; ${served.length === 0 ? 'none is loaded yet' : `served: ${served.map((model) => `"${model}"`).join(', ')}`}`);
  }
}
