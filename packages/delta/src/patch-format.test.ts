import { createHash } from 'node:crypto';
import { brotliCompressSync, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyPatch, createPatch, DIFF_PIECE_BYTES, readPatchInfo } from './binary-patch.js';
import { PatchError } from './patch-error.js';
import { planPatch } from './patch-plan.js';
import { ByteWriter } from './varint.js';
import { noise } from '../test/noise.js';
import { nudgedWeights as weights } from '../test/weights.js';

const prefix = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest().subarray(0, 8);
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** A format-2 patch written by hand: the control words, difference and literal streams exactly as given. */
function handmade(options: { old: Uint8Array; made: Uint8Array; size?: number; control: (writer: ByteWriter) => void; differences?: number[]; literals?: number[]; version?: number; madeHash?: Uint8Array }): Uint8Array {
  const control = new ByteWriter();
  options.control(control);
  const streams = [control.toBytes(), Uint8Array.from(options.differences ?? []), Uint8Array.from(options.literals ?? [])].map((stream) => brotliCompressSync(stream));
  const header = new ByteWriter();
  header.writeUnsigned(options.version ?? 2);
  header.writeUnsigned(options.size ?? options.made.length);
  for (const stream of streams) header.writeUnsigned(stream.length);
  return concat(Buffer.from('EMDP'), prefix(options.old), options.madeHash ?? prefix(options.made), header.toBytes(), ...streams);
}

const COPY = 0;
const DIFF = 1;
const LITERAL = 2;
const old = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80]);

function expectCorrupt(patch: Uint8Array, base: Uint8Array = old): void {
  expect(() => applyPatch(base, patch)).toThrow(PatchError);
}

