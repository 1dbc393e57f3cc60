import { z } from 'zod';
import { Md5Schema, Sha256Schema } from './hashes.js';
import { ModelNameSchema, ModelVersionSchema, PackageFileNameSchema } from './path-segment.js';
import { DeliveryPathSchema } from './loader-storage.js';
import { ModelTwinKeySchema, twinKeyOf } from './twin-key.js';

const DownloadUrlSchema = z.url({ protocol: /^https?$/ });

/** The seed's flat desired properties. */
export const SeedLoaderDesiredSchema = z.object({
  FileName: PackageFileNameSchema,
  DownloadUrl: DownloadUrlSchema,
  ContentMD5: Md5Schema.optional(),
});
export type SeedLoaderDesired = z.infer<typeof SeedLoaderDesiredSchema>;

/** The rich desired model: integrity data travels in the twin, the artifact behind the URL. */
export const DesiredModelSchema = z.object({
  name: ModelNameSchema,
  version: ModelVersionSchema,
  url: DownloadUrlSchema,
  sha256: Sha256Schema,
  sizeBytes: z.number().int().positive().optional(),
  format: z.enum(['zip', 'onnx', 'tflite']).optional(),
  md5: Md5Schema.optional(),
  /** A delta manifest (SAS URL) offering patches from earlier versions; the full package stays the fallback. */
  delta: z.object({ manifestUrl: DownloadUrlSchema }).optional(),
});
export type DesiredModel = z.infer<typeof DesiredModelSchema>;

/**
 * One entry of the desired `models` map: a desired model whose name is the entry's key, decoded (`twinKeyOf`: a twin
 * key cannot hold `.`, so `ssd.v1` is keyed `ssd%2Ev1`); `name` may be left out, and when present it must equal the
 * decoded key. Setting an entry to null in a patch removes it, as the hub's merge patch does.
 */
export const DesiredModelEntrySchema = DesiredModelSchema.extend({ name: ModelNameSchema.optional() });
export type DesiredModelEntry = z.infer<typeof DesiredModelEntrySchema>;

/** At most this many models in the desired `models` map (a twin document is limited to 32 KB). */
export const MAX_DESIRED_MODELS = 16;

