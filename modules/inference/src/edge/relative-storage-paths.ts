import { MODEL_STATUS_OUTPUT } from '@edge-ml/contracts';
import type { EdgeClient, EdgeMessage } from '@edge-ml/edge-kit';
import { rewriteStrings, storagePathRelativizer } from '../storage-paths.js';

/**
 * The client with every string of a reported-properties patch, and of a DLModelStatus body, rewritten so that absolute
 * storage paths become relative to the storage root: a model's load error (a runtime message names the file it
 * opened) reaches the cloud, directly or through the loader's reported properties, without saying where storage is
 * mounted.
 */
export async function withRelativeStoragePaths(client: EdgeClient, storageRoot: string): Promise<EdgeClient> {
  const relativize = await storagePathRelativizer(storageRoot);
  return {
    start: (signal) => client.start(signal),
    close: () => client.close(),
    onDesired: (listener) => client.onDesired(listener),
    patchReported: (patch) => client.patchReported(rewriteStrings(patch, relativize)),
    onInput: (inputName, handler) => client.onInput(inputName, handler),
    sendOutput: (outputName, message) => client.sendOutput(outputName, outputName === MODEL_STATUS_OUTPUT ? rewriteJsonBody(message, relativize) : message),
    onMethod: (methodName, handler) => client.onMethod(methodName, handler),
  };
}

function rewriteJsonBody(message: EdgeMessage, rewrite: (text: string) => string): EdgeMessage {
  const body: unknown = JSON.parse(message.body.toString('utf8'));
  return { ...message, body: Buffer.from(JSON.stringify(rewriteStrings(body, rewrite))) };
}
