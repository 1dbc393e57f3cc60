import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, LoaderStateSchema, SERVING_INDEX, ServingIndexSchema } from '@edge-ml/contracts';
import { createLogger } from '@edge-ml/edge-kit';
import { FAILPOINTS } from '../src/failpoint.js';
import { Loader } from '../src/reconcile/loader.js';
import { FaultServer } from '@edge-ml/testkit';
import { buildZip, TESTDATA } from './zip-fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const mainJs = path.join(root, 'modules/loader/dist/main.js');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const RUNS = Number(process.env.LOADER_CRASH_RUNS ?? 100);

async function packageOf(model: string): Promise<Buffer> {
  return buildZip([
    { name: model, data: await readFile(path.join(TESTDATA, 'models', model)) },
    { name: 'labelmap.txt', data: await readFile(path.join(TESTDATA, 'models', 'labelmap.txt')) },
  ]);
}

/**
 * Every version directory is complete and matches its manifest; both pointers name complete versions. When the policy
 * waits for confirmation (`onTrial`), the announced one names a confirmed version unless the loader state records it
 * as awaiting its confirmation or rejected (the fall-back comes next); without waiting (confirmTimeoutSeconds 0) the announcement is the confirmation.
 */
async function checkRepository(storage: string, onTrial = false): Promise<{ announced: string | undefined; confirmed: string | undefined }> {
  const modelsDirectory = path.join(storage, 'models', 'ssd');
  for (const version of await readdir(modelsDirectory)) {
    const directory = path.join(modelsDirectory, version);
    const manifest = JSON.parse(await readFile(path.join(directory, '.installed.json'), 'utf8'));
    expect(sha256(await readFile(path.join(directory, manifest.modelFile))), `${version} model bytes`).toBe(manifest.modelSha256);
    expect(existsSync(path.join(directory, manifest.labelsFile)), `${version} labels`).toBe(true);
  }
  const read = async (file: string) => {
    if (!existsSync(path.join(storage, file))) return undefined;
    const pointer = JSON.parse(await readFile(path.join(storage, file), 'utf8'));
    expect(sha256(await readFile(path.join(storage, pointer.local_model_path))), `${file} model`).toBe(pointer.sha256);
    expect(existsSync(path.join(storage, pointer.local_labelmap_path))).toBe(true);
    return pointer as { name: string; version: string; sha256: string };
  };
  const announced = await read(ANNOUNCED_MODEL_POINTER);
  const confirmed = await read(CONFIRMED_MODEL_POINTER);
  if (onTrial && announced && announced.version !== confirmed?.version) {
    const state = LoaderStateSchema.parse(JSON.parse(await readFile(path.join(storage, '.loader', 'state.json'), 'utf8')));
    const key = `${announced.name}@${announced.version}#${announced.sha256}`;
    // On trial (awaiting its status), or rejected with the fall-back still to run: either way the restart resolves it.
    expect(state.entries[announced.name]?.awaiting?.key === key || state.verdicts[key]?.verdict === 'rejected', `${key} is unconfirmed, yet neither awaited nor rejected`).toBe(true);
  }
  return { announced: announced?.version, confirmed: confirmed?.version };
}

