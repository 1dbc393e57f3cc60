import { describeTwinKeyViolation, findTwinKeyViolation } from '@edge-ml/contracts';
import { applyMergePatch } from '@edge-ml/edge-kit';

/** IoT Hub's error code for a request whose body breaks its rules (400004 ArgumentInvalid). */
export const HUB_ARGUMENT_INVALID = 400004;

/** A twin patch the hub would refuse whole: one of its keys breaks the hub's rules (twinKeyProblem). */
export class TwinKeyRefusedError extends Error {
  readonly code = 'TWIN_KEY_INVALID';
  readonly hubErrorCode = HUB_ARGUMENT_INVALID;

  constructor(
    readonly section: 'desired' | 'reported',
    reason: string,
  ) {
    super(`the ${section} properties patch is refused: ${reason}`);
    this.name = 'TwinKeyRefusedError';
  }
}

/** Refuses a patch as the hub does when any key at any depth is not a valid twin key; the top-level $version and $metadata are the hub's own. */
function assertTwinKeys(section: 'desired' | 'reported', patch: Record<string, unknown>): void {
  const violation = findTwinKeyViolation(patch, { hubMetadata: true });
  if (violation) throw new TwinKeyRefusedError(section, describeTwinKeyViolation(violation));
}

export interface TwinDocument {
  desired: Record<string, unknown> & { $version: number };
  reported: Record<string, unknown> & { $version: number };
}

/** Hub metadata ($version, $metadata) is the store's, never the patch's. */
function withoutMetadata(patch: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(patch).filter(([key]) => key !== '$version' && key !== '$metadata'));
}

/**
 * Module twins with versioned desired and reported properties, patched by JSON merge patch as IoT Hub does. A patch
 * with a key the hub refuses (`.`, `$`, space, control characters, over 1 KB) throws TwinKeyRefusedError and changes
 * nothing.
 */
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
    assertTwinKeys('desired', patch);
    const twin = this.get(module);
    twin.desired = { ...applyMergePatch(twin.desired, withoutMetadata(patch)), $version: twin.desired.$version + 1 };
    return twin.desired.$version;
  }

  patchReported(module: string, patch: Record<string, unknown>): number {
    assertTwinKeys('reported', patch);
    const twin = this.get(module);
    twin.reported = { ...applyMergePatch(twin.reported, withoutMetadata(patch)), $version: twin.reported.$version + 1 };
    return twin.reported.$version;
  }
}
