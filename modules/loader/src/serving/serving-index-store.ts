import { servingIndexFromLegacyPointers, type ConfirmedModelPointer, type RichModelMessage, type ServingEntry, type ServingIndex } from '@edge-ml/contracts';
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

  constructor(private readonly repository: ModelRepository, private readonly logger: Logger) {}

  /**
   * Reads the index; without one (a loader before #16 wrote only the pointers) builds it from the legacy pointers and
   * writes it (migration). Either way the legacy pointers are mirrored again: a crash may have come between the two.
   */
  async load(): Promise<ServingIndex> {
    const stored = await this.repository.readServingIndex();
    if (stored) {
      this.index = stored;
    } else {
      const at = new Date().toISOString();
      const migrated = servingIndexFromLegacyPointers(await this.repository.readAnnounced(), await this.repository.readConfirmed(), at);
      this.index = migrated ?? emptyIndex(at);
      if (migrated) {
        await this.repository.writeServingIndex(migrated);
        this.logger.info({ models: Object.keys(migrated.models), defaultModel: migrated.defaultModel }, 'serving.index.migrated');
      }
    }
    if (Object.keys(this.index.models).length > 0 || stored) await this.mirrorLegacy();
    return this.index;
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
      await this.repository.writeServingIndex(this.index);
      failpoint('index.written');
      await this.mirrorLegacy();
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async mirrorLegacy(): Promise<void> {
    const { announced, confirmed } = legacyPointersOf(this.index);
    if (announced) await this.repository.writeAnnounced(announced);
    else await this.repository.withdrawAnnounced();
    if (confirmed) await this.repository.writeConfirmed(confirmed);
    else await this.repository.withdrawConfirmed();
  }
}
