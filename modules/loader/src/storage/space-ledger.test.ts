import { describe, expect, it } from 'vitest';
import { goesBefore } from '../download/download-room.js';
import { DiskFullError } from '../errors.js';
import { SpaceLedger } from './space-ledger.js';

/** A file system per directory name's first segment, with the free bytes the test sets. */
function ledgerOver(free: Record<string, number>) {
  const probe = { fileSystemOf: async (directory: string) => directory.split('/')[1] ?? '', freeBytesOf: async (directory: string) => free[directory.split('/')[1] ?? ''] ?? 0 };
  return new SpaceLedger(probe);
}

describe('SpaceLedger', () => {
  it('grants a reservation only when the free space less what others still claim covers it', async () => {
    const ledger = ledgerOver({ disk: 10_000 });
    const first = await ledger.reserve('/disk/staging', 6_000, 'a');
    const refused = await ledger.reserve('/disk/staging', 6_000, 'b').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DiskFullError);
    expect((refused as DiskFullError).retryable).toBe(true);
    expect((refused as Error).message).toBe('not enough free space on shared storage: 6000 bytes needed, 4000 free (another 6000 bytes are reserved by other updates in progress; this one waits for them)');
    first.release();
    await expect(ledger.reserve('/disk/staging', 6_000, 'b')).resolves.toMatchObject({ owner: 'b', outstandingBytes: 6_000 });
  });

  it('never lets two concurrent checks count the same free bytes', async () => {
    const ledger = ledgerOver({ disk: 10_000 });
    const results = await Promise.allSettled([ledger.reserve('/disk/a', 6_000, 'a'), ledger.reserve('/disk/b', 6_000, 'b')]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('stops claiming the bytes a holder has written (the free space shows them as used)', async () => {
    const free = { disk: 10_000 };
    const ledger = ledgerOver(free);
    const held = await ledger.reserve('/disk/x', 8_000, 'a');
    held.consume(5_000);
    free.disk = 5_000;
    expect(held.outstandingBytes).toBe(3_000);
    expect(await ledger.unclaimedBytes('/disk/x')).toBe(2_000);
    await expect(ledger.reserve('/disk/x', 2_001, 'b')).rejects.toBeInstanceOf(DiskFullError);
    held.consume(10_000);
    expect(held.outstandingBytes).toBe(0);
  });

  it('keeps file systems apart, and releasing twice is harmless', async () => {
    const ledger = ledgerOver({ one: 1_000, two: 1_000 });
    const a = await ledger.reserve('/one/s', 1_000, 'a');
    await expect(ledger.reserve('/two/s', 1_000, 'b')).resolves.toBeDefined();
    expect(await ledger.holders('/one/x')).toEqual([{ owner: 'a', outstandingBytes: 1_000 }]);
    a.release();
    a.release();
    expect(await ledger.holders('/one/x')).toEqual([]);
    expect(await ledger.holders('/two/x')).toHaveLength(1);
  });

  it('reserves whatever no one claims, up to a most, for a body of undeclared size', async () => {
    const ledger = ledgerOver({ disk: 10_000 });
    await ledger.reserve('/disk/s', 7_000, 'a');
    const capped = await ledger.reserveUpTo('/disk/s', 1_000, 'b');
    expect(capped.grantedBytes).toBe(1_000);
    const rest = await ledger.reserveUpTo('/disk/s', Number.POSITIVE_INFINITY, 'c');
    expect(rest.grantedBytes).toBe(2_000);
    expect((await ledger.reserveUpTo('/disk/s', 5, 'd')).grantedBytes).toBe(0);
  });
});

describe('goesBefore (which waiting download goes first)', () => {
  const own = { file: '/s/b.partial', remainingBytes: 500 };
  it('puts the least left to fetch first, then the name; a verified package (nothing left) before any partial', () => {
    expect(goesBefore(own, [own, { file: '/s/a.partial', remainingBytes: 900 }])).toBeUndefined();
    expect(goesBefore(own, [{ file: '/s/c.partial', remainingBytes: 400 }, { file: '/s/d.partial', remainingBytes: 100 }])).toEqual({ file: '/s/d.partial', remainingBytes: 100 });
    expect(goesBefore(own, [{ file: '/s/a.partial', remainingBytes: 500 }])).toEqual({ file: '/s/a.partial', remainingBytes: 500 });
    expect(goesBefore(own, [{ file: '/s/c.partial', remainingBytes: 500 }])).toBeUndefined();
    expect(goesBefore(own, [{ file: '/s/z.package', remainingBytes: 0 }])?.file).toBe('/s/z.package');
  });
  it('lets exactly one of any set of waiting downloads keep its bytes: no order deadlocks', () => {
    const waiting = [
      { file: '/s/a.partial', remainingBytes: 700 },
      { file: '/s/b.partial', remainingBytes: 300 },
      { file: '/s/c.partial', remainingBytes: 300 },
    ];
    expect(waiting.filter((entry) => goesBefore(entry, waiting) === undefined)).toEqual([{ file: '/s/b.partial', remainingBytes: 300 }]);
  });
});
