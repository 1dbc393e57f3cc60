import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { startAzurite, type Azurite } from '@edge-ml/testkit';
import { formatLogLine } from './log-format.js';
import type { BuiltPackage } from '@edge-ml/model-cli';

export interface LocalSystemOptions {
  /** The repository root: where dist/ builds and deployment.template.json are. */
  root: string;
  /** Everything the run writes: emulator state, shared storage, Azurite's data. */
  workDirectory: string;
  inferencePort: number;
  logLevel?: string;
  /** Receives every log line, labelled by process. */
  log?: (label: string, line: string) => void;
  /** Extra environment per module. */
  moduleEnvironment?: Partial<Record<'loader' | 'inference', Record<string, string>>>;
}

interface EmulatorStateFile {
  controlUrl: string;
  modules: Record<string, Record<string, string>>;
}

type ModuleName = 'loader' | 'inference';

const waitUntil = async <T>(read: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** Sends `signal` to a child that is still running and resolves once it has exited. */
async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/**
 * The whole solution on one machine, each part a process of its own as on a device: the edgeHub emulator (read from
 * deployment.template.json), Azurite as Blob Storage, and the loader and inference modules started through the IoT
 * Edge environment, sharing a storage directory. Used by `npm start` and the end-to-end tests.
 */
export class LocalSystem {
  readonly storageRoot: string;
  readonly inferenceUrl: string;
  azurite!: Azurite;
  private emulator: ChildProcess | undefined;
  private state!: EmulatorStateFile;
  private readonly modules = new Map<ModuleName, ChildProcess>();
  private stopping = false;

  constructor(private readonly options: LocalSystemOptions) {
    this.storageRoot = path.join(options.workDirectory, 'storage');
    this.inferenceUrl = `http://127.0.0.1:${options.inferencePort}`;
  }

  private log(label: string, line: string): void {
    this.options.log?.(label, formatLogLine(line, label));
  }

  private spawnNode(label: string, script: string, args: string[], env: Record<string, string>): ChildProcess {
    if (!existsSync(script)) throw new Error(`${script} is missing: build the workspace first (npm run build)`);
    const child = spawn(process.execPath, [script, ...args], { cwd: this.options.root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) if (stream) readline.createInterface({ input: stream }).on('line', (line) => this.log(label, line));
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.log(label, `exited (${signal ?? code})`);
    });
    return child;
  }

  /** Where the emulator writes its state file and module .env files (for the CLIs' --state-dir). */
  get emulatorStateDirectory(): string {
    return path.join(this.options.workDirectory, 'emulator');
  }

  async start(): Promise<void> {
    await mkdir(this.storageRoot, { recursive: true });
    const stateDirectory = this.emulatorStateDirectory;
    await rm(path.join(stateDirectory, 'emulator.json'), { force: true });
    this.emulator = this.spawnNode('edgehub', path.join(this.options.root, 'tools/edgehub-emulator/dist/cli.js'), ['start', '--deployment', path.join(this.options.root, 'deployment.template.json'), '--state-dir', stateDirectory, '--workload-socket'], { LOG_LEVEL: this.options.logLevel ?? 'info' });
    this.state = await waitUntil(async () => JSON.parse(await readFile(path.join(stateDirectory, 'emulator.json'), 'utf8')) as EmulatorStateFile, 30_000, 'the edgeHub emulator');
    this.azurite = await startAzurite('models', { onExit: (code) => !this.stopping && this.log('azurite', `exited (${code})`) });
    this.log('azurite', `Blob Storage at ${this.azurite.blobEndpoint}`);
    this.startModule('loader');
    this.startModule('inference');
    await waitUntil(async () => ((await fetch(`${this.inferenceUrl}/health/live`)).ok ? true : undefined), 60_000, 'the inference module');
    await this.writeLocalEnvironment();
  }

  /** Where start() writes what a user needs to drive this system by hand (npm run model reads it). */
  get localEnvironmentFile(): string {
    return path.join(this.options.workDirectory, 'local.env');
  }

  private async writeLocalEnvironment(): Promise<void> {
    const lines = [
      '# Written by npm start for the system it runs; npm run model uses it when no connection string is given.',
      '# In a shell: set -a; . .local-run/local.env; set +a',
      // Single-quoted: the connection string holds semicolons a shell would split on.
      `AZURE_STORAGE_CONNECTION_STRING='${this.azurite.connectionString}'`,
      `EDGE_EMULATOR_CONTROL_URL='${this.state.controlUrl}'`,
      `INFERENCE_URL='${this.inferenceUrl}'`,
    ];
    await writeFile(this.localEnvironmentFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  }

  startModule(module: ModuleName): void {
    const environment: Record<string, string> = {
      ...this.state.modules[module],
      EDGE_MODE: 'on',
      STORAGE_ROOT: this.storageRoot,
      LOG_LEVEL: this.options.logLevel ?? 'info',
      EDGE_TWIN_TIMEOUT_MS: '5000',
      EDGE_LIVENESS_INTERVAL_MS: '5000',
      ...(module === 'inference' ? { INFERENCE_PORT: String(this.options.inferencePort), INFERENCE_HOST: '127.0.0.1' } : { LOADER_RETRY_INITIAL_MS: '500', LOADER_RETRY_MAX_MS: '5000' }),
      ...this.options.moduleEnvironment?.[module],
    };
    this.modules.set(module, this.spawnNode(module, path.join(this.options.root, 'modules', module, 'dist/main.js'), [], environment));
  }

  /** Kills a module (SIGKILL by default: a crash) and waits until it is gone. */
  async killModule(module: ModuleName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await stopChild(this.modules.get(module), signal);
  }

  async control<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.state.controlUrl}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    if (!response.ok) throw new Error(`emulator ${method} ${route}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  setDesired(module: ModuleName, patch: Record<string, unknown>): Promise<{ $version: number }> {
    return this.control('PATCH', `/twins/${module}/desired`, patch);
  }

  async reported(module: ModuleName): Promise<Record<string, unknown>> {
    return (await this.control<{ reported: Record<string, unknown> }>('GET', `/twins/${module}`)).reported;
  }

  /** Uploads a package to Blob Storage and returns the loader's rich desired model for it. */
  async publish(blobName: string, name: string, version: string, built: BuiltPackage, options: { expiresOn?: Date; startsOn?: Date } = {}) {
    await this.azurite.container.getBlockBlobClient(blobName).uploadData(built.bytes);
    return { name, version, url: this.azurite.sasUrl(blobName, options), sha256: built.sha256, sizeBytes: built.bytes.length };
  }

  async waitFor<T>(read: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
    return waitUntil(read, timeoutMs, what);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.modules.keys()].map((module) => this.killModule(module, 'SIGTERM')));
    await stopChild(this.emulator, 'SIGTERM');
    await this.azurite?.stop();
    // The addresses die with the processes: a stale file would send npm run model to a closed port.
    await rm(this.localEnvironmentFile, { force: true });
  }
}
