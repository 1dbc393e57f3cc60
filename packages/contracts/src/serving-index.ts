import { z } from 'zod';
import { RichModelMessageSchema } from './model-message.js';
import { ConfirmedModelPointerSchema } from './model-status.js';
import { ModelNameSchema } from './path-segment.js';

/**
 * Several models on one device (docs/architecture.md, "Several models"). The loader keeps one index of every model the
 * inference module is to serve, written atomically (one rename) after every change of any entry; the inference module
 * reads it at start-up, on DLModelOutput and when the file changes (watch plus a slow poll), loads each entry and
 * unloads what left the index. Shared storage stays read-only for the inference module.
 *
 * Each entry is keyed by model name (models/<name>/ in the repository, and the name of its routes). Within an entry the
 * closed loop of a single model holds: `announced` is the version on trial or serving, `confirmed` the entry's
 * last-known-good (null until the inference module first confirmed one of its versions).
 */
export const SERVING_INDEX = 'models/serving.json';

export const ServingEntrySchema = z.object({
  announced: RichModelMessageSchema,
  confirmed: ConfirmedModelPointerSchema.nullable(),
});
export type ServingEntry = z.infer<typeof ServingEntrySchema>;

export const ServingIndexSchema = z
  .object({
    schemaVersion: z.literal(1),
    /** The model `/v1/detect` and unnamed edge images use, unless the inference module's configuration names one. */
    defaultModel: ModelNameSchema.nullable(),
    models: z.record(ModelNameSchema, ServingEntrySchema),
    updatedAt: z.iso.datetime(),
  })
  .superRefine((index, context) => {
    for (const [name, entry] of Object.entries(index.models)) {
      if (entry.announced.name !== name) context.addIssue({ code: 'custom', path: ['models', name, 'announced', 'name'], message: `must be the entry's name "${name}"` });
      if (entry.confirmed && entry.confirmed.name !== name) context.addIssue({ code: 'custom', path: ['models', name, 'confirmed', 'name'], message: `must be the entry's name "${name}"` });
    }
  });
export type ServingIndex = z.infer<typeof ServingIndexSchema>;

type RichModelMessage = z.infer<typeof RichModelMessageSchema>;
type ConfirmedModelPointer = z.infer<typeof ConfirmedModelPointerSchema>;

/**
 * The index that the single-model pointers (models/announced.json, models/confirmed.json, written by loaders before
 * the index existed) describe: one entry for the announced model, and one for the confirmed model when it is another
 * (so that the last-known-good keeps serving while the announced one is on trial). The announced model is the default.
 * Both modules use it: the loader to migrate, the inference module when no index exists yet.
 */
export function servingIndexFromLegacyPointers(announced: RichModelMessage | undefined, confirmed: ConfirmedModelPointer | undefined, at: string): ServingIndex | undefined {
  const models: Record<string, ServingEntry> = {};
  if (confirmed) {
    const { confirmedAt: _confirmedAt, ...announcement } = confirmed;
    models[confirmed.name] = { announced: announcement, confirmed };
  }
  if (announced) models[announced.name] = { announced, confirmed: confirmed?.name === announced.name ? confirmed : null };
  const defaultModel = announced?.name ?? confirmed?.name;
  if (!defaultModel) return undefined;
  return { schemaVersion: 1, defaultModel, models, updatedAt: at };
}
