import { describe, expect, it } from 'vitest';
import { applyMergePatch } from '@edge-ml/contracts';
import { planModelsPatch } from './desired-models.js';
import { loaderLayeredDeployment } from './layered-deployment.js';
import { modelStatuses, modelTable } from './model-status.js';
import { rolloutCommand, withoutNulls } from './commands/rollout-command.js';
import { expiryFrom } from './commands/sas-command.js';
import { LOCAL_ENVIRONMENT_FILE, localConnectionString, parseEnvironmentFile } from './local-environment.js';
import { targetConditionProblem } from './target-condition.js';

describe('target conditions', () => {
  it.each([
    "tags.site='windfarm-7'",
    "tags.environment='prod' AND (tags.region='north-sea' OR tags.region IN ['baltic', 'irish-sea'])",
    "deviceId='turbine-12'",
    "NOT tags.disabled=true AND properties.reported.lastUpdate > 3",
  ])('accepts %s', (condition) => {
    expect(targetConditionProblem(condition)).toBeUndefined();
  });
  it.each([
    ["tags.site=\"windfarm\"", /unexpected/],
    ["tags.site='a' AND", /expected deviceId/],
    ["(tags.site='a'", /not closed/],
    ["site='a'", /expected deviceId, tags/],
    ['', /empty/],
  ])('refuses %s', (condition, problem) => {
    expect(targetConditionProblem(condition)).toMatch(problem);
  });
});

describe('layered deployment', () => {
  it('sets the loader desired properties through properties.desired.<path> keys', () => {
    const deployment = loaderLayeredDeployment({ id: 'model-ssd-2', targetCondition: "tags.site='a'", priority: 10, desired: { model: { name: 'ssd', version: '2', url: 'https://a/b.zip', sha256: 'a'.repeat(64) } } });
    expect(deployment.content).toEqual({ modulesContent: { loader: { 'properties.desired.model': { name: 'ssd', version: '2', url: 'https://a/b.zip', sha256: 'a'.repeat(64) } } } });
  });
  it('refuses an id IoT Hub would refuse, and desired properties the loader would refuse', () => {
    expect(() => loaderLayeredDeployment({ id: 'Model SSD', targetCondition: "tags.site='a'", priority: 1, desired: { model: { name: 'ssd', version: '2', url: 'https://a/b.zip', sha256: 'a'.repeat(64) } } })).toThrow();
    expect(() => loaderLayeredDeployment({ id: 'x', targetCondition: "tags.site='a'", priority: 1, desired: { model: { name: 'ssd', version: '2', url: 'https://a/b.zip', sha256: 'nope' } } })).toThrow(/sha256|SHA-256/);
  });
});

