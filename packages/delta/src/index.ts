export { applyPatch, createPatch, PatchError, readPatchInfo, type PatchInfo } from './binary-patch.js';