function runLoader(storage: string, desired: object, failpoint?: string, logLevel = 'warn'): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs], {
      env: { ...process.env, STORAGE_ROOT: storage, EDGE_MODE: 'off', LOADER_DESIRED_JSON: JSON.stringify(desired), LOADER_EXIT_WHEN_IDLE: '1', LOG_LEVEL: logLevel, LOADER_RETRY_INITIAL_MS: '20', LOADER_RETRY_MAX_MS: '100', ...(failpoint ? { LOADER_FAILPOINT: failpoint } : { LOADER_FAILPOINT: '' }) },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

describe('crash safety', () => {
  let template: string;
  let servers: FaultServer[];
  /** v2 accepted at once (confirmTimeoutSeconds 0), or never confirmed (no inference module answers: it times out). */
  let desiredV2: { accepted: object; unconfirmed: object };

  beforeAll(async () => {
    if (!existsSync(mainJs)) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')]);
    // v0 and v1 are the same bytes under two versions (zips carry timestamps, so build once).
    const v0 = await packageOf('ssd_mobilenet_v1_coco_quant_detect.tflite');
    const v1 = v0;
    const v2 = await packageOf('ssd_mobilenet_v1_1_metadata_1.tflite');
    servers = [new FaultServer(v0), new FaultServer(v2)];
    const [oldUrl, newUrl] = [await servers[0]!.listen(), await servers[1]!.listen()];
    // The template holds v0 and v1 installed, v1 announced: the state of a device before the update to v2.
    template = await mkdtemp(path.join(tmpdir(), 'crash-template-'));
    const loader = new Loader({ storageRoot: template, logger: createLogger({ name: 'crash-setup', level: 'silent' }) });
    await loader.initialise();
    for (const [version, pkg] of [['0', v0], ['1', v1]] as const) {
      loader.applyDesired({ version: Number(version), full: true, properties: { model: { name: 'ssd', version, url: `${oldUrl}/ssd.zip`, sha256: sha256(pkg) }, policy: { keepVersions: 5, confirmTimeoutSeconds: 0 } } });
      await loader.whenIdle();
    }
    await loader.close();
    const model = { name: 'ssd', version: '2', url: `${newUrl}/ssd-v2.zip?sig=x`, sha256: sha256(v2) };
    desiredV2 = {
      accepted: { model, policy: { keepVersions: 1, confirmTimeoutSeconds: 0 } },
      unconfirmed: { model, policy: { keepVersions: 1, confirmTimeoutSeconds: 1, confirmResendSeconds: 1 } },
    };
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it(`keeps the repository consistent through ${RUNS} SIGKILLs at injected points, and a restart finishes the update or falls back`, async () => {
    // Every failpoint of a full download (the delta and removal ones are exercised below). A confirmation point needs v2 confirmed,
    // a rejection point needs it unconfirmed; the others alternate between the two.
    const points = FAILPOINTS.filter((point) => !point.startsWith('delta.') && !point.startsWith('removal.'));
    const needsRejection = new Set(['announce.awaiting-recorded', 'reject.recorded', 'fallback.pointer-written']);
    const reached = new Map<string, number>();
    for (let run = 0; run < RUNS; run += 1) {
      const point = points[run % points.length]!;
      const variant = point.startsWith('confirm.') ? 'accepted' : needsRejection.has(point) ? 'unconfirmed' : run % 2 === 0 ? 'accepted' : 'unconfirmed';
      const desired = desiredV2[variant];
      const count = point === 'download.chunk' ? 1 + ((run * 7) % 40) : point === 'extract.entry' ? 1 + (run % 2) : 1;
      const storage = await mkdtemp(path.join(tmpdir(), 'crash-run-'));
      await cp(template, storage, { recursive: true });
      const crashed = await runLoader(storage, desired, `${point}@${count}`);
      expect(crashed.signal, `${point}@${count} (${variant}) should kill the loader: ${crashed.output}`).toBe('SIGKILL');
      reached.set(point, (reached.get(point) ?? 0) + 1);
      const afterCrash = await checkRepository(storage, variant === 'unconfirmed').catch((error: Error) => {
        throw new Error(`after ${point}@${count} (${variant}): ${error.message}`);
      });
      expect(['1', '2']).toContain(afterCrash.announced);
      expect(['1', '2']).toContain(afterCrash.confirmed);
      const restarted = await runLoader(storage, desired);
      expect(restarted.code, restarted.output).toBe(0);
      const afterRestart = await checkRepository(storage, variant === 'unconfirmed');
      // Confirmed: the new version is announced and last-known-good. Unconfirmed: the pointer is back on v1.
      const expected = variant === 'accepted' ? '2' : '1';
      expect(afterRestart, `after ${point}@${count} (${variant})`).toEqual({ announced: expected, confirmed: expected });
      expect(await readdir(path.join(storage, '.staging')), `staging after ${point}@${count}`).toEqual([]);
      await rm(storage, { recursive: true, force: true });
    }
    expect([...reached.keys()].sort()).toEqual([...points].sort());
  }, 900_000);
});

describe('crash safety of delta updates', () => {
  let template: string;
  let server: FaultServer;
  let desired: (variant: 'patch' | 'chunks' | 'chunks-emcl') => object;

  beforeAll(async () => {
    const { createPatch, encodeChunkList, encodeGroupList } = await import('@edge-ml/delta');
    const plainModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
    const metadataModel = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_1_metadata_1.tflite'));
    const labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
    const v1 = await buildZip([{ name: 'detect.tflite', data: plainModel }, { name: 'labelmap.txt', data: labels }]);
    const v2 = await buildZip([{ name: 'detect.tflite', data: metadataModel }, { name: 'labelmap.txt', data: labels }]);
    const patch = Buffer.from(createPatch(plainModel, metadataModel));
    // The two-level list edge-model delta writes (its block hashes after it in the blob), and the single-level one before it.
    const groups = encodeGroupList(metadataModel);
    const lists = { chunks: { blob: Buffer.from(groups.blob), list: groups.blob.subarray(0, groups.listSizeBytes) }, 'chunks-emcl': { blob: Buffer.from(encodeChunkList(metadataModel)), list: encodeChunkList(metadataModel) } };
    server = new FaultServer(v2);
    const base = await server.listen();
    server.serve('/ssd-v1.zip', v1);
    server.serve('/ssd-v2.patch', patch);
    server.serve('/ssd-v2.chunks', lists.chunks.blob);
    server.serve('/ssd-v2.chunks-emcl', lists['chunks-emcl'].blob);
    server.serve('/ssd-v2.model', metadataModel);
    for (const variant of ['patch', 'chunks', 'chunks-emcl'] as const) {
      const list = lists[variant === 'patch' ? 'chunks' : variant];
      server.serve(`/ssd-v2.${variant}.delta.json`, Buffer.from(JSON.stringify({
        schemaVersion: 1, name: 'ssd', version: '2',
        package: { sha256: sha256(v2), sizeBytes: v2.length },
        model: { file: 'detect.tflite', format: 'tflite', sha256: sha256(metadataModel), sizeBytes: metadataModel.length },
        files: { 'labelmap.txt': labels.toString('base64') },
        patches: variant === 'patch' ? [{ fromSha256: sha256(plainModel), url: `${base}/ssd-v2.patch`, sha256: sha256(patch), sizeBytes: patch.length }] : [],
        chunks: { listUrl: `${base}/ssd-v2.${variant === 'patch' ? 'chunks' : variant}`, listSha256: sha256(Buffer.from(list.list)), listSizeBytes: list.list.length, modelUrl: `${base}/ssd-v2.model` },
      })));
    }
    template = await mkdtemp(path.join(tmpdir(), 'crash-delta-template-'));
    const loader = new Loader({ storageRoot: template, logger: createLogger({ name: 'crash-setup', level: 'silent' }) });
    await loader.initialise();
    loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'ssd', version: '1', url: `${base}/ssd-v1.zip`, sha256: sha256(v1) }, policy: { keepVersions: 5, confirmTimeoutSeconds: 0 } } });
    await loader.whenIdle();
    await loader.close();
    desired = (variant) => ({ model: { name: 'ssd', version: '2', url: `${base}/ssd-v2.zip`, sha256: sha256(v2), sizeBytes: v2.length, delta: { manifestUrl: `${base}/ssd-v2.${variant}.delta.json` } }, policy: { keepVersions: 5, confirmTimeoutSeconds: 0 } });
  }, 60_000);
  afterAll(() => server.close());

  it.each([
    ['chunks', 'delta.hashes-stored@1'],
    ['chunks', 'delta.hashes-stored@5'],
    ['chunks', 'delta.range-stored@1'],
    ['chunks', 'delta.range-stored@3'],
    ['chunks', 'delta.range-stored@10'],
    ['chunks', 'delta.assembled@1'],
    ['chunks-emcl', 'delta.range-stored@3'],
    ['chunks-emcl', 'delta.assembled@1'],
    ['chunks', 'install.synced@1'],
    ['patch', 'delta.assembled@1'],
    ['patch', 'download.renamed@1'],
    ['patch', 'install.renamed@1'],
  ] as const)('%s path killed at %s: the repository stays consistent and a restart completes', async (variant, point) => {
    const storage = await mkdtemp(path.join(tmpdir(), 'crash-delta-'));
    await cp(template, storage, { recursive: true });
    const crashed = await runLoader(storage, desired(variant), point);
    expect(crashed.signal, crashed.output).toBe('SIGKILL');
    expect(['1', '2']).toContain((await checkRepository(storage)).announced);
    const restarted = await runLoader(storage, desired(variant), undefined, 'info');
    expect(restarted.code, restarted.output).toBe(0);
    // Ranges stored before the kill are used again, not fetched again.
    if (['delta.hashes-stored@5', 'delta.range-stored@3', 'delta.range-stored@10'].includes(point)) expect(restarted.output).toMatch(/"resumedBytes":[1-9]\d*/);
    expect((await checkRepository(storage)).announced).toBe('2');
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
    const manifest = JSON.parse(await readFile(path.join(storage, 'models/ssd/2/.installed.json'), 'utf8'));
    expect(manifest.delivery.path).toBe(variant === 'patch' ? 'patch' : 'chunks');
    await rm(storage, { recursive: true, force: true });
  }, 60_000);

  it('a chunk path that kills the loader on every start (a crash loop) is given up after 3 attempts: the next start takes the package', async () => {
    const storage = await mkdtemp(path.join(tmpdir(), 'crash-delta-loop-'));
    await cp(template, storage, { recursive: true });
    for (let start = 1; start <= 3; start += 1) {
      const crashed = await runLoader(storage, desired('chunks'), 'delta.range-stored@1');
      expect(crashed.signal, `start ${start}: ${crashed.output}`).toBe('SIGKILL');
      const state = LoaderStateSchema.parse(JSON.parse(await readFile(path.join(storage, '.loader', 'state.json'), 'utf8')));
      expect(state.entries.ssd?.deltaAttempts).toMatchObject({ chunks: start });
    }
    // The failpoint still kills on the chunk path: the fourth start lands v2 only because it does not take it.
    const fourth = await runLoader(storage, desired('chunks'), 'delta.range-stored@1', 'info');
    expect(fourth.code, fourth.output).toBe(0);
    expect(fourth.output).toContain('model.patch.unavailable');
    expect((await checkRepository(storage)).announced).toBe('2');
    const manifest = JSON.parse(await readFile(path.join(storage, 'models/ssd/2/.installed.json'), 'utf8'));
    expect(manifest.delivery.path).toBe('full');
    expect(await readdir(path.join(storage, '.staging'))).toEqual([]);
    await rm(storage, { recursive: true, force: true });
  }, 60_000);
});

