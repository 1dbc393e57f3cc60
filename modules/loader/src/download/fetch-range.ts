import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ByteRange } from '@edge-ml/delta';
import { writeFileAtomic } from '@edge-ml/edge-kit';
import { RedirectRefusedError, TransferError } from '../errors.js';
import { BodyTooLargeError, EncodedBodyError, fetchBounded } from './fetch-bounded.js';
import { PatchPathUnavailable } from './fetch-by-patch.js';
import type { TransferGuards } from './guarded-get.js';

/**
 * One byte range of a blob, exactly, under the transfer guards of every download (idle timeout, stall rule, redirect
 * policy). 5xx, network failures and stalls are TransferErrors (retry later: the link is the problem); another status,
 * a refused redirect, or a body of another length make the chunk path unavailable (use the full package).
 * `wholeBlobIsRange`: a 200 is accepted as well, for a blob that is the range (a list fetched from its start).
 */
export async function fetchRange(url: string, range: ByteRange, what: string, guards: TransferGuards & { signal: AbortSignal }, wholeBlobIsRange = false): Promise<Buffer> {
  const name = `${what} bytes ${range.start}-${range.end}`;
  // An empty range cannot be asked for (it would read `bytes=0--1`); the lists' decoders never plan one.
  if (!(range.end > range.start)) throw new PatchPathUnavailable(`an empty range was planned: ${name}`);
  let response: { statusCode: number; body: Buffer };
  try {
    response = await fetchBounded(url, { headers: { range: `bytes=${range.start}-${range.end - 1}` }, limitBytes: range.end - range.start, ...guards });
  } catch (error) {
    if (error instanceof TransferError) throw error;
    if (error instanceof BodyTooLargeError) throw new PatchPathUnavailable(`the blob sent more than ${name}`);
    if (error instanceof EncodedBodyError) throw new PatchPathUnavailable(`${name}: ${error.message}`);
    if (error instanceof RedirectRefusedError) throw new PatchPathUnavailable(`the redirect for ${name} was refused: ${error.reason}`);
    throw new TransferError(`${name} could not be fetched: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (response.statusCode >= 500) throw new TransferError(`HTTP ${response.statusCode} for ${name}`);
  if (response.statusCode !== 206 && !(wholeBlobIsRange && response.statusCode === 200)) throw new PatchPathUnavailable(`the blob answered HTTP ${response.statusCode} to a range request for ${name}`);
  if (response.body.length !== range.end - range.start) throw new PatchPathUnavailable(`the blob sent ${response.body.length} bytes for ${name}`);
  return response.body;
}

/**
 * Ranges fetched for one update, kept in its staging directory under their kind and bounds (written atomically), so
 * that a restart takes them from disk instead of the link. What they hold is checked where they are used.
 */
export class RangeStage {
  private held: Set<string> | undefined;
  constructor(private readonly directory: string) {}

  private async names(): Promise<Set<string>> {
    if (!this.held) {
      await mkdir(this.directory, { recursive: true });
      this.held = new Set(await readdir(this.directory));
    }
    return this.held;
  }

  /** The stored bytes of `range`, when a previous run stored them whole. */
  async read(kind: string, range: ByteRange): Promise<Buffer | undefined> {
    const name = `${kind}${range.start}-${range.end}`;
    if (!(await this.names()).has(name)) return undefined;
    const data = await readFile(path.join(this.directory, name)).catch(() => undefined);
    return data?.length === range.end - range.start ? data : undefined;
  }

  async store(kind: string, range: ByteRange, data: Uint8Array): Promise<void> {
    await this.names();
    await writeFileAtomic(path.join(this.directory, `${kind}${range.start}-${range.end}`), data);
  }
}

/**
 * Runs `work` on every item, at most `parallelism` at a time. After the first failure no further item is started, the
 * items already running are let finish (so that nothing of the run goes on after it, writing to staging or counting
 * bytes), and then the first failure rejects.
 */
export async function forEachParallel<T>(items: readonly T[], parallelism: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined && !failure; item = queue.shift()) {
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, worker));
  if (failure) throw failure.error;
}
