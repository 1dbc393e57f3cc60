import { readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '@edge-ml/edge-kit';

/** What the loader must remember across restarts beyond what the repository shows. */
export interface LoaderState {
  /** A target that failed in a way retrying cannot fix; it holds for that whole desired model (fingerprint): changing any field retries. */
  failure: { key: string; url: string; fingerprint?: string; code: string; message: string } | null;
  /** The announcement last sent on DLModelOutput, as name@version#sha256. */
  messageSentFor: string | null;
  /** A target set by a direct method (update or rollback); it yields to the next newer desired version. */
  override: { desired: Record<string, unknown>; sinceDesiredVersion: number } | null;
}

const EMPTY: LoaderState = { failure: null, messageSentFor: null, override: null };

export class LoaderStateStore {
  private readonly file: string;
  private state: LoaderState = { ...EMPTY };

  constructor(root: string) {
    this.file = path.join(root, '.loader', 'state.json');
  }

  async load(): Promise<LoaderState> {
    await mkdir(path.dirname(this.file), { recursive: true });
    try {
      this.state = { ...EMPTY, ...(JSON.parse(await readFile(this.file, 'utf8')) as Partial<LoaderState>) };
    } catch {
      this.state = { ...EMPTY };
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
}
