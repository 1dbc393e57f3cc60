import { applyMergePatch } from '@edge-ml/edge-kit';

export interface TwinDocument {
  desired: Record<string, unknown> & { $version: number };
  reported: Record<string, unknown> & { $version: number };
}

/** Hub metadata such as $version is the store's, never the patch's. */
function withoutMetadata(patch: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(patch).filter(([key]) => !key.startsWith('$')));
}

/** Module twins with versioned desired and reported properties, patched by JSON merge patch as IoT Hub does. */
export class TwinStore {
  private readonly twins = new Map<string, TwinDocument>();

  get(module: string): TwinDocument {
    let twin = this.twins.get(module);
    if (!twin) {
      twin = { desired: { $version: 1 }, reported: { $version: 1 } };
      this.twins.set(module, twin);
    }
    return twin;
  }

  patchDesired(module: string, patch: Record<string, unknown>): number {
    const twin = this.get(module);
    twin.desired = { ...applyMergePatch(twin.desired, withoutMetadata(patch)), $version: twin.desired.$version + 1 };
    return twin.desired.$version;
  }

  patchReported(module: string, patch: Record<string, unknown>): number {
    const twin = this.get(module);
    twin.reported = { ...applyMergePatch(twin.reported, withoutMetadata(patch)), $version: twin.reported.$version + 1 };
    return twin.reported.$version;
  }
}