describe('format-2 patches', () => {
  it('round-trips copies, differences and literals of small files', () => {
    const base = noise(8000);
    const edited = concat(base.subarray(0, 2000), noise(300, 7), base.subarray(2000, 5000), base.subarray(5500));
    for (let index = 100; index < edited.length; index += 997) edited[index] = (edited[index] ?? 0) ^ 0x11;
    expect(applyPatch(base, createPatch(base, edited))).toEqual(edited);
    expect(applyPatch(base, createPatch(base, base))).toEqual(base);
    expect(applyPatch(base, createPatch(base, new Uint8Array(0)))).toEqual(new Uint8Array(0));
    expect(applyPatch(new Uint8Array(0), createPatch(new Uint8Array(0), base))).toEqual(base);
    expect(applyPatch(old, createPatch(old, Uint8Array.from([1, 2, 3])))).toEqual(Uint8Array.from([1, 2, 3]));
  });

  it('round-trips literal bytes followed by differences and copies', () => {
    const base = noise(4000, 5);
    const tail = Uint8Array.from(base.subarray(1000, 2500), (value, index) => (index % 50 === 0 ? value ^ 1 : value));
    const edited = concat(base.subarray(0, 1000), new Uint8Array(1500).fill(7), tail);
    expect(planPatch(base, edited).map((op) => op.kind).slice(0, 4)).toEqual(['copy', 'literal', 'copy', 'diff']);
    expect(applyPatch(base, createPatch(base, edited))).toEqual(edited);
  });

  it('stores fp32 differences lane by lane, smaller than the same differences stored plainly', () => {
    const { before, after } = weights(2048);
    const plain = Uint8Array.from(after, (value, index) => (value - (before[index] ?? 0)) & 0xff);
    const brotli = (bytes: Uint8Array) => brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 22 } }).length;
    const patch = createPatch(before, after);
    expect(applyPatch(before, patch)).toEqual(after);
    expect(patch.length).toBeLessThan(0.95 * brotli(plain));
  });

  it('reads the header of a patch whose streams are damaged, or not there yet', () => {
    const patch = createPatch(old, Uint8Array.from([1, 2, 3]));
    // magic and two hash prefixes (20 bytes), then one-byte varints: version, size and the three stream lengths
    const header = 25;
    const damaged = Buffer.from(patch);
    damaged.fill(0xee, header);
    expect(readPatchInfo(damaged).newSizeBytes).toBe(3);
    expect(readPatchInfo(patch.subarray(0, header)).newSizeBytes).toBe(3);
  });

  it('stores nudged fp32 weights as differences in lanes, well under their compressed new values', () => {
    const { before, after } = weights(2048);
    const base = concat(noise(1024, 2), before, noise(1024, 3));
    const tuned = concat(noise(1024, 2), after, noise(1024, 3));
    const patch = createPatch(base, tuned);
    expect(applyPatch(base, patch)).toEqual(tuned);
    expect(patch.length).toBeLessThan(0.75 * brotliCompressSync(after).length);
  });

  it('splits a difference run longer than 64 KiB into pieces a decoder can hold', () => {
    const base = noise(DIFF_PIECE_BYTES + 100, 12);
    const shifted = Uint8Array.from(base, (value) => (value + 1) & 0xff);
    const patch = createPatch(base, shifted);
    expect(applyPatch(base, patch)).toEqual(shifted);
    expect(patch.length).toBeLessThan(1000);
  });

  it('round-trips differences whose quietest byte lane is any of the four', () => {
    for (const phase of [0, 1, 2, 3]) {
      const base = noise(4096, 11 + phase);
      const edited = Uint8Array.from(base, (value, index) => (index % 4 === phase ? value : (value + 1 + (index % 3)) & 0xff));
      expect(applyPatch(base, createPatch(base, edited)), `phase ${phase}`).toEqual(edited);
    }
  });

  it('reads the header without the base file', () => {
    const edited = concat(old, Uint8Array.from([1, 2]));
    const info = readPatchInfo(createPatch(old, edited));
    expect(info).toEqual({ oldSha256Prefix: Buffer.from(prefix(old)).toString('hex'), newSha256Prefix: Buffer.from(prefix(edited)).toString('hex'), newSizeBytes: 10 });
  });

  it('applies a handmade patch step by step: copy with a relative offset, difference, literal', () => {
    // copy old[2..4), then old[0..3) plus (1, 2, 255), then the literal 99
    const made = Uint8Array.from([30, 40, 11, 22, 29, 99]);
    const patch = handmade({
      old, made,
      control: (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(2); w.writeUnsigned(3 * 4 + DIFF); w.writeSigned(-4); w.writeUnsigned(0); w.writeUnsigned(1 * 4 + LITERAL); },
      differences: [1, 2, 255],
      literals: [99],
    });
    expect(applyPatch(old, patch)).toEqual(made);
  });

  it('undoes lanes: a difference piece stored lane by lane with each phase', () => {
    // Four bytes of differences (1, 2, 3, 4); mode 1 + phase stores position i in lane (i + phase) % 4.
    for (const phase of [0, 1, 2, 3]) {
      const stored = [0, 1, 2, 3].map((lane) => [1, 2, 3, 4][(lane - phase + 4) % 4] ?? 0);
      const made = Uint8Array.from([11, 22, 33, 44]);
      const patch = handmade({ old, made, control: (w) => { w.writeUnsigned(4 * 4 + DIFF); w.writeSigned(0); w.writeUnsigned(1 + phase); }, differences: stored });
      expect(applyPatch(old, patch), `phase ${phase}`).toEqual(made);
    }
  });

  it('refuses what is not a patch, a version it does not read, and a cut header', () => {
    const good = createPatch(old, Uint8Array.from([1, 2, 3]));
    expectCorrupt(Buffer.from('EMDP'));
    expectCorrupt(concat(Buffer.from('XMDP'), good.subarray(4)));
    expect(() => readPatchInfo(good.subarray(0, 19))).toThrow(PatchError);
    expect(() => readPatchInfo(good.subarray(0, 20))).toThrow(PatchError);
    expect(() => readPatchInfo(good.subarray(0, 22))).toThrow(PatchError);
    const version3 = Buffer.from(good);
    version3[20] = 3;
    expect(() => readPatchInfo(version3)).toThrow(PatchError);
    const version0 = Buffer.from(good);
    version0[20] = 0;
    expect(() => readPatchInfo(version0)).toThrow(PatchError);
  });

  it('refuses a patch for another base file, and one whose streams do not decompress', () => {
    const good = createPatch(old, Uint8Array.from([1, 2, 3]));
    expectCorrupt(good, Uint8Array.from([1]));
    const garbled = Buffer.from(good);
    garbled.fill(0xee, 24);
    expectCorrupt(garbled);
  });

  it('refuses a rebuilt file whose checksum is not the one the patch names', () => {
    const made = Uint8Array.from([10, 20]);
    expectCorrupt(handmade({ old, made, madeHash: prefix(Uint8Array.from([1])), control: (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(0); } }));
    expect(applyPatch(old, handmade({ old, made, control: (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(0); } }))).toEqual(made);
  });

  it.each<[string, (w: ByteWriter) => void, Partial<{ size: number; differences: number[]; literals: number[] }>]>([
    ['writes past the end', (w) => { w.writeUnsigned(3 * 4 + COPY); w.writeSigned(0); }, { size: 2 }],
    ['writes past the end with a literal', (w) => { w.writeUnsigned(3 * 4 + LITERAL); }, { size: 2, literals: [1, 2, 3] }],
    ['runs out of literal bytes', (w) => { w.writeUnsigned(2 * 4 + LITERAL); }, { size: 2, literals: [1] }],
    ['has an unknown step', (w) => { w.writeUnsigned(2 * 4 + 3); w.writeSigned(0); }, { size: 2 }],
    ['reads before the old file', (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(-1); }, { size: 2 }],
    ['reads past the old file', (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(7); }, { size: 2 }],
    ['has more than four lanes', (w) => { w.writeUnsigned(2 * 4 + DIFF); w.writeSigned(0); w.writeUnsigned(5); }, { size: 2, differences: [0, 0] }],
    ['runs out of differences', (w) => { w.writeUnsigned(2 * 4 + DIFF); w.writeSigned(0); w.writeUnsigned(0); }, { size: 2, differences: [0] }],
    ['has a cut control word', (w) => { w.writeUnsigned(2 * 4 + COPY); }, { size: 2 }],
    ['leaves the file short', (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(0); }, { size: 3 }],
    ['leaves literal bytes unused', (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(0); }, { size: 2, literals: [1] }],
    ['leaves differences unused', (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(0); }, { size: 2, differences: [1] }],
  ])('refuses a patch that %s', (_what, control, options) => {
    const size = options.size ?? 2;
    expectCorrupt(handmade({ old, made: old.subarray(0, size), control, ...options }));
  });

  it('accepts a copy that reads up to the last old byte, and four lanes', () => {
    const made = Uint8Array.from([70, 80]);
    expect(applyPatch(old, handmade({ old, made, control: (w) => { w.writeUnsigned(2 * 4 + COPY); w.writeSigned(6); } }))).toEqual(made);
    expect(applyPatch(old, handmade({ old, made: Uint8Array.from([10, 20]), control: (w) => { w.writeUnsigned(2 * 4 + DIFF); w.writeSigned(0); w.writeUnsigned(4); }, differences: [0, 0] }))).toEqual(Uint8Array.from([10, 20]));
  });

  it('refuses a difference piece longer than 64 KiB', () => {
    const base = new Uint8Array(DIFF_PIECE_BYTES + 1);
    expectCorrupt(handmade({ old: base, made: base, control: (w) => { w.writeUnsigned((DIFF_PIECE_BYTES + 1) * 4 + DIFF); w.writeSigned(0); w.writeUnsigned(0); }, differences: Array.from(base) }), base);
    const piece = base.subarray(0, DIFF_PIECE_BYTES);
    expect(applyPatch(piece, handmade({ old: piece, made: piece, control: (w) => { w.writeUnsigned(DIFF_PIECE_BYTES * 4 + DIFF); w.writeSigned(0); w.writeUnsigned(0); }, differences: Array.from(piece) }))).toEqual(piece);
  });
});