/**
 * The serving index after a crash: every entry names complete versions (model bytes match, labels present); an
 * announced version that is not its entry's confirmed one is awaited or rejected in the loader state (when the policy
 * waits); the legacy pointers name complete versions too. Returns each entry as announced/confirmed.
 */
async function checkIndex(storage: string, onTrial: boolean): Promise<Record<string, string>> {
  const complete = async (pointer: { local_model_path: string; local_labelmap_path: string; sha256: string }, label: string) => {
    expect(sha256(await readFile(path.join(storage, pointer.local_model_path))), `${label} model`).toBe(pointer.sha256);
    expect(existsSync(path.join(storage, pointer.local_labelmap_path)), `${label} labels`).toBe(true);
  };
  const index = ServingIndexSchema.parse(JSON.parse(await readFile(path.join(storage, SERVING_INDEX), 'utf8')));
  const state = LoaderStateSchema.parse(JSON.parse(await readFile(path.join(storage, '.loader', 'state.json'), 'utf8')));
  const served: Record<string, string> = {};
  for (const [name, entry] of Object.entries(index.models)) {
    await complete(entry.announced, `${name} announced`);
    if (entry.confirmed) await complete(entry.confirmed, `${name} confirmed`);
    const key = `${name}@${entry.announced.version}#${entry.announced.sha256}`;
    if (onTrial && entry.announced.version !== entry.confirmed?.version) {
      expect(state.entries[name]?.awaiting?.key === key || state.verdicts[key]?.verdict === 'rejected', `${key} is unconfirmed, yet neither awaited nor rejected`).toBe(true);
    }
    served[name] = `${entry.announced.version}/${entry.confirmed?.version ?? '-'}`;
  }
  for (const file of [ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER]) {
    if (existsSync(path.join(storage, file))) await complete(JSON.parse(await readFile(path.join(storage, file), 'utf8')), file);
  }
  return served;
}

