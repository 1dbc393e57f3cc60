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
    // Stryker disable next-line ConditionalExpression,LogicalOperator,ArithmeticOperator: equivalent, without the guard a window reaching before or past the old file compares `undefined` with a byte of the new one (newAt's window lies inside it), which fails; the guard spares the reads, and its boundaries (EqualityOperator) are tested.
    if (oldAt < 0 || oldAt + WINDOW > oldBytes.length) return false;
    for (let index = 0; index < WINDOW; index += 1) if (oldBytes[oldAt + index] !== newBytes[newAt + index]) return false;
    return true;
  };
  let covered = 0;
  let delta = 0;
  let position = 0;
  // Stryker disable next-line ArithmeticOperator: equivalent, a window reaching past the new file compares `undefined` with old bytes in sameWindow and matches nothing; this only ends the scan sooner.
  while (position + WINDOW <= newBytes.length) {
    const continued = position + delta;
    // Stryker disable next-line UnaryOperator: equivalent, the typed array always holds the index, so the fallbacks never apply.
    const oldAt = sameWindow(continued, position) ? continued : sameWindow(table[hashAt(newBytes, position)] ?? -1, position) ? (table[hashAt(newBytes, position)] ?? -1) : -1;
    if (oldAt < 0) {
      position += 1;
      continue;
    }
    // Back over bytes not yet covered (the previous copy keeps its own), forward to the end of either file.
    const backLimit = Math.min(position - covered, oldAt);
    let back = 0;
    while (back < backLimit && oldBytes[oldAt - back - 1] === newBytes[position - back - 1]) back += 1;
    // Stryker disable next-line MethodExpression,ArithmeticOperator: equivalent, a read past the end of either file is `undefined` and equals no byte of the other, so the comparison below stops there too; the limit spares those reads.
    const forwardLimit = Math.min(newBytes.length - position, oldBytes.length - oldAt);
    let forward = WINDOW;
    while (forward < forwardLimit && oldBytes[oldAt + forward] === newBytes[position + forward]) forward += 1;
    anchors.push({ newStart: position - back, oldStart: oldAt - back, length: back + forward });
    covered = position + forward;
    delta = oldAt - position;
    position = covered;
  }
  return anchors;
}

/** Estimated compressed bits of a byte histogram holding `total` bytes (order-0 entropy). */
export function entropyBits(histogram: Uint32Array, total: number): number {
  let bits = 0;
  for (const count of histogram) if (count > 0) bits -= count * Math.log2(count / total);
  return bits;
}

/** How a gap block is stored: as literal bytes, or as differences against the old file at an alignment (old = new + delta). */
export type BlockEncoding = number | 'literal';

/**
 * Estimated bits of each way to store the block [start, end) of the new file: literal bytes first, then differences
 * at each alignment in `deltas` (Infinity where that alignment reads outside the old file).
 */
export function blockCosts(oldBytes: Uint8Array, newBytes: Uint8Array, start: number, end: number, deltas: readonly number[]): Map<BlockEncoding, number> {
  const literal = new Uint32Array(256);
  for (let index = start; index < end; index += 1) literal[newBytes[index] ?? 0]! += 1;
  const costs = new Map<BlockEncoding, number>([['literal', entropyBits(literal, end - start)]]);
  for (const delta of new Set(deltas)) {
    if (start + delta < 0 || end + delta > oldBytes.length) {
      costs.set(delta, Infinity);
      continue;
    }
    const differences = new Uint32Array(256);
    for (let index = start; index < end; index += 1) differences[((newBytes[index] ?? 0) - (oldBytes[index + delta] ?? 0)) & 0xff]! += 1;
    costs.set(delta, entropyBits(differences, end - start));
  }
  return costs;
}

/**
 * The encoding of a block of `blockBytes` bytes: the cheapest (the earlier in `costs` on a tie) if it saves
 * SWITCH_MARGIN of the block's raw bits over `previous`, the encoding of the block before; otherwise `previous`, so that
 * near-ties do not fragment the plan.
 */
export function chooseEncoding(costs: ReadonlyMap<BlockEncoding, number>, previous: BlockEncoding, blockBytes: number): BlockEncoding {
  const [cheapest, cheapestBits] = [...costs].reduce((best, entry) => (entry[1] < best[1] ? entry : best));
  const kept = costs.get(previous) ?? Infinity;
  return cheapestBits < kept - SWITCH_MARGIN * 8 * blockBytes ? cheapest : previous;
}

/** Appends an op, merging it into the previous one when it continues it (same kind, and for old bytes the same alignment). */
function push(ops: PatchOp[], op: PatchOp): void {
  const last = ops.at(-1);
  const continues = last !== undefined && (last.kind === 'literal' ? op.kind === 'literal' : op.kind === last.kind && last.oldStart + last.length === op.oldStart);
  if (continues) {
    last.length += op.length;
    return;
  }
  ops.push({ ...op });
}

/**
 * Fills the gap [start, end) of the new file between two exact copies: block by block, the cheapest by estimated
 * entropy of literal bytes and of differences against each candidate alignment, starting from the first alignment.
 */
function planGap(ops: PatchOp[], oldBytes: Uint8Array, newBytes: Uint8Array, start: number, end: number, deltas: readonly [...number[], number]): void {
  let previous: BlockEncoding = deltas[0];
  for (let blockStart = start; blockStart < end; blockStart += BLOCK_BYTES) {
    const blockBytes = Math.min(end - blockStart, BLOCK_BYTES);
    const choice = chooseEncoding(blockCosts(oldBytes, newBytes, blockStart, blockStart + blockBytes, deltas), previous, blockBytes);
    push(ops, choice === 'literal' ? { kind: 'literal', length: blockBytes } : { kind: 'diff', length: blockBytes, oldStart: blockStart + choice });
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
    const deltas = [before && before.oldStart - before.newStart, anchor && anchor.oldStart - anchor.newStart, mainDelta].filter((delta): delta is number => delta !== undefined);
    planGap(ops, oldBytes, newBytes, covered, gapEnd, [...deltas, 0]);
    if (!anchor) break;
    push(ops, { kind: 'copy', length: anchor.length, oldStart: anchor.oldStart });
    if (anchor.length >= 1024) mainDelta = anchor.oldStart - anchor.newStart;
    covered = anchor.newStart + anchor.length;
  }
  return ops;
}
