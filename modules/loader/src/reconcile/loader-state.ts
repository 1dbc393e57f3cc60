import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { EntryStateSchema, LoaderStateSchema, type EntryState, type LoaderState } from '@edge-ml/contracts';
import { writeJsonAtomic, type Logger } from '@edge-ml/edge-kit';

export type { EntryState, LoaderState };

const EMPTY: LoaderState = LoaderStateSchema.parse({});
const EMPTY_ENTRY: EntryState = EntryStateSchema.parse({});

/** How many confirmed versions per model name the history keeps (rollback walks it back). */
const HISTORY_LIMIT = 20;

/**
 * The loader's own state on shared storage (.loader/state.json), written atomically after every change. Entries
 * reconcile concurrently: a change is applied in memory at once and the writes run one at a time, each writing the
 * newest state.
 */
export class LoaderStateStore {
  private readonly file: string;
  private state: LoaderState = structuredClone(EMPTY);
  private writing: Promise<void> = Promise.resolve();

  constructor(root: string, private readonly logger?: Logger) {
    this.file = path.join(root, '.loader', 'state.json');
  }

  /** Reads the state; a file that does not parse (torn, foreign, newer) is moved aside and the loader starts empty. */
  async load(): Promise<LoaderState> {
    await mkdir(path.dirname(this.file), { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      this.state = structuredClone(EMPTY);
      return this.state;
    }
    let parsed: ReturnType<typeof LoaderStateSchema.safeParse> | undefined;
    try {
      parsed = LoaderStateSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success) {
      this.state = parsed.data;
    } else {
      const aside = `${this.file}.invalid-${Date.now()}`;
      await rename(this.file, aside).catch(() => undefined);
      this.logger?.warn({ file: aside, issues: parsed?.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.')}: ${issue.message}`) }, 'loader.state.invalid');
      this.state = structuredClone(EMPTY);
    }
    return this.state;
  }

  get current(): LoaderState {
    return this.state;
  }

  /** One model's state (its defaults when the loader keeps none). */
  entry(name: string): EntryState {
    return this.state.entries[name] ?? EMPTY_ENTRY;
  }

  /** Changes the shared fields and, in the same write, one entry's (so that a verdict and its entry's awaiting change together). */
  async update(change: Partial<Omit<LoaderState, 'entries'>>, entry?: { name: string; change: Partial<EntryState> }): Promise<void> {
    const entries = entry ? { ...this.state.entries, [entry.name]: { ...this.entry(entry.name), ...entry.change } } : this.state.entries;
    this.state = { ...this.state, ...change, entries };
    await this.persist();
  }

  async updateEntry(name: string, change: Partial<EntryState>): Promise<void> {
    this.state = { ...this.state, entries: { ...this.state.entries, [name]: { ...this.entry(name), ...change } } };
    await this.persist();
  }

  /** Forgets a model's state (its versions were removed); its verdicts and confirmation history stay. */
  async forgetEntry(name: string): Promise<void> {
    if (!(name in this.state.entries)) return;
    const { [name]: _forgotten, ...entries } = this.state.entries;
    this.state = { ...this.state, entries };
    await this.persist();
  }

  /**
   * Caps the file's growth: verdicts of versions no longer installed go (a version is only ever judged while installed;
   * a rejection that blocks a target is kept in `rejections`, and its verdict with it), and so do confirmation history
   * entries of versions no longer installed (rollback and recovery walk installed versions only); the per-name history
   * limit stays. Only records older than `before` (when the installed list was read) are dropped, so a version
   * installed and judged meanwhile keeps its verdict.
   */
  async prune(installedKeys: Set<string>, before: string): Promise<void> {
    const blocked = new Set(this.state.rejections.map((block) => block.key));
    const keep = (key: string, at: string) => installedKeys.has(key) || blocked.has(key) || at >= before;
    const verdicts = Object.fromEntries(Object.entries(this.state.verdicts).filter(([key, record]) => keep(key, record.at)));
    const confirmations = Object.fromEntries(
      Object.entries(this.state.confirmations)
        .map(([name, history]) => [name, history.filter((entry) => keep(`${name}@${entry.version}#${entry.modelSha256}`, entry.confirmedAt))] as const)
        .filter(([, history]) => history.length > 0),
    );
    const removed = Object.keys(this.state.verdicts).length - Object.keys(verdicts).length + countHistory(this.state.confirmations) - countHistory(confirmations);
    if (removed === 0) return;
    this.state = { ...this.state, verdicts, confirmations };
    this.logger?.info({ removed }, 'loader.state.pruned');
    await this.persist();
  }

  private persist(): Promise<void> {
    const run = this.writing.then(() => writeJsonAtomic(this.file, this.state));
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** The change that records a confirmation: verdict and per-name history (first confirmation keeps its place). */
  confirmation(version: { name: string; version: string; key: string; modelSha256: string }, at: string): Partial<Omit<LoaderState, 'entries'>> {
    const history = this.state.confirmations[version.name] ?? [];
    const known = history.some((entry) => entry.version === version.version && entry.modelSha256 === version.modelSha256);
    const next = known ? history : [...history.filter((entry) => entry.version !== version.version), { version: version.version, modelSha256: version.modelSha256, confirmedAt: at }].slice(-HISTORY_LIMIT);
    return {
      verdicts: { ...this.state.verdicts, [version.key]: { verdict: 'confirmed', at } },
      confirmations: { ...this.state.confirmations, [version.name]: next },
    };
  }
}

const countHistory = (confirmations: LoaderState['confirmations']) => Object.values(confirmations).reduce((total, history) => total + history.length, 0);
