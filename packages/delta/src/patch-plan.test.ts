import { brotliCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyPatch, createPatch } from './binary-patch.js';
import { blockCosts, chooseEncoding, entropyBits, planPatch, type BlockEncoding } from './patch-plan.js';
import { noise } from '../test/noise.js';
import { nudgedWeights as weights } from '../test/weights.js';

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const histogramOf = (bytes: number[]) => {
  const histogram = new Uint32Array(256);
  for (const byte of bytes) histogram[byte]! += 1;
  return histogram;
};

describe('entropyBits', () => {
  it('estimates order-0 entropy: nothing for one repeated byte, 1 bit a byte for two equally frequent ones, 8 for all 256', () => {
    expect(entropyBits(histogramOf([7, 7, 7, 7]), 4)).toBe(0);
    expect(entropyBits(histogramOf([1, 2, 1, 2]), 4)).toBeCloseTo(4, 9);
    expect(entropyBits(histogramOf(Array.from({ length: 512 }, (_, index) => index % 256)), 512)).toBeCloseTo(8 * 512, 6);
  });
});

describe('blockCosts', () => {
  const base = noise(2000, 21);

  it('estimates literal bytes from the block alone', () => {
    const edited = concat(new Uint8Array(1000).fill(7), Uint8Array.from({ length: 256 }, (_, index) => index), noise(100, 22));
    expect(blockCosts(base, edited, 0, 1000, []).get('literal')).toBe(0);
    expect(blockCosts(base, edited, 1000, 1256, []).get('literal')).toBeCloseTo(8 * 256, 6);
  });

  it('estimates differences against the old file at each alignment (old = new + delta)', () => {
    // new[0..500) is old[300..800): nothing to store at alignment 300; the byte after the block differs.
    const edited = concat(base.subarray(300, 800), noise(100, 23));
    const costs = blockCosts(base, edited, 0, 500, [300, 0]);
    expect(costs.get(300)).toBe(0);
    expect(costs.get(0)).toBeGreaterThan(7 * 500);
    // Differences of equal bytes are zero whatever the bytes are.
    expect(blockCosts(base, base, 100, 600, [0]).get(0)).toBe(0);
  });

  it('rules out an alignment that reads before or past the old file, and allows one that reads up to its edges', () => {
    const edited = noise(3000, 24);
    const costs = blockCosts(base, edited, 100, 600, [-101, -100, 1400, 1401]);
    expect(costs.get(-101)).toBe(Infinity);
    expect(costs.get(-100)).toBeLessThan(Infinity);
    expect(costs.get(1400)).toBeLessThan(Infinity);
    expect(costs.get(1401)).toBe(Infinity);
  });

  it('lists literal first, then each alignment once, in the order given', () => {
    expect([...blockCosts(base, base, 0, 100, [5, 0, 5, 0]).keys()]).toEqual(['literal', 5, 0]);
  });
});

describe('chooseEncoding', () => {
  const costs = (...entries: [BlockEncoding, number][]) => new Map(entries);
  // A block of 1000 bytes holds 8000 raw bits; a switch must save 3 % of them, 240 bits.
  it('keeps the previous encoding unless another saves 3 % of the block’s raw bits', () => {
    expect(chooseEncoding(costs(['literal', 8000], [5, 5000], [0, 4800]), 5, 1000)).toBe(5);
    expect(chooseEncoding(costs(['literal', 8000], [5, 5000], [0, 4700]), 5, 1000)).toBe(0);
    expect(chooseEncoding(costs(['literal', 2000], [5, 5000], [0, 4700]), 5, 1000)).toBe('literal');
    // The margin scales with the block: 240 bits are 6 % of a 500-byte block's raw bits.
    expect(chooseEncoding(costs(['literal', 8000], [5, 2500], [0, 2300]), 5, 500)).toBe(0);
    expect(chooseEncoding(costs(['literal', 8000], [5, 2500], [0, 2400]), 5, 500)).toBe(5);
  });

  it('leaves an encoding that cannot be used for the cheapest', () => {
    expect(chooseEncoding(costs(['literal', 900], [5, Infinity], [0, 890]), 5, 1000)).toBe(0);
  });

  it('takes the earlier of two equally cheap encodings: literal bytes, then the alignments in order', () => {
    expect(chooseEncoding(costs(['literal', 100], [5, 100], [0, 1000]), 0, 1000)).toBe('literal');
    expect(chooseEncoding(costs(['literal', 1000], [5, 100], [0, 100]), 'literal', 1000)).toBe(5);
  });
});

