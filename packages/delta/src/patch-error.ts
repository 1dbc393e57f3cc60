/** A patch or chunk list that is corrupt, truncated or meant for another file. */
export class PatchError extends Error {
  readonly code = 'DELTA_PATCH_INVALID';
}
