import { z } from 'zod';
import { Sha256Schema } from './hashes.js';
import { RichModelMessageSchema } from './model-message.js';
import { ModelNameSchema, ModelVersionSchema } from './path-segment.js';

/**
 * The closed loop between the two modules (docs/architecture.md, "Activation and confirmation").
 *
 * The loader announces a version (writes `models/announced.json`, then sends DLModelOutput). The inference module
 * tries it and answers on its `DLModelStatus` output, routed to the loader's `DLModelStatusInput`: accepted (it
 * serves it now) or rejected (it could not load, warm up or pass acceptance; it keeps serving what it had). Only on
 * an accepted status does the loader write `models/confirmed.json`, the last-known-good version. Both pointers are
 * written by the loader alone; shared storage stays read-only for the inference module.
 */
export const MODEL_STATUS_OUTPUT = 'DLModelStatus';
export const MODEL_STATUS_INPUT = 'DLModelStatusInput';

/** The last version the inference module confirmed serving, relative to the storage root: the last-known-good. */
export const CONFIRMED_MODEL_POINTER = 'models/confirmed.json';

/** Body of `models/confirmed.json`: the announcement that was confirmed, and when. */
export const ConfirmedModelPointerSchema = RichModelMessageSchema.extend({
  confirmedAt: z.iso.datetime(),
});
export type ConfirmedModelPointer = z.infer<typeof ConfirmedModelPointerSchema>;

/** Why the inference module tried a model: a DLModelOutput message, a changed pointer it noticed, or start-up. */
export const ActivationTriggerSchema = z.enum(['message', 'pointer', 'startup']);
export type ActivationTrigger = z.infer<typeof ActivationTriggerSchema>;

const StatusBaseSchema = z.object({
  schemaVersion: z.literal(1),
  name: ModelNameSchema,
  version: ModelVersionSchema,
  /** sha256 of the model file, as the announcement carried it (RichModelMessage.sha256). */
  sha256: Sha256Schema,
  trigger: ActivationTriggerSchema,
  at: z.iso.datetime(),
});

/**
 * The body of a DLModelStatus message, one per activation attempt of an announced version. A repeat of the version
 * already serving is answered `accepted` again (delivery is at-least-once on both legs; handling is idempotent).
 */
export const ModelStatusMessageSchema = z.discriminatedUnion('outcome', [
  StatusBaseSchema.extend({
    outcome: z.literal('accepted'),
    loadMs: z.number().nonnegative(),
    warmupMs: z.number().nonnegative(),
    /** Acceptance samples from model.json that were run and passed (absent when the package has none). */
    acceptance: z.object({ samples: z.number().int().nonnegative(), passed: z.number().int().nonnegative() }).optional(),
  }),
  StatusBaseSchema.extend({
    outcome: z.literal('rejected'),
    /** A typed code: MODEL_LOAD_FAILED, MODEL_FILES_INVALID, MODEL_OUTPUT_INVALID, MODEL_ACCEPTANCE_FAILED, ... */
    error: z.object({ code: z.string().min(1).max(64), message: z.string().max(2_000) }),
  }),
]);
export type ModelStatusMessage = z.infer<typeof ModelStatusMessageSchema>;

/** A version's verdict as the loader keeps it and lists it (listModels, reported properties). */
export const VersionVerdictSchema = z.enum(['confirmed', 'rejected', 'untried']);
export type VersionVerdict = z.infer<typeof VersionVerdictSchema>;
