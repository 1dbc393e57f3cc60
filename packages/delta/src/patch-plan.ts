/**
 * Plans a patch: which stretches of the new file are exact copies of old bytes, which are old bytes plus a byte-wise
 * difference, and which are literal new bytes. Pure; binary-patch.ts encodes the plan.
 */

/** One step: `copy` old bytes as they are, `diff` old bytes plus differences, or `literal` new bytes. */
export type PatchOp = { kind: 'copy'; length: number; oldStart: number } | { kind: 'diff'; length: number; oldStart: number } | { kind: 'literal'; length: number };

/** Shortest exact copy: 24 measured best on the shifted SSD pair (32: 7,112 bytes, 24: 6,638, 16: 6,876); fine-tune pairs do not depend on it. */
const WINDOW = 24;
const HASH_BITS = 22;
/** Gaps between exact copies are judged in blocks of this size: each block takes the cheapest of literal and the nearby alignments. */
const BLOCK_BYTES = 1024;
/** A switch between encodings must save this share of a block's estimated bits, so that near-ties do not fragment the plan. */
const SWITCH_MARGIN = 0.03;

function hashAt(bytes: Uint8Array, position: number): number {
  let hash = 0x811c9dc5;
  for (let index = position; index < position + WINDOW; index += 1) hash = Math.imul(hash ^ (bytes[index] ?? 0), 0x01000193);
  return (hash >>> 0) >>> (32 - HASH_BITS);
}

interface Anchor {
  newStart: number;
  oldStart: number;
  length: number;
}

/** Exact matches of at least WINDOW bytes, in new-file order, preferring to continue the previous alignment. */
function findAnchors(oldBytes: Uint8Array, newBytes: Uint8Array): Anchor[] {
  const anchors: Anchor[] = [];
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent, with a file shorter than a window no window matches; this only spares the table.
  if (oldBytes.length < WINDOW || newBytes.length < WINDOW) return anchors;
  // Stryker disable next-line UnaryOperator: equivalent, every position the table gives is compared byte by byte (sameWindow).
  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  for (let position = 0; position + WINDOW <= oldBytes.length; position += 1) table[hashAt(oldBytes, position)] = position;
  const sameWindow = (oldAt: number, newAt: number) => {
    if (oldAt < 0 || oldAt + WINDOW > oldBytes.length) return false;
    for (let index = 0; index < WINDOW; index += 1) if (oldBytes[oldAt + index] !== newBytes[newAt + index]) return false;
    return true;
  };
  let covered = 0;
  let delta = 0;
  let position = 0;
  while (position + WINDOW <= newBytes.length) {
    const continued = position + delta;
    // Stryker disable next-line UnaryOperator: equivalent, the typed array always holds the index, so the fallbacks never apply.
    const oldAt = sameWindow(continued, position) ? continued : sameWindow(table[hashAt(newBytes, position)] ?? -1, position) ? (table[hashAt(newBytes, position)] ?? -1) : -1;
    if (oldAt < 0) {
      position += 1;
      continue;
    }
    let back = 0;
    while (position - back > covered && oldAt - back > 0 && oldBytes[oldAt - back - 1] === newBytes[position - back - 1]) back += 1;
    let forward = WINDOW;
    while (position + forward < newBytes.length && oldAt + forward < oldBytes.length && oldBytes[oldAt + forward] === newBytes[position + forward]) forward += 1;
    anchors.push({ newStart: position - back, oldStart: oldAt - back, length: back + forward });
    covered = position + forward;
    delta = oldAt - position;
    position = covered;
  }
  return anchors;
}

/** Estimated compressed bits of a byte histogram (order-0 entropy). */
function entropyBits(histogram: Uint32Array, total: number): number {
  let bits = 0;
  for (const count of histogram) if (count > 0) bits -= count * Math.log2(count / total);
  return bits;
}