describe('SAS expiry', () => {
  it('reads days, hours and dates', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(expiryFrom({ 'expires-in': '90d' }, now).toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(expiryFrom({ 'expires-in': '12h' }, now).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(expiryFrom({ 'expires-on': '2027-01-01' }).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(() => expiryFrom({ 'expires-in': 'soon' })).toThrow(/days or hours/);
  });
});

describe('rollout replaces the whole desired model', () => {
  const sha256 = 'b'.repeat(64);
  const printedPatch = async (args: string[]) => {
    const lines: string[] = [];
    await rolloutCommand([...args, '--device', 'turbine-12'], (line) => lines.push(line));
    return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  };

  it('removes sizeBytes, md5, format and delta that this rollout does not set, and clears the seed form', async () => {
    const patch = await printedPatch(['--name', 'ssd', '--version', '3', '--url', 'https://a/ssd-3.zip', '--sha256', sha256]);
    expect(patch).toEqual({
      model: { name: 'ssd', version: '3', url: 'https://a/ssd-3.zip', sha256, sizeBytes: null, md5: null, format: null, delta: null },
      FileName: null,
      DownloadUrl: null,
      ContentMD5: null,
    });
  });

  it('clears the rich model when rolling out the seed form, so that the seed form is the one followed', async () => {
    const patch = await printedPatch(['--seed', '--file-name', 'tiny-yolov3.zip', '--url', 'https://a/tiny-yolov3.zip']);
    expect(patch).toEqual({ FileName: 'tiny-yolov3.zip', DownloadUrl: 'https://a/tiny-yolov3.zip', ContentMD5: null, model: null });
  });

  it('leaves nulls out of what it validates and out of layered deployments', () => {
    expect(withoutNulls({ model: { name: 'a', sizeBytes: null, delta: null }, FileName: null })).toEqual({ model: { name: 'a' } });
  });
});

describe('the local environment npm start writes', () => {
  it('is read as a shell would source it: quotes removed, comments skipped', () => {
    const text = "# comment\nAZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k=='\nEDGE_EMULATOR_CONTROL_URL=\"http://127.0.0.1:1\"\nPLAIN=x\n";
    expect(parseEnvironmentFile(text)).toEqual({ AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k==', EDGE_EMULATOR_CONTROL_URL: 'http://127.0.0.1:1', PLAIN: 'x' });
  });

  it('gives the connection string only when the user set none', async () => {
    const { mkdtemp, mkdir, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const directory = await mkdtemp(path.join(tmpdir(), 'local-env-'));
    expect(localConnectionString(directory, {})).toBeUndefined();
    await mkdir(path.join(directory, '.local-run'));
    await writeFile(path.join(directory, LOCAL_ENVIRONMENT_FILE), "AZURE_STORAGE_CONNECTION_STRING='UseThis;A=b'\n");
    expect(localConnectionString(directory, {})).toBe('UseThis;A=b');
    expect(localConnectionString(directory, { AZURE_STORAGE_CONNECTION_STRING: 'mine' })).toBeUndefined();
    expect(localConnectionString(directory, { AZURE_STORAGE_CONNECTION_STRING: '' })).toBeUndefined();
  });
});

describe('rollout of one entry of the models map, where the twin is not known (one device, a fleet)', () => {
  const sha256 = 'c'.repeat(64);
  const entryArgs = ['--models', '--name', 'yolox', '--version', '1', '--url', 'https://a/yolox-1.zip', '--sha256', sha256];

  it('prints a patch that sets only that entry, and says that a single model on the device would then be ignored', async () => {
    const lines: string[] = [];
    await rolloutCommand([...entryArgs, '--default', 'yolox', '--device', 'turbine-12'], (line) => lines.push(line));
    expect(JSON.parse(lines[0] ?? '')).toEqual({ models: { yolox: { version: '1', url: 'https://a/yolox-1.zip', sha256, sizeBytes: null, md5: null, format: null, delta: null } }, defaultModel: 'yolox' });
    expect(lines[1]).toMatch(/^# note: the loader follows the models map once it is set/);
  });

  it('removes an entry with null', async () => {
    const lines: string[] = [];
    await rolloutCommand(['--remove', 'ssd', '--device', 'turbine-12'], (line) => lines.push(line));
    expect(JSON.parse(lines[0] ?? '')).toEqual({ models: { ssd: null } });
  });

  it('gives each entry its own path in a layered deployment, so deployments of different entries combine', () => {
    const deployment = loaderLayeredDeployment({ id: 'model-yolox-1', targetCondition: "tags.site='a'", priority: 10, desired: { models: { yolox: { version: '1', url: 'https://a/yolox-1.zip', sha256 } }, defaultModel: 'yolox' } });
    expect(deployment.content.modulesContent.loader).toEqual({
      'properties.desired.models.yolox': { version: '1', url: 'https://a/yolox-1.zip', sha256 },
      'properties.desired.defaultModel': 'yolox',
    });
  });
});

describe('a model name that holds a dot, written under its twin key (ssd.v1 as ssd%2Ev1)', () => {
  const sha256 = 'd'.repeat(64);
  const args = ['--models', '--name', 'ssd.v1', '--version', '1', '--url', 'https://a/ssd.v1-1.zip', '--sha256', sha256];

  it('is the key of the entry rollout sets or removes; the name inside the entry and defaultModel stay as they are', async () => {
    const lines: string[] = [];
    await rolloutCommand([...args, '--default', 'ssd.v1', '--device', 'turbine-12'], (line) => lines.push(line));
    expect(JSON.parse(lines[0] ?? '')).toEqual({ models: { 'ssd%2Ev1': { version: '1', url: 'https://a/ssd.v1-1.zip', sha256, sizeBytes: null, md5: null, format: null, delta: null } }, defaultModel: 'ssd.v1' });
    lines.length = 0;
    await rolloutCommand(['--remove', 'ssd.v1', '--device', 'turbine-12'], (line) => lines.push(line));
    expect(JSON.parse(lines[0] ?? '')).toEqual({ models: { 'ssd%2Ev1': null } });
  });

  it('is one path segment of a layered deployment (a "." there would be one more level)', () => {
    const deployment = loaderLayeredDeployment({ id: 'model-ssd-v1-1', targetCondition: "tags.site='a'", priority: 10, desired: { models: { 'ssd%2Ev1': { version: '1', url: 'https://a/ssd.v1-1.zip', sha256 } } } });
    expect(deployment.content.modulesContent.loader).toEqual({ 'properties.desired.models.ssd%2Ev1': { version: '1', url: 'https://a/ssd.v1-1.zip', sha256 } });
  });

  it('converts a dotted single model to its entry, and finds an entry to remove by its name', () => {
    const single = { name: 'ssd.v1', version: '2', url: 'https://a/ssd-2.zip', sha256 };
    const plan = planModelsPatch({ model: single }, { put: { name: 'yolox', entry: { version: '1', url: 'https://a/y.zip', sha256 } } });
    expect(plan.patch).toMatchObject({ models: { 'ssd%2Ev1': single }, model: null, defaultModel: 'ssd.v1' });
    expect(planModelsPatch({ models: { 'ssd%2Ev1': single } }, { remove: 'ssd.v1' }).patch).toEqual({ models: { 'ssd%2Ev1': null } });
    expect(() => planModelsPatch({ models: { 'ssd%2Ev1': single } }, { remove: 'ssd' })).toThrow('the desired models map has no entry "ssd" (entries: ssd.v1)');
  });

  it('is read back by name in status, from the desired map and both reports', () => {
    const updatedAt = '2026-01-01T00:00:00.000Z';
    const { models, defaultModel } = modelStatuses(
      { models: { 'ssd%2Ev1': { version: '1', url: 'https://a/b.zip', sha256 } }, defaultModel: 'ssd.v1' },
      { models: { 'ssd%2Ev1': { state: 'active', name: 'ssd.v1', version: '1', activeVersion: { version: '1', sha256 }, updatedAt } } },
      { models: { 'ssd%2Ev1': { activeModel: { name: 'ssd.v1', version: '1', format: 'tflite', family: 'ssd', activatedAt: updatedAt } } } },
    );
    expect(defaultModel).toBe('ssd.v1');
    expect(models).toMatchObject([{ name: 'ssd.v1', desiredVersion: '1', isDefault: true, loader: { state: 'active' }, inference: { activeModel: { version: '1' } }, unreadable: [] }]);
    expect(modelTable(models)[1]).toEqual(['ssd.v1 *', '1', 'active', '1', '1', 'serving 1', '']);
  });
});

describe('planModelsPatch on a known twin', () => {
  const ssd = { name: 'ssd', version: '2', url: 'https://a/ssd-2.zip', sha256: 'a'.repeat(64) };
  const yolox = { version: '1', url: 'https://a/yolox-1.zip', sha256: 'b'.repeat(64) };

  it('keeps the single model as an entry when another is the default', () => {
    const plan = planModelsPatch({ model: ssd }, { put: { name: 'yolox', entry: yolox }, defaultModel: 'yolox' });
    expect(plan.patch).toEqual({ models: { yolox, ssd }, model: null, defaultModel: 'yolox' });
    expect(applyMergePatch({ model: ssd }, plan.patch)).toEqual({ models: { yolox, ssd }, defaultModel: 'yolox' });
  });

  it('refuses to convert the seed form, which has no SHA-256', () => {
    expect(() => planModelsPatch({ FileName: 'tiny.zip', DownloadUrl: 'https://a/tiny.zip' }, { put: { name: 'yolox', entry: yolox } })).toThrow(/seed's flat form \(FileName tiny\.zip\)/);
  });
});