/** A format-1 patch written by hand: four streams and the flags word. */
function format1(options: { old: Uint8Array; made: Uint8Array; flags: number; control: number[][]; gaps: number[]; values: number[]; extra: number[] }): Uint8Array {
  const control = new ByteWriter();
  for (const row of options.control) {
    row.forEach((value, index) => (index < 2 ? control.writeUnsigned(value) : control.writeSigned(value)));
  }
  const gaps = new ByteWriter();
  for (const gap of options.gaps) gaps.writeUnsigned(gap);
  const streams = [control.toBytes(), gaps.toBytes(), Uint8Array.from(options.values), Uint8Array.from(options.extra)].map((stream) => brotliCompressSync(stream));
  const header = new ByteWriter();
  header.writeUnsigned(1);
  header.writeUnsigned(options.made.length);
  header.writeUnsigned(options.flags);
  for (const stream of streams) header.writeUnsigned(stream.length);
  return concat(Buffer.from('EMDP'), prefix(options.old), prefix(options.made), header.toBytes(), ...streams);
}

describe('format-1 patches', () => {
  // Segment 1: extra (7, 8), then old[1..5) with changes at its 2nd byte and across into segment 2; segment 2: old[6..8).
  const control = [[2, 4, 1], [0, 2, 1]];
  const gaps = [1, 1, 2, 2];

  it('adds differences at the changed positions, which may run across segments', () => {
    const made = Uint8Array.from([7, 8, 20, 31, 40, 50, 71, 90]);
    const patch = format1({ old, made, flags: 0, control, gaps, values: [1, 1, 10], extra: [7, 8] });
    expect(readPatchInfo(patch).newSizeBytes).toBe(8);
    expect(applyPatch(old, patch)).toEqual(made);
  });

  it('writes new values instead when the flag says so', () => {
    const made = Uint8Array.from([7, 8, 20, 1, 40, 50, 2, 3]);
    expect(applyPatch(old, format1({ old, made, flags: 1, control, gaps, values: [1, 2, 3], extra: [7, 8] }))).toEqual(made);
  });

  it('takes extra bytes for each segment in turn', () => {
    const made = Uint8Array.from([1, 10, 20, 2, 3, 30]);
    expect(applyPatch(old, format1({ old, made, flags: 0, control: [[1, 2, 0], [2, 1, 0]], gaps: [], values: [], extra: [1, 2, 3] }))).toEqual(made);
  });

  it('carries a gap between changes on into the next segment', () => {
    // A change at the first byte, then three unchanged bytes (two in this segment, one in the next), then a change.
    const made = Uint8Array.from([11, 20, 30, 40, 52, 60]);
    expect(applyPatch(old, format1({ old, made, flags: 0, control: [[0, 3, 0], [0, 3, 0]], gaps: [0, 1, 3, 1], values: [1, 2], extra: [] }))).toEqual(made);
  });

  it('copies plain segments when there are no changes', () => {
    const made = Uint8Array.from([5, 30, 40, 50]);
    expect(applyPatch(old, format1({ old, made, flags: 0, control: [[1, 3, 2]], gaps: [], values: [], extra: [5] }))).toEqual(made);
  });

  it.each<[string, Partial<Parameters<typeof format1>[0]>]>([
    ['a segment past the end of the file', { control: [[0, 9, 0]], made: old }],
    ['a segment before the old file', { control: [[0, 2, -1]], made: old.subarray(0, 2) }],
    ['a segment past the old file', { control: [[0, 2, 7]], made: old.subarray(0, 2) }],
    ['extra bytes that run out', { control: [[2, 0, 0]], extra: [1], made: Uint8Array.from([1, 0]) }],
    ['values that run out', { control: [[0, 2, 0]], gaps: [0, 2], values: [1], made: Uint8Array.from([11, 21]) }],
    ['a file left short', { control: [[0, 2, 0]], made: old.subarray(0, 3) }],
    ['a cut control stream', { control: [[0, 2]], made: old.subarray(0, 2) }],
  ])('refuses %s', (_what, overrides) => {
    const options = { old, made: old, flags: 0, control: [[0, 8, 0]], gaps: [], values: [], extra: [], ...overrides };
    const patch = format1(options);
    expect(() => applyPatch(old, patch)).toThrow(PatchError);
  });
});

