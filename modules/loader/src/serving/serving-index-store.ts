import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, SERVING_INDEX, servingIndexFromLegacyPointers, type ConfirmedModelPointer, type RichModelMessage, type ServingEntry, type ServingIndex } from '@edge-ml/contracts';
import type { Logger } from '@edge-ml/edge-kit';
import { failpoint } from '../failpoint.js';
import type { ModelRepository } from '../repository/model-repository.js';
import { emptyIndex, legacyPointersOf, servedDefault, withAnnounced, withConfirmed, withDefault, withoutConfirmed, withoutEntry } from './index-changes.js';

/**
 * The one writer of the serving index. Changes are applied in memory at once and written in order, one at a time
 * (entries reconcile concurrently): the index first, atomically, then the legacy pointers mirrored from it. The loader
 * alone writes the index, so memory and file agree once a change's promise resolves.
 */
export class ServingIndexStore {
  private index: ServingIndex = emptyIndex(new Date().toISOString());
  private writing: Promise<void> = Promise.resolve();
  /** The default model the desired state names; written with the next change, or at once when it changes what is served by default. */
  private desiredDefault: string | null | undefined;
  /** Whether models/serving.json was read or written by this store (an index never written is not missing). */
  private onDisk = false;

  constructor(private readonly repository: ModelRepository, private readonly logger: Logger) {}

  /**
   * Reads the index; without a readable one builds it from the legacy pointers (a loader before #16 wrote only those:
   * migration) plus `rebuild`, the entries the loader's own state and the repository show (the index was deleted or
   * corrupted), and writes it. Either way the legacy pointers are mirrored again: a crash may have come between the two.
   */
  async load(rebuild?: (index: ServingIndex, at: string) => Promise<ServingIndex>): Promise<ServingIndex> {
    const stored = await this.repository.readServingIndex();
    if (stored) {
      this.index = stored;
      this.onDisk = true;
    } else {
      const at = new Date().toISOString();
      const migrated = servingIndexFromLegacyPointers(await this.repository.readAnnounced(), await this.repository.readConfirmed(), at);
      const base = migrated ?? emptyIndex(at);
      this.index = rebuild ? await rebuild(base, at) : base;
      if (Object.keys(this.index.models).length > 0) {
        await this.removeNonFile(SERVING_INDEX);
        await this.repository.writeServingIndex(this.index);
        this.onDisk = true;
        this.logger.info({ models: Object.keys(this.index.models), defaultModel: this.index.defaultModel, fromLegacyPointers: migrated !== undefined }, 'serving.index.migrated');
      }
    }
    if (Object.keys(this.index.models).length > 0 || stored) await this.mirrorLegacy();
    return this.index;
  }

  /**
   * Compares models/serving.json and the legacy pointers with what this writer last wrote, and rewrites whatever is
   * missing, unparseable, not a file or different (someone deleted or edited it). Runs behind pending writes, so it
   * never races one. Returns the files repaired (none when all agree).
   */
  verifyOnDisk(): Promise<string[]> {
    const run = this.writing.then(async () => {
      const repaired: string[] = [];
      if (this.onDisk && !isDeepStrictEqual(await this.readRaw(SERVING_INDEX), toJson(this.index))) {
        await this.removeNonFile(SERVING_INDEX);
        await this.repository.writeServingIndex(this.index);
        repaired.push(SERVING_INDEX);
      }
      const { announced, confirmed } = legacyPointersOf(this.index);
      for (const [file, expected] of [[ANNOUNCED_MODEL_POINTER, announced], [CONFIRMED_MODEL_POINTER, confirmed]] as const) {
        const onDisk = await this.readRaw(file);
        if (expected === undefined ? onDisk === ABSENT : isDeepStrictEqual(onDisk, toJson(expected))) continue;
        await this.removeNonFile(file);
        repaired.push(file);
      }
      if (repaired.some((file) => file !== SERVING_INDEX)) await this.mirrorLegacy();
      if (repaired.length > 0) this.logger.warn({ repaired, models: Object.keys(this.index.models) }, 'serving.index.repaired');
      return repaired;
    });
    this.writing = run.then(() => undefined, () => undefined);
    return run;
  }

  /** A file's JSON as it is on disk; ABSENT when there is none, INVALID when it is not a file of JSON. */
  private async readRaw(file: string): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(path.join(this.repository.root, file), 'utf8');
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT' ? ABSENT : INVALID;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return INVALID;
    }
  }

  /** A directory (or anything but a file) where a pointer belongs would make every atomic rename onto it fail. */
  private async removeNonFile(file: string): Promise<void> {
    const full = path.join(this.repository.root, file);
    const info = await stat(full).catch(() => undefined);
    if (info && !info.isFile()) await rm(full, { recursive: true, force: true });
  }

  get current(): ServingIndex {
    return this.index;
  }

  entry(name: string): ServingEntry | undefined {
    return this.index.models[name];
  }

  names(): string[] {
    return Object.keys(this.index.models).sort();
  }

  setAnnounced(message: RichModelMessage): Promise<void> {
    return this.change((index, at) => withAnnounced(index, message, at));
  }

  setConfirmed(pointer: ConfirmedModelPointer): Promise<void> {
    return this.change((index, at) => withConfirmed(index, pointer, at));
  }

  withdrawConfirmed(name: string): Promise<void> {
    return this.change((index, at) => withoutConfirmed(index, name, at));
  }

  /** Drops the entry: the inference module unloads it. */
  withdraw(name: string): Promise<void> {
    return this.change((index, at) => withoutEntry(index, name, at));
  }

  /**
   * Records the desired default model. The index names it at once when that changes which model the inference module
   * serves by default (servedDefault); otherwise with the next change of an entry, so that a desired state that ends
   * up changing nothing served (an invalid model) rewrites nothing.
   */
  setDefault(defaultModel: string | null): Promise<void> {
    this.desiredDefault = defaultModel;
    const next = withDefault(this.index, defaultModel, this.index.updatedAt);
    if (servedDefault(next) === servedDefault(this.index)) return this.writing;
    return this.change((index) => index);
  }

  private change(apply: (index: ServingIndex, at: string) => ServingIndex): Promise<void> {
    const at = new Date().toISOString();
    const changed = apply(this.index, at);
    const next = this.desiredDefault === undefined ? changed : withDefault(changed, this.desiredDefault, at);
    if (next === this.index) return this.writing;
    this.index = next;
    const run = this.writing.then(async () => {
      // The newest document, whichever change queued it: later changes supersede earlier writes.
      await this.removeNonFile(SERVING_INDEX);
      await this.repository.writeServingIndex(this.index);
      this.onDisk = true;
      failpoint('index.written');
      await this.mirrorLegacy();
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async mirrorLegacy(): Promise<void> {
    await this.removeNonFile(ANNOUNCED_MODEL_POINTER);
    await this.removeNonFile(CONFIRMED_MODEL_POINTER);
    const { announced, confirmed } = legacyPointersOf(this.index);
    if (announced) await this.repository.writeAnnounced(announced);
    else await this.repository.withdrawAnnounced();
    if (confirmed) await this.repository.writeConfirmed(confirmed);
    else await this.repository.withdrawConfirmed();
  }
}

const ABSENT = Symbol('absent');
const INVALID = Symbol('invalid');

/** A document as its JSON file reads back (undefined fields dropped). */
const toJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
