import { PatchError } from './patch-error.js';
import { ByteReader } from './varint.js';

/** Format 1's flag: the value stream holds new bytes rather than differences. */
const FLAG_NEW_VALUES = 1;

/**
 * Rebuilds a file from a format-1 patch (written by publishers before format 2; manifests already published may
 * name one): segments of literal bytes then old bytes, with the changed positions inside old bytes stored as gaps
 * and run lengths, and their differences or new values.
 */
export function rebuildFormat1(oldBytes: Uint8Array, newSizeBytes: number, flags: number, streams: Uint8Array[]): Uint8Array {
  const [controlBytes, gapBytes, values, extra] = streams as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const newValues = (flags & FLAG_NEW_VALUES) !== 0;
  const control = new ByteReader(controlBytes);
  const gaps = new ByteReader(gapBytes);
  const output = new Uint8Array(newSizeBytes);
  let written = 0;
  let extraAt = 0;
  let valueAt = 0;
  let oldCursor = 0;
  try {
    // Changes are positions within the concatenated segments: the next one is `untilChange` copied bytes away.
    let untilChange = gaps.done ? Infinity : gaps.readUnsigned();
    let changeLength = Number.isFinite(untilChange) ? gaps.readUnsigned() : 0;
    while (!control.done) {
      const extraLength = control.readUnsigned();
      const diffLength = control.readUnsigned();
      const oldStart = oldCursor + control.readSigned();
      // Stryker disable next-line ConditionalExpression,ArithmeticOperator,EqualityOperator: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
      if (written + extraLength + diffLength > output.length || extraAt + extraLength > extra.length || oldStart < 0 || oldStart + diffLength > oldBytes.length) {
        throw new PatchError('the patch is corrupt (a segment runs out of bounds)');
      }
      output.set(extra.subarray(extraAt, extraAt + extraLength), written);
      written += extraLength;
      extraAt += extraLength;
      output.set(oldBytes.subarray(oldStart, oldStart + diffLength), written);
      let index = 0;
      while (index < diffLength) {
        if (untilChange > 0) {
          const skip = Math.min(untilChange, diffLength - index);
          untilChange -= skip;
          index += skip;
          continue;
        }
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
        if (valueAt >= values.length) throw new PatchError('the patch is corrupt (values run out)');
        const value = values[valueAt++] ?? 0;
        output[written + index] = newValues ? value : ((oldBytes[oldStart + index] ?? 0) + value) & 0xff;
        index += 1;
        changeLength -= 1;
        if (changeLength === 0) {
          untilChange = gaps.done ? Infinity : gaps.readUnsigned();
          changeLength = Number.isFinite(untilChange) ? gaps.readUnsigned() : 0;
        }
      }
      written += diffLength;
      oldCursor = oldStart + diffLength;
    }
    // Stryker disable next-line BlockStatement: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
  } catch (error) {
    throw error instanceof PatchError ? error : new PatchError('the patch is corrupt (control stream)');
  }
  // Stryker disable next-line ConditionalExpression: equivalent, the checksum of the rebuilt file (checked after) refuses the same patch with the same PatchError; this names the fault sooner.
  if (written !== output.length) throw new PatchError('the patch is corrupt (it does not rebuild the whole file)');
  return output;
}
