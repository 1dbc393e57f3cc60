import type { EdgeClient } from '@edge-ml/edge-kit';
import { rewriteStrings, storagePathRelativizer } from '../storage-paths.js';

/**
 * The client with every string of a reported-properties patch rewritten so that absolute storage paths become
 * relative to the storage root: a model's load error (an ONNX Runtime message names the file it opened) reaches the
 * cloud without saying where storage is mounted.
 */
export async function withRelativeStoragePaths(client: EdgeClient, storageRoot: string): Promise<EdgeClient> {
  const relativize = await storagePathRelativizer(storageRoot);
  return {
    start: (signal) => client.start(signal),
    close: () => client.close(),
    onDesired: (listener) => client.onDesired(listener),
    patchReported: (patch) => client.patchReported(rewriteStrings(patch, relativize)),
    onInput: (inputName, handler) => client.onInput(inputName, handler),
    sendOutput: (outputName, message) => client.sendOutput(outputName, message),
    onMethod: (methodName, handler) => client.onMethod(methodName, handler),
  };
}
