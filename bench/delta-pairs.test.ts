import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyPatch, createPatch } from '@edge-ml/delta';
import { groupPath } from './chunk-path-options.js';
import { headFineTune } from './fixtures/head-finetune.js';

const models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../testdata/models');
const read = (name: string) => readFile(path.join(models, name));

/** What the loader's chunk path puts on the wire for `next` on a device holding `held` (its own planning code). */
function chunkCost(held: Uint8Array, next: Uint8Array) {
  const cost = groupPath(held, next);
  expect(cost.groupsRefetched).toBe(0);
  return cost.total;
}

describe('delta pairs (the issue\'s test pairs, both paths)', () => {
  it('the same version needs nothing: the patch is a header, every chunk is held', async () => {
    const ssd = await read('ssd_mobilenet_v1_coco_quant_detect.tflite');
    expect(createPatch(ssd, ssd).length).toBeLessThan(100);
    expect(groupPath(ssd, ssd)).toMatchObject({ hashes: 0, missing: 0, requests: 0 });
  });

  it('the SSD pair (metadata added, layout shifted): a patch of a few KiB, chunks under 5 % of the file', async () => {
    const [plain, withMetadata] = await Promise.all([read('ssd_mobilenet_v1_coco_quant_detect.tflite'), read('ssd_mobilenet_v1_1_metadata_1.tflite')]);
    const patch = createPatch(plain, withMetadata);
    expect(Buffer.from(applyPatch(plain, patch)).equals(withMetadata)).toBe(true);
    expect(patch.length).toBeLessThan(9_000);
    expect(chunkCost(plain, withMetadata) / withMetadata.length).toBeLessThan(0.05);
  });

  it('the head-only fine-tune: both paths within 1.1 x the changed tensor bytes + 1 % of the file', async () => {
    const original = await read('yolox_nano.onnx');
    const tuned = await headFineTune();
    expect(tuned.changedTensors).toHaveLength(6);
    const bound = 1.1 * tuned.changedBytes + 0.01 * tuned.bytes.length;
    const patch = createPatch(original, tuned.bytes);
    expect(Buffer.from(applyPatch(original, patch)).equals(tuned.bytes)).toBe(true);
    expect(patch.length).toBeLessThan(bound);
    expect(chunkCost(original, tuned.bytes)).toBeLessThan(bound);
  });

  it('unrelated models: the patch is no bigger than compressing the file, and chunks are costlier than the package', async () => {
    const [yolox, ssd] = await Promise.all([read('yolox_nano.onnx'), read('ssd_mobilenet_v1_coco_quant_detect.tflite')]);
    const { brotliCompressSync, constants } = await import('node:zlib');
    const compressed = brotliCompressSync(ssd, { params: { [constants.BROTLI_PARAM_QUALITY]: 9 } }).length;
    const patch = createPatch(yolox, ssd);
    expect(Buffer.from(applyPatch(yolox, patch)).equals(ssd)).toBe(true);
    expect(patch.length).toBeLessThan(compressed * 1.02);
    expect(chunkCost(yolox, ssd)).toBeGreaterThan(ssd.length * 0.9);
  }, 180_000);
});
