import { DesiredModelSchema } from '@edge-ml/contracts';
import { z } from 'zod';
import { DiskFullError, InvalidDesiredError, LoaderError } from '../errors.js';
import { asDiskFullIfNoSpace } from '../storage/disk-space.js';
import { withRelativeStoragePaths } from '../storage/relative-paths.js';
import { redactSecrets, type EdgeClient, type MethodHandler, type MethodResult } from '@edge-ml/edge-kit';
import type { Loader } from '../reconcile/loader.js';
import { listVersions, previousConfirmed } from '../reconcile/version-history.js';

const UpdatePayloadSchema = z.looseObject({ name: z.unknown().optional(), url: z.string() });

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
 * Direct methods: updateModel (the blog post's payload: url, version, sha256), rollback (to the previous confirmed
 * version of the same model), listModels. A method's target holds until a newer desired version arrives.
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

  edge.onMethod('rollback', guarded(root, async (): Promise<MethodResult> => {
    const previous = await previousConfirmed(loader);
    if (!previous) return { status: 409, payload: { error: 'LOADER_NOTHING_TO_ROLL_BACK', message: 'no earlier confirmed version of this model is installed' } };
    await loader.applyOverride({ source: 'installed', name: previous.name, version: previous.version, modelSha256: previous.modelSha256 });
    return { status: 202, payload: { accepted: true, name: previous.name, version: previous.version } };
  }));

  edge.onMethod('listModels', guarded(root, async (): Promise<MethodResult> => ({ status: 200, payload: await listVersions(loader) })));
}