function literalBits(newBytes: Uint8Array, start: number, end: number): number {
  const histogram = new Uint32Array(256);
  for (let index = start; index < end; index += 1) histogram[newBytes[index] ?? 0]! += 1;
  return entropyBits(histogram, end - start);
}

function diffBits(oldBytes: Uint8Array, newBytes: Uint8Array, start: number, end: number, delta: number): number {
  if (start + delta < 0 || end + delta > oldBytes.length) return Infinity;
  const histogram = new Uint32Array(256);
  for (let index = start; index < end; index += 1) histogram[((newBytes[index] ?? 0) - (oldBytes[index + delta] ?? 0)) & 0xff]! += 1;
  return entropyBits(histogram, end - start);
}

/** Appends an op, merging it into the previous one when it continues it (same kind, and for old bytes the same alignment). */
function push(ops: PatchOp[], op: PatchOp): void {
  if (op.length === 0) return;
  const last = ops.at(-1);
  const continues = last?.kind === op.kind && (op.kind === 'literal' || (last.kind !== 'literal' && last.oldStart + last.length === op.oldStart));
  if (last && continues) {
    last.length += op.length;
    return;
  }
  ops.push({ ...op });
}

/**
 * Fills the gap [start, end) of the new file between two exact copies: block by block, the cheapest by estimated
 * entropy of literal bytes and of differences against each candidate alignment (old = new + delta).
 */
function planGap(ops: PatchOp[], oldBytes: Uint8Array, newBytes: Uint8Array, start: number, end: number, deltas: number[]): void {
  let previous: number | 'literal' = deltas[0] ?? 'literal';
  for (let blockStart = start; blockStart < end; blockStart += BLOCK_BYTES) {
    const blockEnd = Math.min(end, blockStart + BLOCK_BYTES);
    const costs = new Map<number | 'literal', number>([['literal', literalBits(newBytes, blockStart, blockEnd)]]);
    for (const delta of deltas) if (!costs.has(delta)) costs.set(delta, diffBits(oldBytes, newBytes, blockStart, blockEnd, delta));
    let choice = previous;
    const kept = costs.get(previous) ?? Infinity;
    for (const [candidate, bits] of costs) if (bits < kept - SWITCH_MARGIN * 8 * (blockEnd - blockStart) && bits < (costs.get(choice) ?? Infinity)) choice = candidate;
    if (!Number.isFinite(costs.get(choice) ?? Infinity)) choice = 'literal';
    push(ops, choice === 'literal' ? { kind: 'literal', length: blockEnd - blockStart } : { kind: 'diff', length: blockEnd - blockStart, oldStart: blockStart + choice });
    previous = choice;
  }
}

/** The plan that rebuilds `newBytes` from `oldBytes`: exact copies where WINDOW or more bytes match, and each gap block encoded as cheaply as estimated. */
export function planPatch(oldBytes: Uint8Array, newBytes: Uint8Array): PatchOp[] {
  const anchors = findAnchors(oldBytes, newBytes);
  const ops: PatchOp[] = [];
  let covered = 0;
  // The alignment of the last long copy: a fine-tuned tensor sits between copies at that alignment.
  let mainDelta: number | undefined;
  for (let index = 0; index <= anchors.length; index += 1) {
    const anchor = anchors[index];
    const gapEnd = anchor ? anchor.newStart : newBytes.length;
    const before = anchors[index - 1];
    const deltas = [before && before.oldStart - before.newStart, anchor && anchor.oldStart - anchor.newStart, mainDelta, 0].filter((delta): delta is number => delta !== undefined);
    planGap(ops, oldBytes, newBytes, covered, gapEnd, deltas);
    if (!anchor) break;
    push(ops, { kind: 'copy', length: anchor.length, oldStart: anchor.oldStart });
    if (anchor.length >= 1024) mainDelta = anchor.oldStart - anchor.newStart;
    covered = anchor.newStart + anchor.length;
  }
  return ops;
}
