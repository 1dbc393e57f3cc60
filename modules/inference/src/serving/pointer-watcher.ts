import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@edge-ml/edge-kit';

export interface PointerWatcherOptions {
  /** The directory holding the pointer (models/ on shared storage); it may not exist yet. */
  directory: string;
  /** The files watched (the serving index, the legacy pointers); the loader replaces each by rename, which fs.watch reports on the directory. */
  fileNames: readonly string[];
  /** The slow poll that catches what the watch misses (network file systems, a directory created later). */
  pollMs: number;
  /** Reads the pointer and acts on it; never run twice at once. */
  check: () => Promise<void>;
  logger: Logger;
}

/** Calls `check` when a watched file may have changed: on fs.watch events for it, and every `pollMs` regardless. */
export class PointerWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: PointerWatcherOptions) {}

  start(): void {
    this.watchDirectory();
    this.timer = setInterval(() => {
      if (!this.watcher) this.watchDirectory();
      this.trigger();
    }, this.options.pollMs);
    this.timer.unref();
  }

  /** Runs a check now (or right after the one running): for callers that know the pointer may have moved. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.options.check().catch((error: unknown) => this.options.logger.warn({ err: error }, 'model.pointer.check.failed'));
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops watching and polling, and waits for a check in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
    await this.running;
  }

  private watchDirectory(): void {
    try {
      const watcher = watch(this.options.directory, { persistent: false }, (_event, fileName) => {
        // A rename shows up as several events in a row: check once they settle.
        if (fileName !== null && !this.options.fileNames.includes(path.basename(fileName.toString()))) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.trigger(), 50);
      });
      watcher.on('error', (error) => {
        this.options.logger.warn({ err: error, directory: this.options.directory }, 'model.pointer.watch.failed');
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
      this.options.logger.debug({ directory: this.options.directory }, 'model.pointer.watching');
    } catch (error) {
      // Usually ENOENT: the loader has not created models/ yet; the poll retries.
      this.options.logger.debug({ err: error, directory: this.options.directory }, 'model.pointer.watch.unavailable');
    }
  }
}