describe('what a patch may make the applier inflate or allocate', () => {
  it('a stream that inflates past what the file it writes can need (a compression bomb) is cut off, not inflated', () => {
    const made = Uint8Array.from([1, 2, 3]);
    // 16 MiB of literal bytes in a few hundred bytes, for a 3-byte file.
    const bomb = handmade({ old, made, control: (writer) => writer.writeUnsigned(3 * 4 + LITERAL), literals: [...new Uint8Array(16 << 20)] });
    expect(bomb.length).toBeLessThan(2_000);
    expect(() => applyPatch(old, bomb)).toThrow(new PatchError('the patch is corrupt (a stream does not decompress)'));
    const bombedControl = handmade({ old, made, control: (writer) => { for (let step = 0; step < 200_000; step += 1) writer.writeUnsigned(0); }, literals: [1, 2, 3] });
    expect(() => applyPatch(old, bombedControl)).toThrow(new PatchError('the patch is corrupt (a stream does not decompress)'));
  });

  it('refuses a patch that writes a file of another size than the caller expects, before inflating anything', () => {
    const made = Uint8Array.from([1, 2, 3]);
    const patch = createPatch(old, made);
    expect(applyPatch(old, patch, { expectedSizeBytes: 3 })).toEqual(made);
    expect(() => applyPatch(old, patch, { expectedSizeBytes: 4 })).toThrow(new PatchError('the patch writes a 3-byte file, not the 4 bytes expected'));
    // A header claiming 4 GiB: refused without allocating it.
    expect(() => applyPatch(old, handmade({ old, made, size: 2 ** 32, control: () => undefined }), { expectedSizeBytes: 3 })).toThrow(/writes a 4294967296-byte file/);
  });
});