describe('crash safety with several models', () => {
  let template: string;
  let servers: FaultServer[];
  let desiredV2: { accepted: object; unconfirmed: object };

  beforeAll(async () => {
    if (!existsSync(mainJs)) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')]);
    const v1 = await packageOf('ssd_mobilenet_v1_coco_quant_detect.tflite');
    const v2 = await packageOf('ssd_mobilenet_v1_1_metadata_1.tflite');
    servers = [new FaultServer(v1), new FaultServer(v2)];
    const [oldUrl, newUrl] = [await servers[0]!.listen(), await servers[1]!.listen()];
    // ssd@1, cls@1 and old@1 installed and confirmed: a device before ssd moves to v2 and old is removed.
    template = await mkdtemp(path.join(tmpdir(), 'crash-several-template-'));
    const loader = new Loader({ storageRoot: template, logger: createLogger({ name: 'crash-setup', level: 'silent' }) });
    await loader.initialise();
    const at1 = (name: string) => ({ version: '1', url: `${oldUrl}/${name}.zip`, sha256: sha256(v1) });
    loader.applyDesired({ version: 1, full: true, properties: { models: { ssd: at1('ssd'), cls: at1('cls'), old: at1('old') }, defaultModel: 'ssd', policy: { confirmTimeoutSeconds: 0 } } });
    await loader.whenIdle();
    await loader.close();
    const models = { ssd: { version: '2', url: `${newUrl}/ssd-v2.zip?sig=x`, sha256: sha256(v2) }, cls: at1('cls') };
    desiredV2 = {
      accepted: { models, defaultModel: 'ssd', policy: { keepVersions: 1, confirmTimeoutSeconds: 0, removeGraceSeconds: 0 } },
      unconfirmed: { models, defaultModel: 'ssd', policy: { keepVersions: 1, confirmTimeoutSeconds: 1, confirmResendSeconds: 1, removeGraceSeconds: 0 } },
    };
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it('keeps the serving index and the repository consistent through SIGKILLs at every point, and a restart converges for both entries and the removal', async () => {
    const points = FAILPOINTS.filter((point) => !point.startsWith('delta.'));
    const needsRejection = new Set(['announce.awaiting-recorded', 'reject.recorded', 'fallback.pointer-written']);
    const reached = new Set<string>();
    const runs = points.flatMap((point) => (point.startsWith('confirm.') ? ['accepted' as const] : needsRejection.has(point) ? ['unconfirmed' as const] : ['accepted' as const, 'unconfirmed' as const]).map((variant) => ({ point, variant })));
    for (const [run, { point, variant }] of runs.entries()) {
      const count = point === 'download.chunk' ? 1 + ((run * 7) % 40) : 1;
      const storage = await mkdtemp(path.join(tmpdir(), 'crash-several-'));
      await cp(template, storage, { recursive: true });
      const crashed = await runLoader(storage, desiredV2[variant], `${point}@${count}`);
      expect(crashed.signal, `${point}@${count} (${variant}) should kill the loader: ${crashed.output}`).toBe('SIGKILL');
      reached.add(point);
      const afterCrash = await checkIndex(storage, variant === 'unconfirmed').catch((error: Error) => {
        throw new Error(`after ${point}@${count} (${variant}): ${error.message}`);
      });
      expect(afterCrash.cls, `cls after ${point}`).toBe('1/1');
      expect(['1/1', '2/1', '2/2']).toContain(afterCrash.ssd);
      const restarted = await runLoader(storage, desiredV2[variant]);
      expect(restarted.code, restarted.output).toBe(0);
      const expected = variant === 'accepted' ? '2/2' : '1/1';
      expect(await checkIndex(storage, variant === 'unconfirmed'), `after ${point}@${count} (${variant})`).toEqual({ ssd: expected, cls: '1/1' });
      expect(existsSync(path.join(storage, 'models', 'old', '1')), `old's versions after ${point}`).toBe(false);
      expect(JSON.parse(await readFile(path.join(storage, ANNOUNCED_MODEL_POINTER), 'utf8')).name).toBe('ssd');
      expect(await readdir(path.join(storage, '.staging')), `staging after ${point}@${count}`).toEqual([]);
      await rm(storage, { recursive: true, force: true });
    }
    expect([...reached].sort()).toEqual([...points].sort());
  }, 900_000);
});
