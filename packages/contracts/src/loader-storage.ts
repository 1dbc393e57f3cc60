import { z } from 'zod';
import { Md5Schema, Sha256Schema } from './hashes.js';
import { ModelFormatSchema } from './model-format.js';
import { ModelNameSchema, ModelVersionSchema, PackageFileNameSchema } from './path-segment.js';
import { StorageRelativePathSchema } from './storage-path.js';

/**
 * Files the loader writes on shared storage and reads back after a restart. They are input like any other: a file
 * written by an older version, or torn by a crash, must fail to parse rather than be trusted.
 */

/** A file inside an installed version's directory, relative to it. */
const VersionFileSchema = StorageRelativePathSchema;

export const DeliveryPathSchema = z.enum(['patch', 'chunks', 'full']);
export type DeliveryPath = z.infer<typeof DeliveryPathSchema>;

/** models/<name>/<version>/.installed.json: what the loader installed, so that it can be verified and announced again. */
export const InstalledManifestSchema = z.object({
  name: ModelNameSchema,
  version: ModelVersionSchema,
  format: ModelFormatSchema,
  modelFile: VersionFileSchema,
  labelsFile: VersionFileSchema,
  descriptorFile: VersionFileSchema.optional(),
  /** sha256 of the model file. */
  modelSha256: Sha256Schema,
  /** sha256 of the package as downloaded. */
  packageSha256: Sha256Schema,
  packageMd5: Md5Schema.optional(),
  /** The package's file name (the seed's FileName or the URL's last segment): LatestAIModelFileName once confirmed. */
  packageFileName: PackageFileNameSchema.optional(),
  installedAt: z.iso.datetime(),
  /** How the package arrived: through a patch or in full, and the bytes fetched and reused. */
  delivery: z.object({ path: DeliveryPathSchema, bytesFetched: z.number().int().nonnegative(), bytesReused: z.number().int().nonnegative() }).optional(),
});
export type InstalledManifest = z.infer<typeof InstalledManifestSchema>;

/** .staging/<key>.partial.json: what the bytes of a partial download belong to, so that a restart resumes them. */
export const PartialDownloadRecordSchema = z.object({
  /** The URL without its query: a renewed SAS token must not discard the bytes already here. */
  resource: z.string().min(1),
  etag: z.string().optional(),
  totalBytes: z.number().int().nonnegative().optional(),
});
export type PartialDownloadRecord = z.infer<typeof PartialDownloadRecordSchema>;

/** .staging/<key>.package.json: a downloaded or assembled package that passed verification, waiting to be installed. */
export const VerifiedPackageRecordSchema = z.object({
  sha256: Sha256Schema,
  /** Absent when the package was assembled from a patch and the desired state named no MD5 (older records say ""). */
  md5: z.union([Md5Schema, z.literal('').transform(() => undefined)]).optional(),
  sizeBytes: z.number().int().nonnegative(),
  path: DeliveryPathSchema,
  bytesFetched: z.number().int().nonnegative(),
  bytesReused: z.number().int().nonnegative(),
});
export type VerifiedPackageRecord = z.input<typeof VerifiedPackageRecordSchema>;

