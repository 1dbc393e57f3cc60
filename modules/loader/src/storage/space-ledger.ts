import { stat } from 'node:fs/promises';
import { DiskFullError } from '../errors.js';
import { freeBytesOf } from './disk-space.js';

/** How the ledger sees a file system: which one holds a directory, and what is free on it. */
export interface SpaceProbe {
  fileSystemOf(directory: string): Promise<string>;
  freeBytesOf(directory: string): Promise<number>;
}

const nodeProbe: SpaceProbe = {
  fileSystemOf: async (directory) => String((await stat(directory)).dev),
  freeBytesOf,
};

/** Room on a file system that one download or extraction holds, from its free-space check until it ends. */
export interface SpaceReservation {
  /** Who holds it (a staging path), for the log and the waiting rule. */
  readonly owner: string;
  /** Bytes still claimed: those reserved, less those already written (which the free space then shows as used). */
  readonly outstandingBytes: number;
  /** `bytes` more of the reservation now lie on disk: they stop being claimed. */
  consume(bytes: number): void;
  /** Ends the reservation (finished or failed); releasing twice is harmless. */
  release(): void;
}

class Claim implements SpaceReservation {
  private consumed = 0;
  constructor(
    readonly owner: string,
    private readonly bytes: number,
    private readonly onRelease: (claim: Claim) => void,
  ) {}
  get outstandingBytes(): number {
    return Math.max(0, this.bytes - this.consumed);
  }
  consume(bytes: number): void {
    this.consumed += Math.max(0, bytes);
  }
  release(): void {
    this.onRelease(this);
  }
}

/** Bytes the claims on one file system still hold. */
const outstandingOf = (claims: Iterable<Claim> | undefined) => [...(claims ?? [])].reduce((sum, claim) => sum + claim.outstandingBytes, 0);

/**
 * The free space this process has promised, per file system. Entries reconcile concurrently, so a free-space check
 * that looked at the disk alone would let two downloads each count the same free bytes (both start, both run out,
 * each keeps its partial, and neither ever fits again). A reservation is granted only when the free space, less what
 * every other reservation on that file system still claims, covers it; the check and the claim happen without an
 * `await` between them, so two concurrent checks never both count the same bytes.
 */
export class SpaceLedger {
  private readonly claims = new Map<string, Set<Claim>>();

  constructor(private readonly probe: SpaceProbe = nodeProbe) {}

  /** Reserves `bytes` on the file system of `directory` for `owner`; a retryable DiskFullError when they do not fit. */
  async reserve(directory: string, bytes: number, owner: string): Promise<SpaceReservation> {
    return (await this.claim(directory, owner, (unclaimed, heldBytes) => {
      const needed = Math.max(0, Math.ceil(bytes));
      if (unclaimed < needed) throw new DiskFullError(needed, unclaimed, { heldBytes });
      return needed;
    })).reservation;
  }

  /** Reserves whatever no one claims, `maxBytes` at most (a body of undeclared size); `grantedBytes` may be 0. */
  async reserveUpTo(directory: string, maxBytes: number, owner: string): Promise<{ reservation: SpaceReservation; grantedBytes: number }> {
    const granted = await this.claim(directory, owner, (unclaimed) => Math.max(0, Math.min(unclaimed, Math.floor(maxBytes))));
    return { reservation: granted.reservation, grantedBytes: granted.bytes };
  }

  private async claim(directory: string, owner: string, decide: (unclaimedBytes: number, heldBytes: number) => number): Promise<{ reservation: SpaceReservation; bytes: number }> {
    const fileSystem = await this.probe.fileSystemOf(directory);
    const freeBytes = await this.probe.freeBytesOf(directory);
    // No await from here on: the sum and the claim are one step.
    const held = this.claims.get(fileSystem) ?? new Set<Claim>();
    const heldBytes = outstandingOf(held);
    const needed = decide(Math.max(0, freeBytes - heldBytes), heldBytes);
    const claim = new Claim(owner, needed, (released) => {
      held.delete(released);
      if (held.size === 0 && this.claims.get(fileSystem) === held) this.claims.delete(fileSystem);
    });
    held.add(claim);
    this.claims.set(fileSystem, held);
    return { reservation: claim, bytes: needed };
  }

  /** The reservations held now on the file system of `directory` (other downloads and extractions in progress). */
  async holders(directory: string): Promise<{ owner: string; outstandingBytes: number }[]> {
    const held = this.claims.get(await this.probe.fileSystemOf(directory));
    return [...(held ?? [])].map((claim) => ({ owner: claim.owner, outstandingBytes: claim.outstandingBytes }));
  }

  /** Free bytes on the file system of `directory` that no reservation claims. */
  async unclaimedBytes(directory: string): Promise<number> {
    const fileSystem = await this.probe.fileSystemOf(directory);
    const freeBytes = await this.probe.freeBytesOf(directory);
    return Math.max(0, freeBytes - outstandingOf(this.claims.get(fileSystem)));
  }
}

/** The one ledger of this process: every download and extraction of every entry reserves through it. */
export const spaceLedger = new SpaceLedger();
