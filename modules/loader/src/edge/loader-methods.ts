import { DesiredModelSchema } from '@edge-ml/contracts';
import type { EdgeClient, MethodResult } from '@edge-ml/edge-kit';
import type { Loader } from '../reconcile/loader.js';

const UpdatePayloadSchema = DesiredModelSchema.partial({ name: true }).extend({});

/**
 * Direct methods: updateModel (the blog post's payload: url, version, sha256), rollback (to the previous installed
 * version), listModels. A method's target holds until a newer desired version arrives.
 */
export function registerLoaderMethods(edge: EdgeClient, loader: Loader): void {
  edge.onMethod('updateModel', async (payload): Promise<MethodResult> => {
    const parsed = UpdatePayloadSchema.safeParse(payload);
    if (!parsed.success) return { status: 400, payload: { error: 'LOADER_METHOD_INVALID', message: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') } };
    const name = parsed.data.name ?? new URL(parsed.data.url).pathname.split('/').pop()?.replace(/\.[^.]+$/, '') ?? 'model';
    await loader.applyOverride({ model: { ...parsed.data, name } });
    return { status: 202, payload: { accepted: true, name, version: parsed.data.version } };
  });

  edge.onMethod('rollback', async (): Promise<MethodResult> => {
    const announced = await loader.repository.readAnnounced();
    const previous = (await loader.repository.listInstalled()).find((entry) => !(entry.name === announced?.name && entry.version === announced?.version));
    if (!previous) return { status: 409, payload: { error: 'LOADER_NOTHING_TO_ROLL_BACK', message: 'no other installed version to roll back to' } };
    await loader.applyOverride({ model: { name: previous.name, version: previous.version, url: 'https://rollback.invalid/installed', sha256: previous.packageSha256 } });
    return { status: 202, payload: { accepted: true, name: previous.name, version: previous.version } };
  });

  edge.onMethod('listModels', async (): Promise<MethodResult> => {
    const announced = await loader.repository.readAnnounced();
    const installed = await loader.repository.listInstalled();
    return {
      status: 200,
      payload: {
        announced: announced ? { name: announced.name, version: announced.version, sha256: announced.sha256 } : null,
        installed: installed.map(({ name, version, installedAt, modelSha256, format }) => ({ name, version, installedAt, modelSha256, format })),
      },
    };
  });
}
