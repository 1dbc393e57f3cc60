import type * as FsPromises from 'node:fs/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER } from '@edge-ml/contracts';
import { announcementKey, ModelRepository, type InstalledManifest } from './model-repository.js';

/**
 * The real file system, with every fsync, rename and removal written to `operations` in the order they happen, so that
 * durability (what is synced before the rename that publishes it) is observable. Every call still does the real thing.
 */
const operations = vi.hoisted(() => [] as string[]);
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const recording = {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        operations.push(`fsync ${String(args[0])}`);
        return sync();
      };
      return handle;
    },
    rename: async (from: string, to: string) => {
      operations.push(`rename ${from} -> ${to}`);
      return real.rename(from, to);
    },
    rm: async (target: string, options?: Parameters<typeof real.rm>[1]) => {
      operations.push(`rm ${target}`);
      return real.rm(target, options);
    },
  };
  return { ...recording, default: recording };
});

let repository: ModelRepository;
let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'repository-'));
  repository = new ModelRepository(root);
  await repository.initialise();
  operations.length = 0;
});

const SHA = (digit: string) => digit.repeat(64);
function manifest(name: string, version: string, installedAt = '2026-01-01T00:00:00Z', sha = SHA('a')): InstalledManifest {
  return { name, version, format: 'onnx', modelFile: 'm.onnx', labelsFile: 'l.txt', modelSha256: sha, packageSha256: SHA('b'), installedAt };
}

async function stage(label: string, content = 'model'): Promise<string> {
  const staging = await repository.createStagingDirectory(label);
  await writeFile(path.join(staging, 'm.onnx'), content);
  await writeFile(path.join(staging, 'l.txt'), 'person');
  return staging;
}

/** Operations written relative to the repository root, the random parts of names replaced by *. */
const normalise = (text: string) => text.replaceAll(`${root}/`, '').replaceAll(root, '.').replace(/\.[0-9a-f]{8}\.(extract|replaced|gc)/g, '.*.$1').replace(/\.[0-9a-f]{12}\.tmp/g, '.*.tmp');
const relativeOperations = () => operations.map(normalise);
const indexOf = (operation: string) => {
  const index = relativeOperations().indexOf(operation);
  expect(index, `${operation} in\n${relativeOperations().join('\n')}`).toBeGreaterThanOrEqual(0);
  return index;
};

