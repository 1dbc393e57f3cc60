import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { LoaderStateSchema, type LoaderState } from '@edge-ml/contracts';
import { writeJsonAtomic, type Logger } from '@edge-ml/edge-kit';

export type { LoaderState };

const EMPTY: LoaderState = LoaderStateSchema.parse({});

/** How many confirmed versions per model name the history keeps (rollback walks it back). */
const HISTORY_LIMIT = 20;

/** The loader's own state on shared storage (.loader/state.json), written atomically after every change. */
export class LoaderStateStore {
  private readonly file: string;
  private state: LoaderState = structuredClone(EMPTY);

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

  async update(change: Partial<LoaderState>): Promise<void> {
    this.state = { ...this.state, ...change };
    await writeJsonAtomic(this.file, this.state);
  }

  /** The change that records a confirmation: verdict, per-name history (first confirmation keeps its place), no awaiting. */
  confirmation(version: { name: string; version: string; key: string; modelSha256: string }, at: string): Partial<LoaderState> {
    const history = this.state.confirmations[version.name] ?? [];
    const known = history.some((entry) => entry.version === version.version && entry.modelSha256 === version.modelSha256);
    const next = known ? history : [...history.filter((entry) => entry.version !== version.version), { version: version.version, modelSha256: version.modelSha256, confirmedAt: at }].slice(-HISTORY_LIMIT);
    return {
      verdicts: { ...this.state.verdicts, [version.key]: { verdict: 'confirmed', at } },
      confirmations: { ...this.state.confirmations, [version.name]: next },
      awaiting: null,
    };
  }
}