describe('planPatch', () => {
  const lengthOf = (ops: ReturnType<typeof planPatch>) => ops.reduce((sum, op) => sum + op.length, 0);

  it('copies an unchanged file whole, and writes a new one as literal bytes', () => {
    const base = noise(5000);
    expect(planPatch(base, base)).toEqual([{ kind: 'copy', length: 5000, oldStart: 0 }]);
    expect(planPatch(new Uint8Array(0), base)).toEqual([{ kind: 'literal', length: 5000 }]);
    expect(planPatch(base, new Uint8Array(0))).toEqual([]);
  });

  it('finds moved stretches as copies at their old offsets, and inserted bytes as literals', () => {
    const base = noise(6000);
    const edited = concat(base.subarray(3000, 6000), noise(500, 9), base.subarray(0, 3000));
    const ops = planPatch(base, edited);
    expect(ops).toEqual([
      { kind: 'copy', length: 3000, oldStart: 3000 },
      { kind: 'literal', length: 500 },
      { kind: 'copy', length: 3000, oldStart: 0 },
    ]);
  });

  it('keeps adjacent copies from different places apart', () => {
    const base = noise(4000);
    const swapped = concat(base.subarray(2000), base.subarray(0, 2000));
    expect(planPatch(base, swapped)).toEqual([
      { kind: 'copy', length: 2000, oldStart: 2000 },
      { kind: 'copy', length: 2000, oldStart: 0 },
    ]);
    expect(applyPatch(base, createPatch(base, swapped))).toEqual(swapped);
  });

  it('copies a match of 24 bytes or more, and leaves a shorter one to the gap', () => {
    const base = noise(4000);
    const with24 = concat(noise(1000, 5), base.subarray(2000, 2024), noise(1000, 6));
    expect(planPatch(base, with24).filter((op) => op.kind === 'copy')).toEqual([{ kind: 'copy', length: 24, oldStart: 2000 }]);
    const with23 = concat(noise(1000, 5), base.subarray(2000, 2023), noise(1000, 6));
    expect(planPatch(base, with23).filter((op) => op.kind === 'copy')).toEqual([]);
  });

  it('finds a 24-byte match at the very start or the very end of the old file, and at the very end of the new one', () => {
    const base = noise(1000);
    const copies = (edited: Uint8Array) => planPatch(base, edited).filter((op) => op.kind === 'copy');
    expect(copies(concat(noise(500, 5), base.subarray(0, 24), noise(500, 6)))).toEqual([{ kind: 'copy', length: 24, oldStart: 0 }]);
    expect(copies(concat(noise(500, 5), base.subarray(976), noise(500, 6)))).toEqual([{ kind: 'copy', length: 24, oldStart: 976 }]);
    expect(copies(concat(noise(500, 5), base.subarray(300, 324)))).toEqual([{ kind: 'copy', length: 24, oldStart: 300 }]);
  });

  it('extends a match backwards when its first window hashes like a later, different window of the old file', () => {
    // The planner's window hash (FNV-1a over 24 bytes, top 22 bits), written out here to find a collision: the table
    // then holds the later window, the match is found one byte in, and must be extended back over its first byte.
    const hashAt = (bytes: Uint8Array, position: number) => {
      let hash = 0x811c9dc5;
      for (let index = position; index < position + 24; index += 1) hash = Math.imul(hash ^ (bytes[index] ?? 0), 0x01000193);
      return (hash >>> 0) >>> 10;
    };
    const base = noise(8000, 31);
    const seen = new Map<number, number>();
    let pair: [number, number] | undefined;
    for (let position = 0; position + 24 <= base.length && !pair; position += 1) {
      const earlier = seen.get(hashAt(base, position));
      if (earlier !== undefined && position - earlier >= 24 && earlier >= 300) pair = [earlier, position];
      else seen.set(hashAt(base, position), position);
    }
    expect(pair).toBeDefined();
    const [first] = pair!;
    const edited = concat(noise(200, 77), base.subarray(first, first + 100), noise(200, 78));
    expect(planPatch(base, edited)).toContainEqual({ kind: 'copy', length: 100, oldStart: first });
    expect(applyPatch(base, createPatch(base, edited))).toEqual(edited);

    // The extension stops at the first pair of bytes that differ, though a byte one further along would match: the
    // byte before the stretch in the new file equals the stretch's second byte, or the one before it in the old file does.
    const second = base[first + 1]!;
    expect(base[first - 1]).not.toBe(second);
    const decoyNew = Uint8Array.from(edited);
    decoyNew[199] = second;
    const decoyOld = Uint8Array.from(base);
    decoyOld[first - 1] = second;
    expect(edited[199]).not.toBe(second);
    for (const [old, made] of [[base, decoyNew], [decoyOld, edited]] as const) {
      expect(planPatch(old, made)).toContainEqual({ kind: 'copy', length: 100, oldStart: first });
      expect(applyPatch(old, createPatch(old, made))).toEqual(made);
    }
  });

  it('extends a match forwards to the end of both files', () => {
    const base = noise(1000);
    const edited = concat(noise(100, 5), base.subarray(900));
    expect(planPatch(base, edited)).toContainEqual({ kind: 'copy', length: 100, oldStart: 900 });
    expect(applyPatch(base, createPatch(base, edited))).toEqual(edited);
  });

  it('extends a match backwards and forwards to its whole length', () => {
    const base = noise(4000);
    const edited = concat(noise(100, 8), base.subarray(1000, 1500), noise(100, 9));
    expect(planPatch(base, edited)).toContainEqual({ kind: 'copy', length: 500, oldStart: 1000 });
  });

  it('stores nudged bytes between copies as differences at the copies’ alignment', () => {
    const { before, after } = weights(2048);
    const head = noise(2000, 2);
    const tail = noise(2000, 3);
    const ops = planPatch(concat(noise(50, 1), head, before, tail), concat(head, after, tail));
    // The copies may reach a few bytes into the weights where a nudge left them equal.
    expect(ops[0]).toMatchObject({ kind: 'copy', oldStart: 50 });
    const last = ops.at(-1);
    expect(last?.kind === 'copy' && last.oldStart + last.length).toBe(50 + 2000 + before.length + 2000);
    const middle = ops.slice(1, -1);
    expect(middle.every((op) => op.kind !== 'literal')).toBe(true);
    expect(lengthOf(middle)).toBeGreaterThan(after.length - 64);
    expect(middle.filter((op) => op.kind === 'diff').every((op) => op.kind === 'diff' && op.oldStart >= 2050)).toBe(true);
  });

  it('plans exactly the length of the new file', () => {
    const base = noise(10_000);
    const edited = concat(base.subarray(0, 4000), noise(1500, 4), base.subarray(4100, 9000));
    expect(lengthOf(planPatch(base, edited))).toBe(edited.length);
  });

  it('copies a run of zero bytes that the old file also holds', () => {
    const base = noise(1000);
    base.fill(0, 300, 400);
    const edited = concat(noise(500, 5), new Uint8Array(100), noise(500, 6));
    const copies = planPatch(base, edited).filter((op) => op.kind === 'copy');
    expect(copies.length).toBeGreaterThan(0);
    expect(copies.every((op) => op.oldStart >= 300 && op.oldStart + op.length <= 400)).toBe(true);
  });

  it('starts a copy where the previous one ends, even when the byte before it matches there too', () => {
    const base = noise(4000);
    // The byte before the second stretch's source equals the last byte of the first stretch.
    base[999] = base[2999]!;
    const swapped = concat(base.subarray(2000, 3000), base.subarray(1000, 2000));
    expect(planPatch(base, swapped)).toEqual([
      { kind: 'copy', length: 1000, oldStart: 2000 },
      { kind: 'copy', length: 1000, oldStart: 1000 },
    ]);
  });

  it('continues at the alignment of the previous copy after a changed byte, when the old file holds the same bytes twice', () => {
    const twice = noise(300, 40);
    const base = concat(noise(500, 41), twice, noise(500, 42), twice, noise(500, 43));
    // Ten bytes inserted at the start, and a byte changed in the first of the two equal stretches.
    const edited = concat(noise(10, 44), base);
    edited[10 + 600] = (edited[10 + 600] ?? 0) ^ 0xff;
    const ops = planPatch(base, edited);
    expect(ops.slice(1)).toEqual([
      { kind: 'copy', length: 600, oldStart: 0 },
      { kind: 'diff', length: 1, oldStart: 600 },
      { kind: 'copy', length: 1499, oldStart: 601 },
    ]);
    expect(applyPatch(base, createPatch(base, edited))).toEqual(edited);
  });

  it('writes bytes inserted before the first copy as literals, never as differences before the old file', () => {
    const base = noise(3000, 3);
    const edited = concat(noise(16, 4), base);
    expect(planPatch(base, edited)).toEqual([
      { kind: 'literal', length: 16 },
      { kind: 'copy', length: 3000, oldStart: 0 },
    ]);
    expect(applyPatch(base, createPatch(base, edited))).toEqual(edited);
  });

  it('stores a fine-tuned tensor after a short copy as differences at that copy’s alignment, in one step', () => {
    const { before, after } = weights(2048);
    const head = noise(500, 50);
    const next = noise(600, 51);
    const base = concat(noise(3000, 52), next, noise(1000, 53), head, before, noise(1000, 54));
    const edited = concat(noise(300, 55), head, after, next, noise(300, 56));
    const tensorAt = 3000 + 600 + 1000 + 500;
    const ops = planPatch(base, edited);
    const diffs = ops.filter((op) => op.kind === 'diff' && op.oldStart >= tensorAt && op.oldStart < tensorAt + before.length);
    expect(diffs).toHaveLength(1);
    expect(lengthOf(diffs)).toBeGreaterThan(before.length - 64);
    const patch = createPatch(base, edited);
    expect(applyPatch(base, patch)).toEqual(edited);
    expect(patch.length).toBeLessThan(0.75 * brotliCompressSync(after).length);
  });

  it('tries the alignment of the last copy of 1 KiB or more for a fine-tuned tensor between short copies from elsewhere', () => {
    const { before, after } = weights(2048);
    const long = noise(1024, 60);
    const first = noise(100, 61);
    const second = noise(100, 62);
    // Old: the long stretch, 100 other bytes, the tensor; the short stretches sit elsewhere. New: 50 new bytes, the long
    // stretch, a short one, the tuned tensor (at the long stretch's alignment), the other short one.
    const base = concat(noise(1000, 63), long, noise(100, 69), before, noise(500, 65), first, noise(500, 66), second, noise(500, 67));
    const edited = concat(noise(50, 68), long, first, after, second);
    const ops = planPatch(base, edited);
    expect(ops).toContainEqual({ kind: 'copy', length: 1024, oldStart: 1000 });
    const tensorAt = 1000 + 1024 + 100;
    expect(ops.filter((op) => op.kind === 'diff' && op.oldStart >= tensorAt - 8 && op.oldStart < tensorAt + 8)).toHaveLength(1);
    const patch = createPatch(base, edited);
    expect(applyPatch(base, patch)).toEqual(edited);
    expect(patch.length).toBeLessThan(0.75 * brotliCompressSync(after).length);
  });
});
