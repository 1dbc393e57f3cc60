import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { OipModelMetadata, OipServerMetadata } from '@edge-ml/contracts';
import type { ActiveModel } from '../serving/model-manager.js';
import { oipDatatypeOf } from './tensor-codec.js';

/** Extensions of the protocol this server implements, as its metadata lists them. */
export const OIP_EXTENSIONS = ['binary_tensor_data'];

/** The inference module's name and its package's version (package.json sits two levels above src/oip and dist/oip). */
export function serverMetadata(): OipServerMetadata {
  const { name, version } = z.object({ name: z.string(), version: z.string() }).parse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')));
  return { name, version, extensions: OIP_EXTENSIONS };
}

/** "<project>_<format>": ONNX's name is the protocol's; the protocol lists no TFLite platform, so LiteRT's follows its rule. */
const PLATFORMS: Record<ActiveModel['runtime'], string> = { onnxruntime: 'onnx_onnxv1', litert: 'litert_tflite' };

/** A served model's metadata: its version, platform, and the runtime's inputs and outputs (-1 where any size goes). */
export function modelMetadata(model: ActiveModel): OipModelMetadata {
  const tensors = (list: ActiveModel['signature']['inputs']) => list.map((info) => ({ name: info.name, datatype: oipDatatypeOf(info.dtype), shape: info.shape }));
  return {
    name: model.name,
    versions: [model.version],
    platform: PLATFORMS[model.runtime],
    inputs: tensors(model.signature.inputs),
    outputs: tensors(model.signature.outputs),
  };
}
