export interface TwinDocument {
  desired: Record<string, unknown> & { $version: number };
  reported: Record<string, unknown> & { $version: number };
}

function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else if (typeof value === 'object' && !Array.isArray(value)) {
      const base = result[key];
      result[key] = mergePatch(typeof base === 'object' && base !== null && !Array.isArray(base) ? (base as Record<string, unknown>) : {}, value as Record<string, unknown>);
    } else result[key] = value;
  }
  return result;
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
    twin.desired = { ...mergePatch(twin.desired, patch), $version: twin.desired.$version + 1 };
    return twin.desired.$version;
  }

  patchReported(module: string, patch: Record<string, unknown>): number {
    const twin = this.get(module);
    twin.reported = { ...mergePatch(twin.reported, patch), $version: twin.reported.$version + 1 };
    return twin.reported.$version;
  }
}
