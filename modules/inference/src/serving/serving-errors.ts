import { EdgeError } from '@edge-ml/edge-kit';

/** Errors of model activation and serving, each with a stable code (reported in twin properties) and an HTTP status. */
export abstract class ServingError extends EdgeError {
  abstract readonly statusCode: number;
}

export class NoModelError extends ServingError {
  readonly code = 'NO_MODEL';
  readonly statusCode = 503;
  constructor() {
    super(
      'no model is loaded yet: set the loader module\'s desired properties (FileName, DownloadUrl, ContentMD5 or "model") ' +
        'so that it announces one on DLModelOutput, or place one on shared storage and restart',
    );
  }
}

/** A request for a version of a model other than the one serving. Maps to HTTP 404. */
export class ModelVersionNotServedError extends ServingError {
  readonly code = 'MODEL_VERSION_NOT_SERVED';
  readonly statusCode = 404;
  constructor(name: string, requested: string, serving: string) {
    super(`model "${name}" serves version "${serving}", not "${requested}"`);
  }
}

export class PathOutsideStorageError extends ServingError {
  readonly code = 'MODEL_PATH_OUTSIDE_STORAGE';
  readonly statusCode = 400;
  constructor(relativePath: string) {
    super(`"${relativePath}" resolves outside the shared storage root`);
  }
}

export class ModelFileError extends ServingError {
  readonly code = 'MODEL_FILE_UNREADABLE';
  readonly statusCode = 400;
  constructor(relativePath: string, detail: string, options?: { cause?: unknown }) {
    super(`cannot read "${relativePath}": ${detail}`, options);
  }
}

export class ModelChecksumError extends ServingError {
  readonly code = 'MODEL_CHECKSUM_MISMATCH';
  readonly statusCode = 400;
  constructor(relativePath: string, expected: string, actual: string) {
    super(`"${relativePath}" has sha256 ${actual}, the announcement says ${expected}`);
  }
}

export class InvalidDescriptorError extends ServingError {
  readonly code = 'MODEL_DESCRIPTOR_INVALID';
  readonly statusCode = 400;
  constructor(relativePath: string, detail: string) {
    super(`model descriptor "${relativePath}" is invalid: ${detail}`);
  }
}

export class AcceptanceFailedError extends ServingError {
  readonly code = 'MODEL_ACCEPTANCE_FAILED';
  readonly statusCode = 422;
  constructor(sample: string, detail: string) {
    super(`acceptance sample "${sample}" failed: ${detail}`);
  }
}

export class ModelNotFoundError extends ServingError {
  readonly code = 'MODEL_NOT_FOUND';
  readonly statusCode = 404;
  constructor(name: string, served: readonly string[]) {
    super(`no model named "${name}" is served; served: ${served.length > 0 ? served.join(', ') : 'none'} (GET /v1/models lists them)`);
  }
}

export class MemoryBudgetExceededError extends ServingError {
  readonly code = 'MODEL_MEMORY_BUDGET_EXCEEDED';
  readonly statusCode = 507;
  constructor(model: string, estimateBytes: number, reservedBytes: number, budgetBytes: number) {
    const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
    super(
      `${model} would take an estimated ${mib(estimateBytes)} in all workers, and loaded models already take ${mib(reservedBytes)} ` +
        `of the ${mib(budgetBytes)} memory budget (INFERENCE_MEMORY_BUDGET_MB): not loaded`,
    );
  }
}
