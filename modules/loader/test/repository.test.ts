import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER } from '@edge-ml/contracts';
import { ModelRepository, type InstalledManifest } from '../src/repository/model-repository.js';

let repository: ModelRepository;
beforeEach(async () => {
  repository = new ModelRepository(await mkdtemp(path.join(tmpdir(), 'repo-')));
  await repository.initialise();
});

const SHA = (digit: string) => digit.repeat(64);
function manifest(name: string, version: string, installedAt: string, sha = SHA('a')): InstalledManifest {
  return { name, version, format: 'onnx', modelFile: 'm.onnx', labelsFile: 'l.txt', modelSha256: sha, packageSha256: SHA('b'), installedAt };
}

async function stageAndInstall(name: string, version: string, installedAt: string, content = 'model', sha = SHA('a')) {
  const staging = await repository.createStagingDirectory(`${name}-${version}`);
  await writeFile(path.join(staging, 'm.onnx'), content);
  await writeFile(path.join(staging, 'l.txt'), 'person');
  return repository.install(staging, manifest(name, version, installedAt, sha));
}

describe('ModelRepository', () => {
  it('installs a staged version by rename, leaving staging empty', async () => {
    const target = await stageAndInstall('ssd', '1', '2026-01-01T00:00:00Z');
    expect(target).toBe(path.join(repository.root, 'models', 'ssd', '1'));
    expect((await readdir(target)).sort()).toEqual(['.installed.json', 'l.txt', 'm.onnx']);
    expect(await readdir(repository.stagingDirectory)).toEqual([]);
  });

  it('treats a repeated install of the same model as a no-op, and replaces a different one whole', async () => {
    await stageAndInstall('ssd', '1', '2026-01-01T00:00:00Z', 'first');
    await stageAndInstall('ssd', '1', '2026-01-02T00:00:00Z', 'again');
    expect(await readFile(path.join(repository.root, 'models/ssd/1/m.onnx'), 'utf8')).toBe('first');
    await stageAndInstall('ssd', '1', '2026-01-03T00:00:00Z', 'second', SHA('c'));
    expect(await readFile(path.join(repository.root, 'models/ssd/1/m.onnx'), 'utf8')).toBe('second');
    expect(await readdir(repository.stagingDirectory)).toEqual([]);
  });

  it('announces with both the seed fields and the rich fields, atomically', async () => {
    await stageAndInstall('ssd', '1', '2026-01-01T00:00:00Z');
    const message = repository.announcementFor(manifest('ssd', '1', '2026-01-01T00:00:00Z'));
    expect(message).toMatchObject({ local_model_path: 'models/ssd/1/m.onnx', local_labelmap_path: 'models/ssd/1/l.txt', schemaVersion: 1, sha256: SHA('a') });
    await repository.writeAnnounced(message);
    expect(JSON.parse(await readFile(path.join(repository.root, ANNOUNCED_MODEL_POINTER), 'utf8'))).toEqual(message);
    expect(await repository.readAnnounced()).toEqual(message);
  });

  it('removes the versions it is given by renaming them out of models/ first, and skips ones already gone', async () => {
    for (const [version, day] of [['1', '01'], ['2', '02'], ['3', '03']] as const) await stageAndInstall('ssd', version, `2026-01-${day}T00:00:00Z`);
    expect(await repository.removeVersions([{ name: 'ssd', version: '2' }, { name: 'ssd', version: '9' }])).toEqual(['ssd@2']);
    expect((await readdir(path.join(repository.root, 'models/ssd'))).sort()).toEqual(['1', '3']);
    expect(await readdir(repository.stagingDirectory)).toEqual([]);
  });

  it('reads back only manifests and pointers that parse: a torn or foreign file counts as absent', async () => {
    await stageAndInstall('ssd', '1', '2026-01-01T00:00:00Z');
    await writeFile(path.join(repository.root, 'models/ssd/1/.installed.json'), '{"name":"ssd","version":"1","format":"onnx"');
    expect(await repository.readManifest('ssd', '1')).toBeUndefined();
    expect(await repository.listInstalled()).toEqual([]);
    await writeFile(path.join(repository.root, 'models/ssd/1/.installed.json'), JSON.stringify({ ...manifest('ssd', '1', '2026-01-01T00:00:00Z'), modelFile: '../../../etc/passwd' }));
    expect(await repository.readManifest('ssd', '1')).toBeUndefined();
    await writeFile(path.join(repository.root, 'models/confirmed.json'), JSON.stringify({ ...repository.announcementFor(manifest('ssd', '1', '2026-01-01T00:00:00Z')) }));
    expect(await repository.readConfirmed()).toBeUndefined();
  });

  it('cleans unfinished staging but keeps resumable downloads', async () => {
    const extract = await repository.createStagingDirectory('half');
    const partial = path.join(repository.stagingDirectory, 'download.partial');
    await writeFile(partial, 'bytes');
    await writeFile(path.join(extract, 'm.onnx'), 'half');
    expect(await repository.cleanStaging((entry) => entry === path.basename(partial))).toEqual([path.basename(extract)]);
    expect(await readdir(repository.stagingDirectory)).toEqual(['download.partial']);
  });
});
