import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureEdgeClient, createLogger } from '@edge-ml/edge-kit';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'tools/model-cli/dist/cli.js');
const emulatorCli = path.join(root, 'tools/edgehub-emulator/dist/cli.js');
const exec = promisify(execFile);
const sha = (character: string) => character.repeat(64);

async function edgeModel(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A module of the deployment, connected through the real SDK as that module, to report what the real module would. */
function moduleClient(environment: Record<string, string>, module: string): AzureEdgeClient {
  return new AzureEdgeClient({
    transport: 'mqtt',
    logger: createLogger({ name: module, level: 'silent' }),
    createClient: async () => {
      const { ModuleClient } = (await import('azure-iot-device')).default;
      const { Mqtt } = await import('azure-iot-device-mqtt');
      const saved = { ...process.env };
      Object.assign(process.env, environment);
      delete process.env.EdgeHubConnectionString;
      try {
        return await ModuleClient.fromEnvironment(Mqtt);
      } finally {
        process.env = saved;
      }
    },
  });
}

/**
 * Several models per device from the publishing side: the real emulator as its own process, edge-model run as a user
 * runs it, and the loader's and inference module's reports sent by SDK clients with those modules' identities (the
 * modules themselves are not needed to check what the CLI writes and shows).
 */
describe('edge-model with several models per device, against the emulator', () => {
  let emulator: ChildProcess;
  let work: string;
  let stateDirectory: string;
  let controlUrl: string;
  let clients: AzureEdgeClient[] = [];
  const desired = async () => ((await (await fetch(`${controlUrl}/twins/loader`)).json()) as { desired: Record<string, unknown> }).desired;
  const target = () => ['--emulator', '--state-dir', stateDirectory];
  const entry = (name: string, version: string, hash: string) => ['--name', name, '--version', version, '--url', `https://acct.blob.core.windows.net/models/${name}-${version}.zip?sig=x`, '--sha256', sha(hash)];

  beforeAll(async () => {
    if (!existsSync(cli) || !existsSync(emulatorCli)) throw new Error('build the workspace first (npm test does)');
    work = await mkdtemp(path.join(tmpdir(), 'edge-model-models-'));
    stateDirectory = path.join(work, 'emulator');
    emulator = spawn(process.execPath, [emulatorCli, 'start', '--deployment', path.join(root, 'deployment.template.json'), '--state-dir', stateDirectory], { stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'warn' } });
    const stateFile = path.join(stateDirectory, 'emulator.json');
    for (let attempt = 0; !existsSync(stateFile); attempt += 1) {
      if (attempt > 300 || emulator.exitCode !== null) throw new Error('the emulator did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { controlUrl: string; modules: Record<string, Record<string, string>> };
    controlUrl = state.controlUrl;
    clients = ['loader', 'inference'].map((module) => moduleClient(state.modules[module] ?? {}, module));
    await Promise.all(clients.map((client) => client.start()));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    emulator?.kill('SIGTERM');
  });

  it('keeps today\'s single model without --models, then converts it to an entry and the default when a second model is added', async () => {
    const single = await edgeModel(['rollout', ...entry('ssd', '2', 'a'), ...target()], work);
    expect(single.code, single.stderr).toBe(0);
    expect(await desired()).toMatchObject({ model: { name: 'ssd', version: '2' } });
    expect((await desired()).models).toBeUndefined();

    const added = await edgeModel(['rollout', '--models', ...entry('yolox', '1', 'b'), '--size', '1000', ...target()], work);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('note: converted the single desired `model` (ssd@2) to the models map: it stays as the entry ssd, the default model');
    expect(added.stdout).toContain('desired models: ssd@2 (default), yolox@1');
    const document = await desired();
    expect(document.model).toBeUndefined();
    expect(document.defaultModel).toBe('ssd');
    expect(document.models).toEqual({
      ssd: { name: 'ssd', version: '2', url: 'https://acct.blob.core.windows.net/models/ssd-2.zip?sig=x', sha256: sha('a') },
      yolox: { version: '1', url: 'https://acct.blob.core.windows.net/models/yolox-1.zip?sig=x', sha256: sha('b'), sizeBytes: 1000 },
    });
  });

  it('replaces one entry whole and leaves the other untouched; --default moves the default', async () => {
    const replaced = await edgeModel(['rollout', ...entry('yolox', '2', 'c'), ...target()], work);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toContain('note: the twin has a models map: set its entry yolox (the others are kept)');
    const document = await desired();
    // --size was not given this time: the sizeBytes of version 1 is gone, not kept.
    expect((document.models as Record<string, unknown>).yolox).toEqual({ version: '2', url: 'https://acct.blob.core.windows.net/models/yolox-2.zip?sig=x', sha256: sha('c') });
    expect((document.models as Record<string, unknown>).ssd).toMatchObject({ version: '2', sha256: sha('a') });
    expect(document.defaultModel).toBe('ssd');

    const moved = await edgeModel(['rollout', '--default', 'yolox', ...target()], work);
    expect(moved.stdout).toContain('desired models: ssd@2, yolox@2 (default)');
    expect((await desired()).defaultModel).toBe('yolox');

    const back = await edgeModel(['rollout', '--default', 'ssd', ...target()], work);
    expect(back.stdout).toContain('desired models: ssd@2 (default), yolox@2');
  });

  it('shows every model in status: the loader\'s state per entry, what inference serves, and the default', async () => {
    const [loader, inference] = clients as [AzureEdgeClient, AzureEdgeClient];
    const updatedAt = new Date().toISOString();
    await loader.patchReported({
      modelUpdate: { state: 'active', name: 'ssd', version: '2', error: null, updatedAt },
      activeModel: { name: 'ssd', version: '2', sha256: sha('a') },
      models: {
        ssd: { state: 'active', name: 'ssd', version: '2', activeVersion: { version: '2', sha256: sha('a') }, updatedAt },
        yolox: { state: 'downloading', name: 'yolox', version: '2', bytesDownloaded: 250, bytesTotal: 1000, activeVersion: { version: '1', sha256: sha('b') }, updatedAt },
      },
    });
    const activatedAt = new Date().toISOString();
    await inference.patchReported({
      activeModel: { name: 'ssd', version: '2', format: 'tflite', family: 'ssd', activatedAt },
      swapCount: 3,
      lastSwapError: null,
      defaultModel: 'ssd',
      models: {
        // lastActivation null: the hub's merge patch drops it, so status must read a report without it.
        ssd: { activeModel: { name: 'ssd', version: '2', format: 'tflite', family: 'ssd', activatedAt }, lastActivation: null },
        yolox: {
          activeModel: { name: 'yolox', version: '1', format: 'onnx', family: 'yolox', activatedAt },
          lastActivation: { name: 'yolox', version: '1.5', outcome: 'rejected', trigger: 'message', error: { code: 'MODEL_ACCEPTANCE_FAILED', message: 'no dog' }, at: activatedAt },
        },
      },
    });

    const status = await edgeModel(['status', '--state-dir', stateDirectory], work);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^loader\s+active\s+ssd@2\s+active ssd@2$/m);
    expect(status.stdout).toMatch(/^inference\s+serving\s+ssd@2\s+swaps: 3$/m);
    expect(status.stdout).toMatch(/^MODEL\s+DESIRED\s+LOADER\s+VERSION\s+ACTIVE\s+INFERENCE\s+DETAIL$/m);
    expect(status.stdout).toMatch(/^ssd \*\s+2\s+active\s+2\s+2\s+serving 2$/m);
    expect(status.stdout).toMatch(/^yolox\s+2\s+downloading\s+2\s+1\s+serving 1, rejected 1\.5: MODEL_ACCEPTANCE_FAILED\s+25% of 1000 bytes$/m);
    expect(status.stdout).toMatch(/^\* default model: ssd$/m);

    const json = JSON.parse((await edgeModel(['status', '--state-dir', stateDirectory, '--json'], work)).stdout) as { loader: unknown; inference: unknown; defaultModel: string; models: { name: string; desiredVersion: string; isDefault: boolean; loader: { state: string } }[] };
    expect(json.loader).toMatchObject({ activeModel: { name: 'ssd' } });
    expect(json.inference).toMatchObject({ swapCount: 3 });
    expect(json.defaultModel).toBe('ssd');
    expect(json.models.map((model) => [model.name, model.desiredVersion, model.isDefault, model.loader.state])).toEqual([
      ['ssd', '2', true, 'active'],
      ['yolox', '2', false, 'downloading'],
    ]);
  });

  it('removes one entry with null, clearing defaultModel when it named that entry', async () => {
    await edgeModel(['rollout', '--default', 'yolox', ...target()], work);
    const removed = await edgeModel(['rollout', '--remove', 'yolox', ...target()], work);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('note: yolox was the default model: defaultModel is cleared');
    const document = await desired();
    expect(Object.keys(document.models as object)).toEqual(['ssd']);
    expect(document.defaultModel).toBeUndefined();

    const again = await edgeModel(['rollout', '--remove', 'yolox', ...target()], work);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('edge-model: the desired models map has no entry "yolox" (entries: ssd)');
  });

  it.each([
    ['set and remove the same entry', [...entry('ssd', '3', 'a'), '--remove', 'ssd'], /^edge-model: --name ssd and --remove ssd: an entry cannot be set and removed in one rollout$/],
    ['the seed form as an entry', ['--seed', '--file-name', 'x.zip', '--url', 'https://a/x.zip', '--models'], /^edge-model: --seed is the single-model form/],
    ['entry fields without --name', ['--remove', 'ssd', '--version', '3'], /^edge-model: --version only go with --name/],
    ['--models without --name', ['--models'], /^edge-model: --models needs --name/],
    ['removal as a layered deployment', ['--remove', 'ssd', '--layered', '--target-condition', "tags.a='b'", '--priority', '1'], /^edge-model: --remove cannot be a layered deployment/],
  ])('refuses %s with a usage error (exit 2)', async (_name, args, message) => {
    const result = await edgeModel(['rollout', ...args, ...target()], work);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(message);
  });

  it('refuses a default that is no entry, and the seed form on a twin that has a models map (exit 1)', async () => {
    const unknown = await edgeModel(['rollout', '--default', 'nope', ...target()], work);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('edge-model: --default nope is not an entry of the desired models map (entries: ssd)');
    const seed = await edgeModel(['rollout', '--seed', '--file-name', 'x.zip', '--url', 'https://a/x.zip', ...target()], work);
    expect(seed.code).toBe(1);
    expect(seed.stderr).toMatch(/the twin has a models map, which the loader follows before the seed's flat form/);
  });
  it('writes a dotted model name under its twin key (ssd.v1 as ssd%2Ev1), which the emulator accepts as the hub does, shows it by name in status, and removes it by name', async () => {
    const added = await edgeModel(['rollout', '--models', ...entry('ssd.v1', '1', 'd'), '--default', 'ssd.v1', ...target()], work);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('desired models: ssd@2, ssd.v1@1 (default)');
    const document = await desired();
    expect(Object.keys(document.models as object).sort()).toEqual(['ssd', 'ssd%2Ev1']);
    expect((document.models as Record<string, unknown>)['ssd%2Ev1']).toEqual({ version: '1', url: 'https://acct.blob.core.windows.net/models/ssd.v1-1.zip?sig=x', sha256: sha('d') });
    expect(document.defaultModel).toBe('ssd.v1');
    // The key itself is what the hub (and so the emulator) refuses, desired or reported.
    const dotted = await fetch(`${controlUrl}/twins/loader/desired`, { method: 'PATCH', body: JSON.stringify({ models: { 'ssd.v1': null } }), headers: { 'content-type': 'application/json' } });
    expect(dotted.status).toBe(400);
    const [loader, inference] = clients as [AzureEdgeClient, AzureEdgeClient];
    const updatedAt = new Date().toISOString();
    const report = { state: 'active', name: 'ssd.v1', version: '1', activeVersion: { version: '1', sha256: sha('d') }, updatedAt };
    await expect(loader.patchReported({ models: { 'ssd.v1': report } })).rejects.toThrow(/twin key "ssd\.v1" at models must not contain "\."/);
    await loader.patchReported({ models: { 'ssd%2Ev1': report } });
    await inference.patchReported({ defaultModel: 'ssd.v1', models: { 'ssd%2Ev1': { activeModel: { name: 'ssd.v1', version: '1', format: 'tflite', family: 'ssd', activatedAt: updatedAt } } } });

    const status = await edgeModel(['status', '--state-dir', stateDirectory], work);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^ssd\.v1 \*\s+1\s+active\s+1\s+1\s+serving 1$/m);
    expect(status.stdout).toMatch(/^\* default model: ssd\.v1$/m);
    expect(status.stdout).not.toContain('%2E');
    const json = JSON.parse((await edgeModel(['status', '--state-dir', stateDirectory, '--json'], work)).stdout) as { models: { name: string; desiredVersion: string | null; isDefault: boolean }[] };
    expect(json.models.find((model) => model.name === 'ssd.v1')).toMatchObject({ desiredVersion: '1', isDefault: true });

    const removed = await edgeModel(['rollout', '--remove', 'ssd.v1', ...target()], work);
    expect(removed.code, removed.stderr).toBe(0);
    expect(Object.keys((await desired()).models as object)).toEqual(['ssd']);
    expect((await desired()).defaultModel).toBeUndefined();
  });
});
