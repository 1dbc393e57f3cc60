import { z } from 'zod';
import { Sha256Schema } from './hashes.js';
import { ModelFormatSchema } from './model-format.js';

/**
 * Published next to a package: how a device that already holds an earlier model file can build the new one from a
 * patch instead of downloading the package. `package.sha256` binds the manifest to the desired properties.
 */
export const DeltaManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  package: z.object({ sha256: Sha256Schema, sizeBytes: z.number().int().positive() }),
  model: z.object({
    file: z.string().regex(/^[^/\\\0]+$/, 'a plain file name'),
    format: ModelFormatSchema,
    sha256: Sha256Schema,
    sizeBytes: z.number().int().nonnegative(),
  }),
  /** The package's other files (labels, model.json), base64: small, and needed to assemble the same package. */
  files: z.record(z.string().regex(/^[^/\\\0]+$/, 'a plain file name'), z.string().max(1_000_000)),
  patches: z
    .array(
      z.object({
        /** sha256 of the model file the patch starts from: what the loader reports as activeModel.sha256. */
        fromSha256: Sha256Schema,
        url: z.url({ protocol: /^https?$/ }),
        sha256: Sha256Schema,
        sizeBytes: z.number().int().positive(),
      }),
    )
    .max(64),
  /**
   * For devices that hold no version with a patch: the new model's content-defined chunk list (binary, EMCL) and the
   * uncompressed model blob its byte ranges are fetched from. Chunks the device already holds are reused.
   */
  chunks: z
    .object({
      listUrl: z.url({ protocol: /^https?$/ }),
      listSha256: Sha256Schema,
      listSizeBytes: z.number().int().positive(),
      modelUrl: z.url({ protocol: /^https?$/ }),
    })
    .optional(),
});
export type DeltaManifest = z.infer<typeof DeltaManifestSchema>;
