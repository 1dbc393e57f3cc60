import { createHash } from 'node:crypto';
import { isSafePathSegment, ModelNameSchema, parseLoaderDesired, type DesiredModel, type LoaderDesired, type SeedLoaderDesired, type UpdatePolicy } from '@edge-ml/contracts';
import { InvalidDesiredError } from '../errors.js';

/** A model to download: whichever form of desired properties (or the updateModel method) named it. */
export interface DownloadTarget {
  source: 'download';
  name: string;
  version: string;
  url: string;
  /** The package's name as the seed's FileName gives it, or the URL's last segment. */
  fileName: string;
  sha256?: string;
  md5?: string;
  sizeBytes?: number;
  /** A delta manifest offering patches from installed versions (rich form only). */
  deltaManifestUrl?: string;
  /** Stable identity of this exact package: a new URL for the same bytes (renewed SAS) keeps it. */
  key: string;
}

/** A version already in the repository (a rollback names one): nothing to fetch, only to announce. */
export interface InstalledTarget {
  source: 'installed';
  name: string;
  version: string;
  modelSha256: string;
  key: string;
}

/** The model the loader should make active. */
export type ModelTarget = DownloadTarget | InstalledTarget;

export function installedTarget(name: string, version: string, modelSha256: string): InstalledTarget {
  return { source: 'installed', name, version, modelSha256, key: keyOf(name, version, `installed:${modelSha256}`) };
}

/** The URL's last segment, decoded; "package" when that is not one safe file name (`%2E%2E`, `%2F`, bad escapes). */
function fileNameOf(url: string): string {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop();
  try {
    const decoded = last ? decodeURIComponent(last) : '';
    return isSafePathSegment(decoded) ? decoded : 'package';
  } catch {
    return 'package';
  }
}

function keyOf(name: string, version: string, integrity: string): string {
  return createHash('sha256').update(`${name}\0${version}\0${integrity}`).digest('hex').slice(0, 24);
}

/** The repository name for the seed's FileName: its base name without extension, made safe for a directory. */
export function seedModelName(fileName: string): string {
  const name = fileName.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9._-]/g, '_');
  return ModelNameSchema.safeParse(name).success ? name : 'model';
}

/** The download target of one desired model (the rich form, an entry of `models`, or updateModel's payload). */
export function downloadTargetOf(model: DesiredModel): DownloadTarget {
  return {
    source: 'download',
    name: model.name,
    version: model.version,
    url: model.url,
    fileName: fileNameOf(model.url),
    sha256: model.sha256,
    ...(model.md5 ? { md5: model.md5 } : {}),
    ...(model.sizeBytes ? { sizeBytes: model.sizeBytes } : {}),
    ...(model.delta ? { deltaManifestUrl: model.delta.manifestUrl } : {}),
    key: keyOf(model.name, model.version, model.sha256),
  };
}

function seedTarget(seed: SeedLoaderDesired): DownloadTarget {
  const name = seedModelName(seed.FileName);
  // The seed carries no version: the content's MD5 (else the file name) identifies it.
  const version = seed.ContentMD5 ? `md5-${seed.ContentMD5.slice(0, 12)}` : 'seed';
  return {
    source: 'download',
    name,
    version,
    url: seed.DownloadUrl,
    fileName: seed.FileName,
    ...(seed.ContentMD5 ? { md5: seed.ContentMD5 } : {}),
    key: keyOf(name, version, seed.ContentMD5 ?? seed.FileName),
  };
}

/** Every model the desired properties name, by name (the single forms name one), in name order. */
export function targetsFromDesired(desired: LoaderDesired): Map<string, DownloadTarget> {
  if (desired.kind === 'models') return new Map(Object.keys(desired.models).sort().map((name) => [name, downloadTargetOf(desired.models[name]!)]));
  if (desired.kind === 'rich') return new Map([[desired.model.name, downloadTargetOf(desired.model)]]);
  if (desired.kind === 'seed') {
    const target = seedTarget(desired.seed);
    return new Map([[target.name, target]]);
  }
  return new Map();
}

/** The default entry: the single form's model, or the `models` form's defaultModel (null when it names none). */
export function defaultModelOf(desired: LoaderDesired, targets: Map<string, DownloadTarget>): string | null {
  if (desired.kind === 'models') return desired.defaultModel ?? null;
  return [...targets.keys()][0] ?? null;
}

/** The default entry's target (the first by name when the `models` form names no default). */
export function targetFromDesired(desired: LoaderDesired): DownloadTarget | undefined {
  const targets = targetsFromDesired(desired);
  const name = defaultModelOf(desired, targets) ?? [...targets.keys()][0];
  // Stryker disable next-line ConditionalExpression: equivalent, a Map holds no undefined key.
  return name === undefined ? undefined : targets.get(name);
}

export interface DesiredTargets {
  /** Which form the desired properties take: `models` makes each entry independent; the single forms name one model. */
  kind: LoaderDesired['kind'];
  targets: Map<string, DownloadTarget>;
  defaultModel: string | null;
  /** The default entry's target (see targetFromDesired). */
  target: DownloadTarget | undefined;
  policy: UpdatePolicy;
  /** Entries of the `models` form that do not parse, by name, with the reason (they keep serving what they served). */
  invalid: Record<string, string>;
  /** Keys of the `models` form that are not model names, with the reason. */
  invalidKeys: Record<string, string>;
}

/** Parses desired properties into targets and policy; invalid properties become a typed, reportable error. */
export function readDesired(properties: Record<string, unknown>): DesiredTargets {
  let desired: LoaderDesired;
  try {
    desired = parseLoaderDesired(properties);
  } catch (error) {
    const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
    throw new InvalidDesiredError(issues ? issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ') : String(error));
  }
  const targets = targetsFromDesired(desired);
  const invalid = desired.kind === 'models' ? desired.invalid : {};
  const invalidKeys = desired.kind === 'models' ? desired.invalidKeys : {};
  return { kind: desired.kind, targets, defaultModel: defaultModelOf(desired, targets), target: targetFromDesired(desired), policy: desired.policy, invalid, invalidKeys };
}
