import { z } from 'zod';
import { Sha256Schema } from './hashes.js';
import { ModelFormatSchema } from './model-format.js';

const PlainFileNameSchema = z.string().regex(/^[^/\\\0]+$/, 'a plain file name');

const PatchesSchema = z
  .array(
    z.object({
      /** sha256 of the model file the patch starts from: what the loader reports as activeModel.sha256. */
      fromSha256: Sha256Schema,
      url: z.url({ protocol: /^https?$/ }),
      sha256: Sha256Schema,
      sizeBytes: z.number().int().positive(),
    }),
  )
  .max(64);

/**
 * For devices that hold no version with a patch: the new model's content-defined chunk list and the uncompressed
 * model blob its byte ranges are fetched from. Chunks the device already holds are reused. The list is the first
 * `listSizeBytes` bytes of the blob at `listUrl` (`listSha256` is theirs): a two-level list (EMCG) is followed there
 * by the block hashes devices fetch by range; a single-level list (EMCL, publishers before it) is the whole blob.
 */
const ChunksSchema = z.object({
  listUrl: z.url({ protocol: /^https?$/ }),
  listSha256: Sha256Schema,
  listSizeBytes: z.number().int().positive(),
  modelUrl: z.url({ protocol: /^https?$/ }),
});

const commonFields = {
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  package: z.object({ sha256: Sha256Schema, sizeBytes: z.number().int().positive() }),
  model: z.object({ file: PlainFileNameSchema, format: ModelFormatSchema, sha256: Sha256Schema, sizeBytes: z.number().int().nonnegative() }),
  patches: PatchesSchema,
  chunks: ChunksSchema.optional(),
};

/** Schema 1 (publishers before schema 2): every other file of the package (labels, model.json) in base64. */
export const DeltaManifestV1Schema = z.object({
  schemaVersion: z.literal(1),
  ...commonFields,
  files: z.record(PlainFileNameSchema, z.string().max(1_000_000)),
});

/**
 * Schema 2: every other file by its sha256 and size, with its bytes (base64) only when a device may not hold it: the
 * publisher leaves them out when the file is unchanged in every version it makes patches from. A device takes an
 * absent file from an installed version that holds a file of that name and sha256, or downloads the package.
 */
export const DeltaManifestV2Schema = z.object({
  schemaVersion: z.literal(2),
  ...commonFields,
  files: z.record(PlainFileNameSchema, z.object({ sha256: Sha256Schema, sizeBytes: z.number().int().nonnegative(), base64: z.string().max(1_000_000).optional() })),
});

/**
 * Published next to a package: how a device that already holds an earlier model file can build the new one from a
 * patch instead of downloading the package. `package.sha256` binds the manifest to the desired properties. Loaders
 * read both schemas; loaders that predate schema 2 reject a schema-2 manifest and download the package.
 */
export const DeltaManifestSchema = z.discriminatedUnion('schemaVersion', [DeltaManifestV1Schema, DeltaManifestV2Schema]);
export type DeltaManifest = z.infer<typeof DeltaManifestSchema>;
export type DeltaManifestV1 = z.infer<typeof DeltaManifestV1Schema>;
export type DeltaManifestV2 = z.infer<typeof DeltaManifestV2Schema>;
