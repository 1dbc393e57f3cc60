// The errors entry alone: the package's index loads the Azure IoT SDK, pino and zod into every worker that imports it.
import { EdgeError } from '@edge-ml/edge-kit/errors';

/** Errors of the model pipeline; each has a stable code that reaches reported properties and HTTP responses. */
export abstract class PipelineError extends EdgeError {}

export class UnknownModelFamilyError extends PipelineError {
  readonly code = 'MODEL_FAMILY_UNKNOWN';
  constructor(signature: string) {
    super(`cannot tell the model family from its signature ${signature}; add a model.json with "family" (ssd, yolox, tiny-yolov3 or classification)`);
  }
}

export class ModelOutputMismatchError extends PipelineError {
  readonly code = 'MODEL_OUTPUT_MISMATCH';
  constructor(family: string, detail: string) {
    super(`model outputs do not match the ${family} family: ${detail}`);
  }
}

export class ModelLoadError extends PipelineError {
  readonly code = 'MODEL_LOAD_FAILED';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`model could not be loaded: ${detail}`, options);
  }
}

export class InputSizeMismatchError extends PipelineError {
  readonly code = 'MODEL_INPUT_MISMATCH';
  constructor(declared: string, actual: string) {
    super(`model.json declares an input of ${declared}, but the model's input is fixed at ${actual}`);
  }
}