describe('ModelRepository durability', () => {
  it('fsyncs every staged file and the staging folder before the one rename that publishes a version, then both parents', async () => {
    const staging = await stage('ssd-1');
    operations.length = 0;
    await repository.install(staging, manifest('ssd', '1'));
    const name = normalise(staging);
    const publish = indexOf(`rename ${name} -> models/ssd/1`);
    // The last sync of the staging folder comes after every file's and before the rename.
    const folderSynced = relativeOperations().lastIndexOf(`fsync ${name}`);
    for (const file of ['m.onnx', 'l.txt', '.installed.json']) expect(indexOf(`fsync ${name}/${file}`)).toBeLessThan(folderSynced);
    expect(folderSynced).toBeLessThan(publish);
    expect(indexOf('fsync models/ssd')).toBeGreaterThan(publish);
    expect(indexOf('fsync models')).toBeGreaterThan(indexOf('fsync models/ssd'));
    expect(relativeOperations().filter((operation) => operation.startsWith('rename '))).toEqual([
      expect.stringMatching(/^rename \.staging\/ssd-1\..*\.extract\/\.\.installed\.json\..*\.tmp -> \.staging\/ssd-1\..*\.extract\/\.installed\.json$/) as unknown,
      `rename ${name} -> models/ssd/1`,
    ]);
    expect(await readdir(path.join(root, 'models/ssd/1'))).toEqual(expect.arrayContaining(['m.onnx', 'l.txt', '.installed.json']));
  });

  it('replaces a different package of the same version by moving the old one aside first, and syncs before dropping it', async () => {
    await repository.install(await stage('ssd-1', 'first'), manifest('ssd', '1'));
    const staging = await stage('ssd-1', 'second');
    operations.length = 0;
    await repository.install(staging, manifest('ssd', '1', '2026-01-02T00:00:00Z', SHA('c')));
    const aside = relativeOperations().find((operation) => operation.startsWith('rename models/ssd/1 -> '));
    expect(aside).toMatch(/^rename models\/ssd\/1 -> \.staging\/ssd\.1\..*\.replaced$/);
    const publish = indexOf(`rename ${normalise(staging)} -> models/ssd/1`);
    expect(indexOf(aside!)).toBeLessThan(publish);
    expect(indexOf('fsync models/ssd')).toBeGreaterThan(publish);
    expect(indexOf('fsync models')).toBeGreaterThan(publish);
    expect(indexOf(`rm ${aside!.split(' -> ')[1]}`)).toBeGreaterThan(indexOf('fsync models/ssd'));
    expect(await readFile(path.join(root, 'models/ssd/1/m.onnx'), 'utf8')).toBe('second');
    expect(await readdir(repository.stagingDirectory)).toEqual([]);
  });

  it('replaces a leftover folder without a readable manifest the same way', async () => {
    await repository.install(await stage('ssd-1', 'first'), manifest('ssd', '1'));
    await writeFile(path.join(root, 'models/ssd/1/.installed.json'), '{"torn');
    const staging = await stage('ssd-1', 'second');
    await repository.install(staging, manifest('ssd', '1'));
    expect(await readFile(path.join(root, 'models/ssd/1/m.onnx'), 'utf8')).toBe('second');
    expect(await readdir(repository.stagingDirectory)).toEqual([]);
  });

  it('treats a repeated install of the same model as done: no sync, no rename, the staging removed', async () => {
    await repository.install(await stage('ssd-1', 'first'), manifest('ssd', '1'));
    const again = await stage('ssd-1', 'again');
    operations.length = 0;
    expect(await repository.install(again, manifest('ssd', '1', '2026-02-01T00:00:00Z'))).toBe(path.join(root, 'models/ssd/1'));
    expect(relativeOperations()).toEqual([`rm ${normalise(again)}`]);
    expect(await readFile(path.join(root, 'models/ssd/1/m.onnx'), 'utf8')).toBe('first');
  });

  it('writes both pointers atomically (temporary file, fsync, rename, fsync of models/)', async () => {
    const message = repository.announcementFor(manifest('ssd', '1'));
    await repository.writeAnnounced(message);
    const confirmed = { ...message, confirmedAt: '2026-01-01T00:00:01Z' };
    await repository.writeConfirmed(confirmed);
    const renames = relativeOperations().filter((operation) => operation.startsWith('rename '));
    expect(renames).toEqual([`rename models/.announced.json.*.tmp -> ${ANNOUNCED_MODEL_POINTER}`, `rename models/.confirmed.json.*.tmp -> ${CONFIRMED_MODEL_POINTER}`]);
    expect(indexOf('fsync models/.announced.json.*.tmp')).toBeLessThan(indexOf(renames[0]!));
    expect(relativeOperations().lastIndexOf('fsync models')).toBeGreaterThan(indexOf(renames[1]!));
    expect(await repository.readAnnounced()).toEqual(message);
    expect(await repository.readConfirmed()).toEqual(confirmed);
  });

  it('withdraws the announced pointer and syncs models/ after the removal', async () => {
    await repository.writeAnnounced(repository.announcementFor(manifest('ssd', '1')));
    operations.length = 0;
    await repository.withdrawAnnounced();
    expect(relativeOperations()).toEqual([`rm ${ANNOUNCED_MODEL_POINTER}`, 'fsync models']);
    expect(await repository.readAnnounced()).toBeUndefined();
    await repository.withdrawAnnounced();
    expect(await repository.readAnnounced()).toBeUndefined();
  });

  it('leaves no file of the repository open after an install', async () => {
    await repository.install(await stage('ssd-1'), manifest('ssd', '1'));
    const open = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
      } catch {
        return false;
      }
    });
    expect(open).toEqual([]);
  });

  it('removes a version by renaming it out of models/ before deleting it, never deleting inside models/', async () => {
    await repository.install(await stage('ssd-1'), manifest('ssd', '1'));
    await repository.install(await stage('ssd-2'), manifest('ssd', '2', '2026-01-02T00:00:00Z'));
    operations.length = 0;
    expect(await repository.removeVersions([{ name: 'ssd', version: '1' }, { name: 'ssd', version: '7' }])).toEqual(['ssd@1']);
    const [rename, removal, ...rest] = relativeOperations();
    expect(rename).toMatch(/^rename models\/ssd\/1 -> \.staging\/ssd\.1\..*\.gc$/);
    expect(removal).toBe(`rm ${rename!.split(' -> ')[1]}`);
    expect(rest.filter((operation) => operation.startsWith('rm '))).toEqual([]);
    expect(await readdir(path.join(root, 'models/ssd'))).toEqual(['2']);
  });
});