/** The issues of a failed parse as one line naming each field ("url: Invalid URL; sha256: ..."). */
const issuesText = (issues: readonly { path: PropertyKey[]; message: string }[]) => issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`).join('; ');

/**
 * The `models` map, validated entry by entry: a valid entry proceeds whatever its neighbours are. An invalid entry is
 * kept by name in `invalid` (its message names the field); a key that is not a model name cannot be an entry and is
 * kept in `invalidKeys`. Only more than MAX_DESIRED_MODELS entries refuse the whole map.
 */
const DesiredModelsSchema = z
  .record(z.string(), z.unknown())
  .transform((entries, context) => {
    const models: Record<string, DesiredModel> = {};
    const invalid: Record<string, string> = {};
    const invalidKeys: Record<string, string> = {};
    for (const [key, raw] of Object.entries(entries)) {
      if (raw === null) continue;
      // Keys are checked here rather than by the record's key schema, whose issue would only say "Invalid key in record".
      const parsedKey = ModelTwinKeySchema.safeParse(key);
      if (!parsedKey.success) {
        invalidKeys[key] = issuesText(parsedKey.error.issues);
        continue;
      }
      const name = parsedKey.data;
      const parsed = DesiredModelEntrySchema.safeParse(raw);
      if (!parsed.success) {
        invalid[name] = issuesText(parsed.error.issues);
        continue;
      }
      if (parsed.data.name !== undefined && parsed.data.name !== name) {
        invalid[name] = `name: must be the model its key names, "${name}" (or left out)`;
        continue;
      }
      models[name] = { ...parsed.data, name };
    }
    const count = Object.keys(models).length + Object.keys(invalid).length + Object.keys(invalidKeys).length;
    if (count > MAX_DESIRED_MODELS) context.addIssue({ code: 'custom', message: `at most ${MAX_DESIRED_MODELS} models` });
    return { models, invalid, invalidKeys };
  });

export const UpdatePolicySchema = z.object({
  keepVersions: z.number().int().min(1).max(20).default(2),
  /** Caps the download bandwidth on links shared with telemetry. */
  maxBytesPerSecond: z.number().int().positive().optional(),
  /** How long an announced version may go without the inference module's status before it counts as rejected; 0: do not wait (announce = active). */
  confirmTimeoutSeconds: z.number().int().min(0).max(86_400).default(300),
  /** While waiting, DLModelOutput is sent again this often, so that one lost message cannot stall the update. */
  confirmResendSeconds: z.number().int().min(1).max(3_600).default(30),
  /** How long the versions of a model removed from the desired state stay on disk: re-adding it within this time serves it from disk. */
  removeGraceSeconds: z.number().int().min(0).max(30 * 86_400).default(3_600),
});
export type UpdatePolicy = z.infer<typeof UpdatePolicySchema>;

/**
 * Desired properties of the loader twin, normalised. Precedence: the `models` map (several models), then the single
 * rich `model`, then the seed's flat fields; the forms not followed are reported as ignored (desiredForm).
 */
export type LoaderDesired =
  | {
      kind: 'models';
      /** The valid entries. */
      models: Record<string, DesiredModel>;
      /** Entries that do not parse, by name, with a message naming the field: each keeps serving what it served. */
      invalid: Record<string, string>;
      /** Keys that are not model names (so cannot be entries), with the reason. */
      invalidKeys: Record<string, string>;
      defaultModel: string | undefined;
      policy: UpdatePolicy;
    }
  | { kind: 'rich'; model: DesiredModel; policy: UpdatePolicy }
  | { kind: 'seed'; seed: SeedLoaderDesired; policy: UpdatePolicy }
  | { kind: 'none'; policy: UpdatePolicy };

const LoaderDesiredDocumentSchema = z.looseObject({
  models: DesiredModelsSchema.nullish(),
  /** Which entry of `models` `/v1/detect` serves (the inference module's INFERENCE_DEFAULT_MODEL wins over it). */
  defaultModel: ModelNameSchema.nullish(),
  model: DesiredModelSchema.nullish(),
  policy: UpdatePolicySchema.optional(),
});

/**
 * Parses a full desired document or a patch. Hub metadata (`$version`, `$metadata`) and unknown keys are ignored.
 * Throws a ZodError naming the offending field when a form is present but invalid.
 */
export function parseLoaderDesired(raw: unknown): LoaderDesired {
  const document = LoaderDesiredDocumentSchema.parse(raw);
  const policy = document.policy ?? UpdatePolicySchema.parse({});
  if (document.models) return { kind: 'models', ...document.models, defaultModel: document.defaultModel ?? undefined, policy };
  if (document.model) return { kind: 'rich', model: document.model, policy };
  const hasSeedField = ['FileName', 'DownloadUrl', 'ContentMD5'].some((key) => document[key] !== undefined && document[key] !== null);
  if (hasSeedField) return { kind: 'seed', seed: SeedLoaderDesiredSchema.parse(document), policy };
  return { kind: 'none', policy };
}

/**
 * parseLoaderDesired for tools that write desired properties (the publishing CLI, deployment validation): an invalid
 * entry or key, which the loader sets aside while the other entries proceed, is refused here, naming its field.
 */
export function parseLoaderDesiredStrictly(raw: unknown): LoaderDesired {
  const desired = parseLoaderDesired(raw);
  if (desired.kind !== 'models') return desired;
  const issues = [
    ...Object.entries(desired.invalidKeys).map(([key, message]) => ({ code: 'custom' as const, path: ['models', key], message, input: undefined })),
    ...Object.entries(desired.invalid).map(([name, message]) => ({ code: 'custom' as const, path: ['models', twinKeyOf(name)], message, input: undefined })),
  ];
  if (issues.length > 0) throw new z.ZodError(issues);
  return desired;
}

/**
 * `announced`: the pointer names the version and the loader waits for the inference module's status (until
 * `confirmDeadline`); `active`: the inference module confirmed serving it; `rejected`: it could not (the error is the
 * inference module's code, or LOADER_CONFIRMATION_TIMEOUT) and the last-known-good version is announced again.
 */
export const UpdateStateSchema = z.enum(['idle', 'downloading', 'verifying', 'extracting', 'staged', 'announced', 'active', 'rejected', 'failed']);
export type UpdateState = z.infer<typeof UpdateStateSchema>;

/**
 * The loader's update progress in reported properties. Reported properties are merged by JSON merge patch, so a field
 * that does not apply to the current state is sent as null (the hub would otherwise keep the previous state's value).
 */
export const LoaderUpdateReportSchema = z.object({
  state: UpdateStateSchema,
  /** How the model arrived: a patch against an installed version, or the full package. */
  path: DeliveryPathSchema.nullish(),
  bytesFetched: z.number().int().nonnegative().nullish(),
  bytesReused: z.number().int().nonnegative().nullish(),
  name: z.string().nullish(),
  version: z.string().nullish(),
  bytesDownloaded: z.number().int().nonnegative().nullish(),
  bytesTotal: z.number().int().nonnegative().nullish(),
  /** While `announced`: when the loader stops waiting for the inference module and falls back. */
  confirmDeadline: z.iso.datetime().nullish(),
  error: z.object({ code: z.string(), message: z.string() }).nullish(),
  updatedAt: z.iso.datetime(),
});
export type LoaderUpdateReport = z.infer<typeof LoaderUpdateReportSchema>;

const SEED_FIELDS = ['FileName', 'DownloadUrl', 'ContentMD5'] as const;

/**
 * Which form of desired properties the loader follows, and the fields it ignores because of it: with both present,
 * the rich `model` wins and the seed's flat fields are ignored (docs/loader.md). Reported, so that a user who sets
 * FileName/DownloadUrl next to a `model` sees why nothing happens.
 */
export const DesiredFormReportSchema = z.object({
  followed: z.enum(['models', 'rich', 'seed', 'none']),
  ignored: z.array(z.enum([...SEED_FIELDS, 'model'])),
  /**
   * What the loader could not follow without refusing the whole document: keys of `models` that are not model names,
   * a defaultModel that names no desired entry. Sent (empty) whenever the form is reported, so a fixed problem clears.
   */
  warnings: z.array(z.string()).optional(),
});
export type DesiredFormReport = z.infer<typeof DesiredFormReportSchema>;

/** The desired form a document selects (the same precedence as parseLoaderDesired), without validating it. */
export function desiredFormOf(raw: Record<string, unknown>): DesiredFormReport {
  const present = SEED_FIELDS.filter((key) => raw[key] !== undefined && raw[key] !== null);
  const hasModel = raw.model !== undefined && raw.model !== null;
  if (raw.models !== undefined && raw.models !== null) return { followed: 'models', ignored: [...(hasModel ? (['model'] as const) : []), ...present] };
  if (hasModel) return { followed: 'rich', ignored: present };
  return { followed: present.length > 0 ? 'seed' : 'none', ignored: [] };
}

/**
 * One model's entry in the loader's reported `models` map: its update progress (as `modelUpdate` reports the default
 * model's), its confirmed version and its installed versions. A removed entry is reported `removed` until its grace
 * period ends (`removeAfter`), then set to null.
 */
export const LoaderModelReportSchema = LoaderUpdateReportSchema.extend({
  state: z.enum([...UpdateStateSchema.options, 'removed']),
  activeVersion: z.object({ version: z.string(), sha256: Sha256Schema }).nullish(),
  installedVersions: z.array(z.string()).nullish(),
  removeAfter: z.iso.datetime().nullish(),
});
export type LoaderModelReport = z.infer<typeof LoaderModelReportSchema>;

export const LoaderReportedSchema = z.object({
  /** Every model of the desired `models` map (or the one model of the other forms), by twin key (twinKeyOf its name); null for one that is gone. */
  models: z.record(z.string(), LoaderModelReportSchema.nullable()).optional(),
  /** The package file name of the confirmed version (activeModel). */
  LatestAIModelFileName: z.string().optional(),
  /** Not `update`: the SDK merges reported properties into an object whose `update` is its own method. */
  modelUpdate: LoaderUpdateReportSchema.optional(),
  /** The version the inference module last confirmed serving (the last-known-good); null before any confirmation. */
  activeModel: z.object({ name: z.string(), version: z.string(), sha256: Sha256Schema }).nullish(),
  installedVersions: z.array(z.string()).optional(),
  desiredForm: DesiredFormReportSchema.optional(),
});
export type LoaderReported = z.infer<typeof LoaderReportedSchema>;
