import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '@edge-ml/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSystem } from '@edge-ml/local-run';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'tools/model-cli/dist/cli.js');
const models = path.join(root, 'testdata', 'models');
const exec = promisify(execFile);

async function edgeModel(args: string[], cwd: string, env: NodeJS.ProcessEnv = { ...process.env, AZURE_STORAGE_CONNECTION_STRING: '' }): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], { cwd, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}


describe('edge-model, run as a user runs it, against Azurite and the emulator', () => {
  let system: LocalSystem;
  let work: string;

  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error('build the workspace first (npm test does)');
    work = await mkdtemp(path.join(tmpdir(), 'edge-model-'));
    system = new LocalSystem({ root, workDirectory: path.join(work, 'system'), inferencePort: await freePort(), logLevel: 'warn' });
    await system.start();
  }, 120_000);
  afterAll(() => system?.stop());

  it('packages, uploads (once), signs, rolls out, and the loader and inference pick the model up', async () => {
    const packaged = await edgeModel(['package', path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite'), '--labels', path.join(models, 'labelmap.txt'), '--out', 'ssd-2.zip', '--json'], work);
    expect(packaged.code, packaged.stderr).toBe(0);
    const built = JSON.parse(packaged.stdout) as { sha256: string; sizeBytes: number; family: string };
    expect(built).toMatchObject({ family: 'ssd', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(built.sha256).toBe((await import('node:crypto')).createHash('sha256').update(await readFile(path.join(work, 'ssd-2.zip'))).digest('hex'));

    const connection = ['--connection-string', system.azurite.connectionString];
    const first = await edgeModel(['upload', 'ssd-2.zip', ...connection], work);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^uploaded ssd-2.zip/);
    expect(first.stderr).toMatch(/uploaded 100%/);
    const again = await edgeModel(['upload', 'ssd-2.zip', ...connection], work);
    expect(again.stdout).toMatch(/already holds this content/);

    const short = await edgeModel(['sas', 'ssd-2.zip', ...connection, '--expires-in', '2d'], work);
    expect(short.stderr).toMatch(/^warning: the SAS expires in 2\.0 days/);
    const sas = await edgeModel(['sas', 'ssd-2.zip', ...connection, '--expires-in', '90d'], work);
    expect(sas.code, sas.stderr).toBe(0);
    const url = sas.stdout.trim();
    expect(url).toMatch(/ssd-2\.zip\?.*sig=/);

    const printed = await edgeModel(['rollout', '--name', 'ssd', '--version', '2', '--url', url, '--sha256', built.sha256, '--device', 'turbine-12'], work);
    expect(printed.stdout).toContain("az iot hub module-twin update --hub-name <hub> --device-id turbine-12 --module-id loader --desired '");
    const applied = await edgeModel(['rollout', '--name', 'ssd', '--version', '2', '--url', url, '--sha256', built.sha256, '--size', String(built.sizeBytes), '--emulator', '--state-dir', system.emulatorStateDirectory], work);
    expect(applied.code, applied.stderr).toBe(0);
    await system.waitFor(async () => {
      const response = await fetch(`${system.inferenceUrl}/health/ready`);
      return response.ok && ((await response.json()) as { model: string }).model === 'ssd@2' ? true : undefined;
    }, 60_000, 'ssd@2 serving');

    const status = await edgeModel(['status', '--state-dir', system.emulatorStateDirectory], work);
    expect(status.stdout).toMatch(/^loader\s+active\s+ssd@2/m);
    expect(status.stdout).toMatch(/^inference\s+serving\s+ssd@2/m);
  }, 120_000);

  it('rolls out the next version as a patch against the model devices hold: only the changed bytes cross the link', async () => {
    const packaged = await edgeModel(['package', path.join(models, 'ssd_mobilenet_v1_1_metadata_1.tflite'), '--labels', path.join(models, 'labelmap.txt'), '--out', 'ssd-3.zip', '--json'], work);
    const built = JSON.parse(packaged.stdout) as { sha256: string; sizeBytes: number };
    const connection = ['--connection-string', system.azurite.connectionString];
    expect((await edgeModel(['upload', 'ssd-3.zip', ...connection], work)).code).toBe(0);
    const url = (await edgeModel(['sas', 'ssd-3.zip', ...connection], work)).stdout.trim();
    const delta = await edgeModel(['delta', 'ssd-3.zip', '--name', 'ssd', '--version', '3', '--from', path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite'), ...connection], work);
    expect(delta.code, delta.stderr).toBe(0);
    expect(delta.stdout).toMatch(/ssd-3\.from-[0-9a-f]{12}\.patch: \d+ bytes/);
    const manifestUrl = delta.stdout.trim().split('\n').at(-1) ?? '';
    expect(manifestUrl).toMatch(/ssd-3\.delta\.json\?.*sig=/);
    const applied = await edgeModel(['rollout', '--name', 'ssd', '--version', '3', '--url', url, '--sha256', built.sha256, '--delta-url', manifestUrl, '--emulator', '--state-dir', system.emulatorStateDirectory], work);
    expect(applied.code, applied.stderr).toBe(0);
    await system.waitFor(async () => {
      const response = await fetch(`${system.inferenceUrl}/health/ready`);
      return response.ok && ((await response.json()) as { model: string }).model === 'ssd@3' ? true : undefined;
    }, 60_000, 'ssd@3 serving');
    const report = ((await system.reported('loader')) as { modelUpdate: { path: string; bytesFetched: number; bytesReused: number } }).modelUpdate;
    expect(report.path).toBe('patch');
    expect(report.bytesFetched).toBeLessThan(20_000);
    expect(report.bytesFetched).toBeLessThan(built.sizeBytes * 0.01);
  }, 120_000);

  it('lands a version on a device whose model has no patch through chunk reuse', async () => {
    // ssd@3 serves now; a rebuilt plain SSD as version 4 with no --from of ssd@3's model: only chunks can help.
    const packaged = await edgeModel(['package', path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite'), '--labels', path.join(models, 'labelmap.txt'), '--out', 'ssd-4.zip', '--json'], work);
    const built = JSON.parse(packaged.stdout) as { sha256: string; sizeBytes: number };
    const connection = ['--connection-string', system.azurite.connectionString];
    await edgeModel(['upload', 'ssd-4.zip', ...connection], work);
    const url = (await edgeModel(['sas', 'ssd-4.zip', ...connection], work)).stdout.trim();
    const delta = await edgeModel(['delta', 'ssd-4.zip', '--name', 'ssd', '--version', '4', '--from', path.join(models, 'yolox_nano.onnx'), ...connection], work);
    expect(delta.code, delta.stderr).toBe(0);
    expect(delta.stdout).toMatch(/ssd-4\.chunks: a \d+-byte list \([\d.]+% of the model\), then \d+ bytes of block hashes/);
    const manifestUrl = delta.stdout.trim().split('\n').at(-1) ?? '';
    await edgeModel(['rollout', '--name', 'ssd', '--version', '4', '--url', url, '--sha256', built.sha256, '--size', String(built.sizeBytes), '--delta-url', manifestUrl, '--emulator', '--state-dir', system.emulatorStateDirectory], work);
    await system.waitFor(async () => {
      const response = await fetch(`${system.inferenceUrl}/health/ready`);
      return response.ok && ((await response.json()) as { model: string }).model === 'ssd@4' ? true : undefined;
    }, 60_000, 'ssd@4 serving');
    const report = ((await system.reported('loader')) as { modelUpdate: { path: string; bytesFetched: number } }).modelUpdate;
    expect(report.path).toBe('chunks');
    expect(report.bytesFetched).toBeLessThan(built.sizeBytes * 0.05);
  }, 120_000);

  it('finds the running local system\'s Azurite through the file start() writes, when no connection string is given', async () => {
    const { mkdir, copyFile } = await import('node:fs/promises');
    const user = path.join(work, 'as-after-npm-start');
    await mkdir(path.join(user, '.local-run'), { recursive: true });
    await copyFile(system.localEnvironmentFile, path.join(user, '.local-run', 'local.env'));
    await copyFile(path.join(work, 'ssd-2.zip'), path.join(user, 'ssd-2.zip'));
    const environment = { ...process.env };
    delete environment.AZURE_STORAGE_CONNECTION_STRING;
    const uploaded = await edgeModel(['upload', 'ssd-2.zip'], user, environment);
    expect(uploaded.code, uploaded.stderr).toBe(0);
    expect(uploaded.stderr).toMatch(/^using the local system's Azurite \(\.local-run\/local\.env, written by npm start\)/);
    const sas = await edgeModel(['sas', 'ssd-2.zip'], user, environment);
    expect(sas.code, sas.stderr).toBe(0);
    expect(sas.stdout.trim()).toMatch(new RegExp(`^${system.azurite.blobEndpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*ssd-2\\.zip\\?.*sig=`));
  }, 60_000);

  it('writes a layered deployment for a fleet, and refuses a bad target condition', async () => {
    const args = ['rollout', '--name', 'ssd', '--version', '3', '--url', 'https://acct.blob.core.windows.net/models/ssd-3.zip?sig=x', '--sha256', 'a'.repeat(64), '--layered', '--priority', '20', '--out', 'fleet.json'];
    const written = await edgeModel([...args, '--target-condition', "tags.site='windfarm-7' AND tags.env='prod'"], work);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toContain('az iot edge deployment create --layered');
    expect(JSON.parse(await readFile(path.join(work, 'fleet.json'), 'utf8'))).toEqual({ content: { modulesContent: { loader: { 'properties.desired.model': expect.objectContaining({ version: '3' }) } } } });
    const refused = await edgeModel([...args, '--target-condition', 'site = windfarm'], work);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^edge-model: the layered deployment is invalid: targetCondition: expected deviceId/);
  });

  it.each([
    ['a missing file', ['package', 'nope.onnx', '--labels', 'nope.txt'], /^edge-model: cannot read the labels file nope\.txt$/],
    ['a file that is not a model', ['package', path.join(models, 'labelmap.txt'), '--labels', path.join(models, 'labelmap.txt')], /^edge-model: labelmap\.txt is not a model: expected a \.onnx or \.tflite file$/],
    ['unreachable storage', ['upload', path.join(models, 'labelmap.txt'), '--connection-string', 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Zm9v;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;'], /^edge-model: uploading labelmap\.txt: Blob Storage is unreachable/],
    ['a bad sha256', ['rollout', '--name', 'a', '--version', '1', '--url', 'https://x/y.zip', '--sha256', 'abc'], /^edge-model: the desired properties would be rejected by the loader: model\.sha256/],
    ['an unknown option', ['upload', '--frobnicate'], /^edge-model: Unknown option '--frobnicate'/],
  ])('answers %s with one clear line and a non-zero exit', async (_name, args, message) => {
    const result = await edgeModel(args, work);
    expect(result.code).toBeGreaterThan(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(message);
  }, 60_000);

  it('answers expired credentials with one clear line', async () => {
    const container = system.azurite.container.url;
    const expired = system.azurite.sasUrl('x.zip', { startsOn: new Date(Date.now() - 7_200_000), expiresOn: new Date(Date.now() - 3_600_000) });
    const containerSas = `${container}?${expired.split('?')[1]}`;
    const result = await edgeModel(['upload', path.join(models, 'labelmap.txt'), '--container-url', containerSas], work);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^edge-model: uploading labelmap\.txt: Blob Storage refused the credentials/);
  });

  it('has --help for every command', async () => {
    for (const command of ['package', 'upload', 'sas', 'delta', 'rollout', 'status']) {
      const result = await edgeModel([command, '--help'], work);
      expect(result.stdout, command).toMatch(new RegExp(`^edge-model ${command}`));
    }
  });
});
