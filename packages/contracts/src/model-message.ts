import { z } from 'zod';
import { Sha256Schema } from './hashes.js';
import { ModelFormatSchema, modelFormatFromFileName, type ModelFormat } from './model-format.js';
import { ModelNameSchema, ModelVersionSchema } from './path-segment.js';
import { StorageRelativePathSchema } from './storage-path.js';

/** The seed's DLModelOutput body: paths relative to the storage root. */
export const SeedModelMessageSchema = z.object({
  local_model_path: StorageRelativePathSchema,
  local_labelmap_path: StorageRelativePathSchema,
});
export type SeedModelMessage = z.infer<typeof SeedModelMessageSchema>;

/** The rich DLModelOutput body. It keeps the seed's two fields so that a seed inference module still understands it. */
export const RichModelMessageSchema = SeedModelMessageSchema.extend({
  schemaVersion: z.literal(1),
  name: ModelNameSchema,
  version: ModelVersionSchema,
  format: ModelFormatSchema,
  sha256: Sha256Schema,
  descriptor_path: StorageRelativePathSchema.optional(),
  announcedAt: z.iso.datetime().optional(),
});
export type RichModelMessage = z.infer<typeof RichModelMessageSchema>;

/** What the inference module needs to load a model, whichever body announced it. */
export interface ModelAnnouncement {
  name: string;
  version: string;
  format: ModelFormat;
  modelPath: string;
  labelsPath: string;
  descriptorPath?: string;
  sha256?: string;
}

export const ModelMessageSchema = z.union([RichModelMessageSchema, SeedModelMessageSchema]);
export type ModelMessage = z.infer<typeof ModelMessageSchema>;

/**
 * Normalises either body into a ModelAnnouncement. A seed body is named by its path: models/<name>/<version>/<file>
 * in the model repository, otherwise after its directory with version "unversioned".
 */
export function toModelAnnouncement(message: ModelMessage): ModelAnnouncement {
  if ('schemaVersion' in message) {
    return {
      name: message.name,
      version: message.version,
      format: message.format,
      modelPath: message.local_model_path,
      labelsPath: message.local_labelmap_path,
      ...(message.descriptor_path ? { descriptorPath: message.descriptor_path } : {}),
      sha256: message.sha256,
    };
  }
  const segments = message.local_model_path.split('/');
  const fileName = segments[segments.length - 1] ?? message.local_model_path;
  const format = modelFormatFromFileName(fileName);
  if (!format) throw new Error(`cannot tell the model format of "${fileName}": expected a .onnx or .tflite file`);
  // The model repository's layout, models/<name>/<version>/<file>, names both; the seed's <package>/<file> names only the model.
  if (segments.length === 4 && segments[0] === 'models' && segments[1] && segments[2]) {
    return { name: segments[1], version: segments[2], format, modelPath: message.local_model_path, labelsPath: message.local_labelmap_path };
  }
  const directory = segments.length > 1 ? segments[segments.length - 2] : undefined;
  return {
    name: directory ?? fileName.replace(/\.[^.]+$/, ''),
    version: 'unversioned',
    format,
    modelPath: message.local_model_path,
    labelsPath: message.local_labelmap_path,
  };
}

/** The announced-model pointer file, relative to the storage root: the loader writes the last DLModelOutput body here before sending it. */
export const ANNOUNCED_MODEL_POINTER = 'models/announced.json';
