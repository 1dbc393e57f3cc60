export { applyPatch, createPatch, PatchError, readPatchInfo, type PatchInfo } from './binary-patch.js';
export {
  CHUNK_AVERAGE_BYTES,
  CHUNK_HASH_BYTES,
  chunkBytes,
  chunkKey,
  decodeChunkList,
  encodeChunkList,
  indexChunks,
  planChunkAssembly,
  type Chunk,
  type ChunkList,
  type ChunkSource,
} from './chunking.js';
