/** A message on an edgeHub input or output. */
export interface EdgeMessage {
  body: Buffer;
  properties: Record<string, string>;
  contentType?: string;
  contentEncoding?: string;
  messageId?: string;
  correlationId?: string;
}

/** The desired properties as the hub last sent them. `full` is false for a patch. */
export interface DesiredDocument {
  version: number;
  properties: Record<string, unknown>;
  full: boolean;
  /**
   * With a full document: the reported properties the hub holds (without `$` metadata), which it merges every patch
   * into, so what a previous run of the module reported stays there until patched away.
   */
  reported?: Record<string, unknown>;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

export type DesiredListener = (desired: DesiredDocument) => void | Promise<void>;
export type InputHandler = (message: EdgeMessage) => void | Promise<void>;
export type MethodHandler = (payload: unknown) => MethodResult | Promise<MethodResult>;

/**
 * The port both modules talk to edgeHub through. Handlers may be registered before or after `start`.
 * Input delivery is at-least-once: handlers must be idempotent.
 */
export interface EdgeClient {
  /** Connects (retrying until it succeeds or the signal aborts) and delivers the full desired document to listeners. */
  start(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
  /** Called with the full document after every (re)connect and with each patch in between. */
  onDesired(listener: DesiredListener): void;
  patchReported(patch: Record<string, unknown>): Promise<void>;
  onInput(inputName: string, handler: InputHandler): void;
  sendOutput(outputName: string, message: EdgeMessage): Promise<void>;
  onMethod(methodName: string, handler: MethodHandler): void;
}

/** edgeHub refuses messages larger than this. */
export const MAX_EDGE_MESSAGE_BYTES = 256 * 1024;