/** name@version#modelSha256: one announcement of one version, as both modules key it. */
export const AnnouncementKeySchema = z.string().regex(/^[^@#]+@[^@#]+#[0-9a-f]{64}$/, 'must be name@version#sha256');

/** A target set by a direct method: a version already installed (rollback), or desired properties (updateModel). */
export const OverrideTargetSchema = z.discriminatedUnion('source', [
  z.object({ source: z.literal('installed'), name: ModelNameSchema, version: ModelVersionSchema, modelSha256: Sha256Schema }),
  z.object({ source: z.literal('desired'), desired: z.record(z.string(), z.unknown()) }),
]);
export type OverrideTarget = z.infer<typeof OverrideTargetSchema>;

const ErrorRecordSchema = z.object({ code: z.string().min(1), message: z.string() });

/** The loader's verdict on one announcement; a version it has not announced has none (it is untried). */
export const VerdictRecordSchema = z.discriminatedUnion('verdict', [
  z.object({ verdict: z.literal('confirmed'), at: z.iso.datetime() }),
  z.object({ verdict: z.literal('rejected'), at: z.iso.datetime(), error: ErrorRecordSchema }),
]);
export type VerdictRecord = z.infer<typeof VerdictRecordSchema>;

/** An announcement waiting for the inference module's status. */
export const AwaitingConfirmationSchema = z.object({
  key: AnnouncementKeySchema,
  name: ModelNameSchema,
  version: ModelVersionSchema,
  announcedAt: z.iso.datetime(),
  deadline: z.iso.datetime(),
});
export type AwaitingConfirmation = z.infer<typeof AwaitingConfirmationSchema>;

/** A version the inference module confirmed, in the per-name history that `rollback` walks back. */
export const ConfirmationEntrySchema = z.object({ version: ModelVersionSchema, modelSha256: Sha256Schema, confirmedAt: z.iso.datetime() });
export type ConfirmationEntry = z.infer<typeof ConfirmationEntrySchema>;

/** A rejected announcement that must not be announced again while the target it was rejected under stands. */
export const RejectionBlockSchema = z.object({ key: AnnouncementKeySchema, targetKey: z.string().min(1) });
export type RejectionBlock = z.infer<typeof RejectionBlockSchema>;

/** Writers before the override became typed stored the desired document itself (and a placeholder URL for rollbacks). */
const legacyOverride = (value: unknown) => {
  if (typeof value !== 'object' || value === null || 'target' in value || !('desired' in value)) return value;
  const { desired, sinceDesiredVersion } = value as { desired: { model?: { url?: string } }; sinceDesiredVersion: unknown };
  if (desired.model?.url === 'https://rollback.invalid/installed') return null;
  return { target: { source: 'desired', desired }, sinceDesiredVersion };
};

const OverrideRecordSchema = z.preprocess(legacyOverride, z.object({ target: OverrideTargetSchema, sinceDesiredVersion: z.number().int() }).nullable());

const attemptCount = z.number().int().nonnegative().default(0);
export const DeltaAttemptsSchema = z.object({ targetKey: z.string(), manifest: attemptCount, patch: attemptCount, chunks: attemptCount });
export type DeltaAttempts = z.output<typeof DeltaAttemptsSchema>;

/** What the loader remembers of one model (one entry of the desired `models` map, or the single model). */
export const EntryStateSchema = z.object({
  /** A target that failed in a way retrying cannot fix; it holds for that whole desired model (fingerprint): changing any field retries. */
  failure: z.object({ key: z.string(), url: z.string(), fingerprint: z.string().optional(), code: z.string(), message: z.string() }).nullable().default(null),
  /** The announcement of this model last sent on DLModelOutput, as name@version#sha256. */
  messageSentFor: z.string().nullable().default(null),
  /** A target set by a direct method; it yields to the next newer desired version. */
  override: OverrideRecordSchema.default(null),
  /** The announcement of this model waiting for the inference module's status, if any. */
  awaiting: AwaitingConfirmationSchema.nullable().default(null),
  /** When the entry left the desired state (it is `removed`); null while it is desired. */
  removedAt: z.iso.datetime().nullable().default(null),
  /**
   * Attempts of the target's delta manifest and paths, in a row, that did not succeed: a path whose count reaches the
   * loader's bound is given up for the full package, across restarts. They count for `targetKey` only.
   */
  deltaAttempts: DeltaAttemptsSchema.nullable().default(null),
});
export type EntryState = z.output<typeof EntryStateSchema>;

/** The name an announcement key (name@version#sha256) names. */
const nameOfKey = (key: unknown) => (typeof key === 'string' && key.includes('@') ? key.slice(0, key.indexOf('@')) : undefined);

/** The model name a single-model override names: a rollback's, or the updateModel payload's (the legacy form included). */
function nameOfOverride(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as { target?: { name?: unknown; desired?: { model?: { name?: unknown } } }; desired?: { model?: { name?: unknown } } };
  const name = record.target?.name ?? record.target?.desired?.model?.name ?? record.desired?.model?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * State files written before several models (#16) held one `failure`, `messageSentFor`, `override` and `awaiting`:
 * each moves into the entry of the model name it mentions. A failure names no model: it joins the entry that the other
 * fields name, or is dropped (the update is then tried once more and fails again).
 */
function legacySingleModelState(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || 'entries' in value) return value;
  const { failure, messageSentFor, override, awaiting, ...rest } = value as Record<string, unknown>;
  const entries: Record<string, Record<string, unknown>> = {};
  const put = (name: string | undefined, field: string, fieldValue: unknown) => {
    if (name === undefined || fieldValue === undefined || fieldValue === null) return;
    entries[name] = { ...entries[name], [field]: fieldValue };
  };
  const awaitingName = typeof awaiting === 'object' && awaiting !== null ? (awaiting as { name?: unknown }).name : undefined;
  // An awaited announcement that names no model is no valid state: it lands under "" so that the entry's name fails.
  put(typeof awaitingName === 'string' ? awaitingName : (nameOfKey((awaiting as { key?: unknown } | null)?.key) ?? ''), 'awaiting', awaiting);
  put(nameOfKey(messageSentFor), 'messageSentFor', messageSentFor);
  put(nameOfOverride(override), 'override', override);
  put(Object.keys(entries).find(Boolean), 'failure', failure);
  return { ...rest, entries };
}

/** .loader/state.json: what the loader must remember across restarts beyond what the repository and the serving index show. */
export const LoaderStateSchema = z.preprocess(
  legacySingleModelState,
  z.object({
    /** Per model name: its failure, last announcement, override, awaited announcement and removal. */
    entries: z.record(ModelNameSchema, EntryStateSchema).default({}),
    /** Verdicts by announcement key. */
    verdicts: z.record(z.string(), VerdictRecordSchema).default({}),
    /** Rejected announcements not to announce again while their target stands. */
    rejections: z.array(RejectionBlockSchema).default([]),
    /** Per model name, the versions the inference module confirmed, in order of first confirmation. */
    confirmations: z.record(z.string(), z.array(ConfirmationEntrySchema)).default({}),
  }),
);
export type LoaderState = z.output<typeof LoaderStateSchema>;
