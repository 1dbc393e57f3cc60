export { AzureEdgeClient, type AzureEdgeClientOptions, type EdgeTransport } from './azure-edge-client.js';
export { writeFileAtomic, writeJsonAtomic, fsyncDirectory } from './atomic-file.js';
export { backoffDelayMs, type BackoffOptions } from './backoff.js';
export { loadConfig, loadConfigOrExit } from './config.js';
export { createEdgeClient, EdgeConfigSchema, edgeEnvironmentPresent, type EdgeConfig } from './edge-config.js';
export { sha256OfFile } from './file-hash.js';
export {
  MAX_EDGE_MESSAGE_BYTES,
  type DesiredDocument,
  type DesiredListener,
  type EdgeClient,
  type EdgeMessage,
  type InputHandler,
  type MethodHandler,
  type MethodResult,
} from './edge-client.js';
export { ConfigError, EdgeError, MessageTooLargeError, TimeoutError } from './errors.js';
export { createLogger, redactSecrets, type CreateLoggerOptions, type Logger } from './logger.js';
export { sleep, withTimeout } from './timeout.js';
export { applyMergePatch } from '@edge-ml/contracts';