describe('ModelRepository reads', () => {
  it('lists every installed version of every model, newest install first, skipping the pointers and unreadable versions', async () => {
    await repository.install(await stage('a'), manifest('ssd', '1', '2026-01-01T00:00:00Z'));
    await repository.install(await stage('b'), manifest('yolox', '1', '2026-01-03T00:00:00Z'));
    await repository.install(await stage('c'), manifest('ssd', '2', '2026-01-02T00:00:00Z'));
    await repository.writeAnnounced(repository.announcementFor(manifest('ssd', '1')));
    await writeFile(path.join(root, 'models/ssd/2/.installed.json'), JSON.stringify(manifest('ssd', '3')));
    expect((await repository.listInstalled()).map(announcementKey)).toEqual([`yolox@1#${SHA('a')}`, `ssd@1#${SHA('a')}`]);
  });

  it('has nothing installed or staged before initialise, and no manifest for names it refuses', async () => {
    expect(await new ModelRepository(path.join(root, 'absent')).listInstalled()).toEqual([]);
    expect(await new ModelRepository(path.join(root, 'absent')).cleanStaging()).toEqual([]);
    expect(await repository.readManifest('..', '1')).toBeUndefined();
    expect(await repository.readManifest('ssd', '1')).toBeUndefined();
  });

  it('announces relative paths, the descriptor only when there is one', async () => {
    const plain = repository.announcementFor(manifest('ssd', '1'));
    expect(plain).toMatchObject({ schemaVersion: 1, name: 'ssd', version: '1', format: 'onnx', sha256: SHA('a'), local_model_path: 'models/ssd/1/m.onnx', local_labelmap_path: 'models/ssd/1/l.txt' });
    expect(plain).not.toHaveProperty('descriptor_path');
    expect(repository.announcementFor({ ...manifest('ssd', '1'), descriptorFile: 'model.json' })).toMatchObject({ descriptor_path: 'models/ssd/1/model.json' });
  });

  it('initialises under folders that do not exist yet, and again over an existing repository', async () => {
    const nested = new ModelRepository(path.join(root, 'a', 'b'));
    await nested.initialise();
    await nested.initialise();
    await repository.initialise();
    expect((await readdir(path.join(root, 'a', 'b'))).sort()).toEqual(['.staging', 'models']);
    const fresh = new ModelRepository(path.join(root, 'c'));
    expect(path.dirname(await fresh.createStagingDirectory('x'))).toBe(fresh.stagingDirectory);
  });

  it('skips an entry of models/ that is no folder or no longer there (a dangling link)', async () => {
    await repository.install(await stage('a'), manifest('ssd', '1'));
    await symlink(path.join(root, 'gone'), path.join(root, 'models', 'dangling'));
    expect((await repository.listInstalled()).map(announcementKey)).toEqual([`ssd@1#${SHA('a')}`]);
  });

  it('gives each extraction a fresh staging folder named after a safe form of its label', async () => {
    const first = await repository.createStagingDirectory('ssd/../v 1');
    const second = await repository.createStagingDirectory('ssd/../v 1');
    expect(first).not.toBe(second);
    expect(path.dirname(first)).toBe(repository.stagingDirectory);
    expect(path.basename(first)).toMatch(/^ssd_\.\._v_1\.[0-9a-f]{8}\.extract$/);
  });

  it('cleans all of staging unless told what to keep', async () => {
    await repository.createStagingDirectory('x');
    await writeFile(path.join(repository.stagingDirectory, 'download.partial'), 'x');
    expect((await repository.cleanStaging()).sort()).toEqual(['download.partial', expect.stringMatching(/^x\..*\.extract$/) as unknown]);
    expect(await readdir(repository.stagingDirectory)).toEqual([]);
  });
});
