import type { ResolvedInputSpec } from '../pipeline/model-spec.js';
import type { Frame } from '../pipeline/preprocess.js';
import type * as DecodeImage from './decode-image.js';
import type { DecodeOptions } from './decode-image.js';

let decoder: typeof DecodeImage | undefined;

/**
 * decode-image.ts's decodeToFrame for the package's API, loading it (and sharp) on the first call: a process that
 * embeds the service decodes in its workers, so sharp in its main thread would only hold memory there.
 */
export async function decodeToFrame(bytes: Buffer, input: ResolvedInputSpec, options: DecodeOptions): Promise<Frame> {
  decoder ??= await import('./decode-image.js');
  return decoder.decodeToFrame(bytes, input, options);
}
