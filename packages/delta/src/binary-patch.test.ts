import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyPatch, createPatch, PatchError, readPatchInfo } from './index.js';

const models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../testdata/models');
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const ssdPlain = readFileSync(path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
const ssdWithMetadata = readFileSync(path.join(models, 'ssd_mobilenet_v1_1_metadata_1.tflite'));

describe('binary patches', () => {
  it('rebuilds the SSD file with metadata from the plain one with a patch of a few KiB', () => {
    const patch = createPatch(ssdPlain, ssdWithMetadata);
    expect(patch.length).toBeLessThan(10_000);
    expect(Buffer.from(applyPatch(ssdPlain, patch)).equals(ssdWithMetadata)).toBe(true);
    expect(readPatchInfo(patch).newSizeBytes).toBe(ssdWithMetadata.length);
  });

  it('handles scattered byte changes, insertions and deletions, and empty files', () => {
    const base = Buffer.from(ssdPlain.subarray(0, 200_000));
    const changed = Buffer.concat([base.subarray(0, 50_000), Buffer.from('inserted bytes'), base.subarray(50_000, 120_000), base.subarray(130_000)]);
    for (let index = 1_000; index < changed.length; index += 7_919) changed[index] = (changed[index] ?? 0) ^ 0x55;
    expect(Buffer.from(applyPatch(base, createPatch(base, changed))).equals(changed)).toBe(true);
    expect(applyPatch(base, createPatch(base, Buffer.alloc(0))).length).toBe(0);
    expect(Buffer.from(applyPatch(Buffer.alloc(0), createPatch(Buffer.alloc(0), base))).equals(base)).toBe(true);
  });

  it('still applies format-1 patches, which manifests published before format 2 name', () => {
    const format1 = readFileSync(path.join(fixtures, 'ssd-metadata.format-1.patch'));
    expect(format1[20]).toBe(1);
    expect(Buffer.from(applyPatch(ssdPlain, format1)).equals(ssdWithMetadata)).toBe(true);
    expect(readPatchInfo(format1).newSizeBytes).toBe(ssdWithMetadata.length);
  });

  it('stores nudged fp32 weights as differences, well under the size of their new values', () => {
    const base = Buffer.from(ssdPlain.subarray(0, 300_000));
    const tuned = Buffer.from(base);
    const weights = new Float32Array(20_000).map((_, index) => Math.sin(index) * 0.1);
    const nudged = weights.map((value, index) => value * (1 + 0.01 * Math.cos(index * 7.3)));
    Buffer.from(weights.buffer).copy(base, 100_001);
    Buffer.from(nudged.buffer).copy(tuned, 100_001);
    Buffer.from(base.subarray(0, 100_001)).copy(tuned, 0);
    const patch = createPatch(base, tuned);
    expect(Buffer.from(applyPatch(base, patch)).equals(tuned)).toBe(true);
    const { brotliCompressSync } = zlib;
    expect(patch.length).toBeLessThan(0.8 * brotliCompressSync(Buffer.from(nudged.buffer)).length);
  });

  it('round-trips seeded random edits: inserts, deletes, moves, nudged and replaced runs, at any alignment', () => {
    let state = 7;
    const random = (below: number) => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state % below;
    };
    for (let round = 0; round < 12; round += 1) {
      const base = Buffer.from(ssdPlain.subarray(random(1_000_000), 1_000_000 + random(200_000)));
      let edited = Buffer.from(base);
      for (let edit = 0; edit < 1 + random(6); edit += 1) {
        const at = random(edited.length + 1);
        const length = 1 + random(5_000);
        const kind = random(5);
        if (kind === 0) edited = Buffer.concat([edited.subarray(0, at), Buffer.from(Array.from({ length }, () => random(256))), edited.subarray(at)]);
        else if (kind === 1) edited = Buffer.concat([edited.subarray(0, at), edited.subarray(at + length)]);
        else if (kind === 2) edited = Buffer.concat([edited.subarray(0, at), base.subarray(random(base.length), random(base.length) + length), edited.subarray(at)]);
        else for (let index = at; index < Math.min(edited.length, at + length); index += 1) edited[index] = kind === 3 ? ((edited[index] ?? 0) + random(5) - 2) & 0xff : random(256);
      }
      expect(Buffer.from(applyPatch(base, createPatch(base, edited))).equals(edited), `round ${round}`).toBe(true);
    }
  });

  it('refuses to patch another base file', () => {
    const patch = createPatch(ssdPlain, ssdWithMetadata);
    expect(() => applyPatch(ssdWithMetadata, patch)).toThrow(PatchError);
    expect(() => applyPatch(ssdWithMetadata, patch)).toThrow(/another version/);
  });

  it('detects corrupt and truncated patches with a typed error, never a wrong file', () => {
    const patch = createPatch(ssdPlain, ssdWithMetadata);
    for (let position = 40; position < patch.length; position += Math.floor(patch.length / 25)) {
      const corrupt = Buffer.from(patch);
      corrupt[position] = (corrupt[position] ?? 0) ^ 0xff;
      expect(() => applyPatch(ssdPlain, corrupt), `byte ${position}`).toThrow(PatchError);
    }
    expect(() => applyPatch(ssdPlain, patch.subarray(0, patch.length - 100))).toThrow(PatchError);
    expect(() => applyPatch(ssdPlain, Buffer.from('not a patch at all'))).toThrow(/magic/);
  });
});

describe('content-defined chunks', () => {
  it('finds all but a few percent of the SSD pair in the old file, and round-trips the chunk list', async () => {
    const { decodeChunkList, encodeChunkList, indexChunks, planChunkAssembly } = await import('./index.js');
    const list = decodeChunkList(encodeChunkList(ssdWithMetadata));
    expect(list.chunks.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(ssdWithMetadata.length);
    const plan = planChunkAssembly(list, indexChunks([ssdPlain]));
    const missing = plan.ranges.reduce((sum, range) => sum + range.end - range.start, 0);
    expect(missing / ssdWithMetadata.length).toBeLessThan(0.05);
    expect(plan.reused + missing).toBe(ssdWithMetadata.length);
    expect(() => decodeChunkList(encodeChunkList(ssdPlain).subarray(0, 100))).toThrow(PatchError);
  });
});
