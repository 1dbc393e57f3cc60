import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { applyPatch, createPatch } from '@edge-ml/delta';
import { fineTunePairs, mobilenetHeadRetrain, ssdSparseRegions, testModel, yoloxSparseRegions, yoloxNoise, type FineTunePair } from './fixtures/finetune-pairs.js';

/** Every byte outside the pair's regions is the original's, and the file keeps its size. */
async function expectOnlyRegionsChanged(pair: FineTunePair) {
  const original = await readFile(testModel(pair.from));
  expect(pair.bytes.length).toBe(original.length);
  const inside = new Uint8Array(original.length);
  for (const region of pair.regions) inside.fill(1, region.offset, region.offset + region.length);
  let changedOutside = 0;
  for (let index = 0; index < original.length; index += 1) if (inside[index] === 0 && original[index] !== pair.bytes[index]) changedOutside += 1;
  expect(changedOutside).toBe(0);
  return original;
}

const meanAndDeviation = (values: number[]) => {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return { mean, deviation: Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length) };
};

describe('fine-tune fixtures are what they claim', () => {
  for (const count of [1, 8] as const) {
    it(`YOLOX: ${count} fp32 tensor(s), each weight scaled by 1 + N(0, 0.01)`, async () => {
      const pair = await yoloxNoise(count);
      const original = await expectOnlyRegionsChanged(pair);
      expect(pair.regions).toHaveLength(count);
      const ratios: number[] = [];
      for (const region of pair.regions) {
        expect(region.length).toBeGreaterThanOrEqual(count === 1 ? 100_000 : 65_536);
        for (let at = region.offset; at < region.offset + region.length; at += 4) {
          const before = original.readFloatLE(at);
          if (Math.abs(before) > 1e-6) ratios.push(pair.bytes.readFloatLE(at) / before);
        }
      }
      const { mean, deviation } = meanAndDeviation(ratios);
      expect(Math.abs(mean - 1)).toBeLessThan(0.001);
      expect(deviation).toBeGreaterThan(0.0095);
      expect(deviation).toBeLessThan(0.0105);
    });
  }

  it('MobileNet quant: the uint8 weights of Conv_1 and Logits moved by round(N(0, 2))', async () => {
    const pair = await mobilenetHeadRetrain();
    const original = await expectOnlyRegionsChanged(pair);
    expect(pair.regions.map((region) => region.name.split('/')[1])).toEqual(['Conv_1', 'Logits']);
    expect(pair.regions.map((region) => region.length)).toEqual([1280 * 320, 1001 * 1280]);
    const moves: number[] = [];
    for (const region of pair.regions) {
      for (let at = region.offset; at < region.offset + region.length; at += 1) {
        const after = pair.bytes[at] ?? 0;
        if (after !== 0 && after !== 255) moves.push(after - (original[at] ?? 0));
      }
    }
    const { mean, deviation } = meanAndDeviation(moves);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(deviation).toBeGreaterThan(1.95);
    expect(deviation).toBeLessThan(2.1);
  });

  it.each([['SSD', ssdSparseRegions], ['YOLOX', yoloxSparseRegions]] as const)('%s: ten scattered, non-overlapping 4 KiB regions of random bytes', async (_model, make) => {
    const pair = await make();
    const original = await expectOnlyRegionsChanged(pair);
    expect(pair.regions).toHaveLength(10);
    const sorted = [...pair.regions].sort((a, b) => a.offset - b.offset);
    sorted.forEach((region, index) => {
      expect(region.length).toBe(4096);
      if (index > 0) expect(region.offset).toBeGreaterThan((sorted[index - 1]?.offset ?? 0) + 4096 + 100_000);
      let differing = 0;
      for (let at = region.offset; at < region.offset + region.length; at += 1) if (pair.bytes[at] !== original[at]) differing += 1;
      expect(differing / region.length).toBeGreaterThan(0.98);
    });
  });

  it('are deterministic: the same seed makes the same bytes', async () => {
    for (const make of Object.values(fineTunePairs)) expect((await make()).bytes.equals((await make()).bytes)).toBe(true);
  });
});

/** Patch sizes well under what bsdiff needs (measured in docs/delta-updates.md), as a share of the changed bytes. */
const PATCH_BOUND_SHARE: Record<keyof typeof fineTunePairs, number> = {
  'YOLOX: 1 fp32 tensor x (1 + N(0, 0.01))': 0.65,
  'YOLOX: 8 fp32 tensors x (1 + N(0, 0.01))': 0.65,
  'MobileNet quant: last layers + N(0, 2)': 0.42,
  'SSD: 10 sparse 4 KiB regions replaced': 1.03,
  'YOLOX: 10 sparse 4 KiB regions replaced': 1.03,
};

describe('patches of the fine-tune pairs', () => {
  for (const [label, make] of Object.entries(fineTunePairs) as [keyof typeof fineTunePairs, () => Promise<FineTunePair>][]) {
    it(`${label}: round-trips, in under ${PATCH_BOUND_SHARE[label]} x the changed bytes`, async () => {
      const pair = await make();
      const original = await readFile(testModel(pair.from));
      const patch = createPatch(original, pair.bytes);
      expect(Buffer.from(applyPatch(original, patch)).equals(pair.bytes)).toBe(true);
      const changedBytes = pair.regions.reduce((sum, region) => sum + region.length, 0);
      expect(patch.length).toBeLessThan(PATCH_BOUND_SHARE[label] * changedBytes);
    }, 120_000);
  }
});
