import { DesiredModelSchema, ModelNameSchema } from '@edge-ml/contracts';
import { z } from 'zod';
import { DiskFullError, InvalidDesiredError, LoaderError } from '../errors.js';
import { asDiskFullIfNoSpace } from '../storage/disk-space.js';
import { withRelativeStoragePaths } from '../storage/relative-paths.js';
import { redactSecrets, type EdgeClient, type MethodHandler, type MethodResult } from '@edge-ml/edge-kit';
import type { Loader } from '../reconcile/loader.js';
import { listVersions, previousConfirmed } from '../reconcile/version-history.js';

const UpdatePayloadSchema = z.looseObject({ name: z.unknown().optional(), url: z.string() });
const RollbackPayloadSchema = z.looseObject({ name: ModelNameSchema.optional() });

/** The 400 answer for a payload that is not a valid desired model: the same code and wording as for the twin. */
function invalid(issues: readonly { path: PropertyKey[]; message: string }[]): MethodResult {
  const error = new InvalidDesiredError(issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; '));
  return { status: 400, payload: { error: error.code, message: error.message } };
}

/** The model name a payload without one gets: the URL's last segment without its extension. */
function nameFromUrl(url: string): string {
  try {
    return new URL(url).pathname.split('/').pop()?.replace(/\.[^.]+$/, '') || 'model';
  } catch {
    return 'model';
  }
}

/**
 * Wraps a method handler so that a failure answers with its code and a message whose storage paths are relative to the
 * storage root (the edge client would otherwise send the raw message, absolute paths included): 507 for a full disk.
 */
function guarded(storageRoot: string, handler: MethodHandler): MethodHandler {
  return async (payload) => {
    try {
      return await handler(payload);
    } catch (thrown) {
      const error = await asDiskFullIfNoSpace(thrown, storageRoot);
      const message = withRelativeStoragePaths(redactSecrets(error instanceof Error ? error.message : String(error)), storageRoot);
      return { status: error instanceof DiskFullError ? 507 : 500, payload: { error: error instanceof LoaderError ? error.code : 'LOADER_INTERNAL', message } };
    }
  };
}

/**
 * Direct methods: updateModel (the blog post's payload: url, version, sha256; it sets the entry of its model's name),
 * rollback (`{ name? }`: to the previous confirmed version of that model; the name may be left out when one model is
 * desired), listModels (every entry). A method's target holds until a newer desired version arrives.
 */
export function registerLoaderMethods(edge: EdgeClient, loader: Loader): void {
  const root = loader.repository.root;
  edge.onMethod('updateModel', guarded(root, async (payload): Promise<MethodResult> => {
    const shape = UpdatePayloadSchema.safeParse(payload);
    if (!shape.success) return invalid(shape.error.issues);
    const parsed = DesiredModelSchema.safeParse({ ...shape.data, name: shape.data.name ?? nameFromUrl(shape.data.url) });
    if (!parsed.success) return invalid(parsed.error.issues);
    await loader.applyOverride({ source: 'desired', desired: { model: parsed.data } });
    return { status: 202, payload: { accepted: true, name: parsed.data.name, version: parsed.data.version } };
  }));

  edge.onMethod('rollback', guarded(root, async (payload): Promise<MethodResult> => {
    const parsed = RollbackPayloadSchema.safeParse(payload ?? {});
    if (!parsed.success) return invalid(parsed.error.issues);
    const names = loader.entryNames();
    const name = parsed.data.name ?? (names.length === 1 ? names[0] : undefined);
    if (!name) return { status: 400, payload: { error: 'LOADER_MODEL_NAME_REQUIRED', message: `several models are desired (${names.join(', ')}): name the one to roll back ({ "name": ... })` } };
    if (!names.includes(name)) return { status: 404, payload: { error: 'LOADER_MODEL_NOT_DESIRED', message: `no desired model is named ${name}` } };
    const previous = await previousConfirmed(loader, name);
    if (!previous) return { status: 409, payload: { error: 'LOADER_NOTHING_TO_ROLL_BACK', message: `no earlier confirmed version of ${name} is installed` } };
    await loader.applyOverride({ source: 'installed', name: previous.name, version: previous.version, modelSha256: previous.modelSha256 });
    return { status: 202, payload: { accepted: true, name: previous.name, version: previous.version } };
  }));

  edge.onMethod('listModels', guarded(root, async (): Promise<MethodResult> => ({ status: 200, payload: await listVersions(loader) })));
}
