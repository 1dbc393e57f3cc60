/** Base of every typed error in the project: a stable `code` to match on and a message written for the person reading it. */
export abstract class EdgeError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConfigError extends EdgeError {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
  }
}

export class TimeoutError extends EdgeError {
  readonly code = 'TIMEOUT';
  constructor(operation: string, timeoutMs: number) {
    super(`${operation} did not finish within ${timeoutMs} ms`);
  }
}

export class MessageTooLargeError extends EdgeError {
  readonly code = 'EDGE_MESSAGE_TOO_LARGE';
  constructor(outputName: string, sizeBytes: number, limitBytes: number) {
    super(`message for output "${outputName}" is ${sizeBytes} bytes; edgeHub refuses messages over ${limitBytes} bytes`);
  }
}
