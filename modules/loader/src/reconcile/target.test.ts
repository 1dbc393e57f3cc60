import { describe, expect, it } from 'vitest';
import { InvalidDesiredError } from '../errors.js';
import { installedTarget, readDesired, seedModelName, targetFromDesired } from './target.js';

const SHA = 'a'.repeat(64);
const MD5 = '0123456789abcdef0123456789abcdef';

describe('readDesired: the rich form', () => {
  const model = { name: 'ssd', version: '2', url: 'https://blob.example/models/ssd-v2.zip?sig=abc', sha256: SHA };

  it('downloads what the model names, the file name taken from the URL path without its query', () => {
    const { target, policy } = readDesired({ model });
    expect(target).toEqual({ source: 'download', name: 'ssd', version: '2', url: model.url, fileName: 'ssd-v2.zip', sha256: SHA, key: expect.stringMatching(/^[0-9a-f]{24}$/) as unknown });
    expect(policy).toEqual({ keepVersions: 2, confirmTimeoutSeconds: 300, confirmResendSeconds: 30, removeGraceSeconds: 3600 });
  });

  it('carries md5, sizeBytes and the delta manifest only when they are given', () => {
    const { target } = readDesired({ model: { ...model, md5: MD5, sizeBytes: 1234, delta: { manifestUrl: 'https://blob.example/ssd.delta.json' } } });
    expect(target).toMatchObject({ md5: MD5, sizeBytes: 1234, deltaManifestUrl: 'https://blob.example/ssd.delta.json' });
    expect(Object.keys(readDesired({ model }).target ?? {}).sort()).toEqual(['fileName', 'key', 'name', 'sha256', 'source', 'url', 'version']);
  });

  it('decodes the last URL segment, and names the package "package" when that is no safe file name', () => {
    const fileName = (url: string) => readDesired({ model: { ...model, url } }).target?.fileName;
    expect(fileName('https://x/a/my%20model.zip')).toBe('my model.zip');
    expect(fileName('https://x/a/model.zip/')).toBe('model.zip');
    expect(fileName('https://x/a/%2E%2E')).toBe('package');
    expect(fileName('https://x/a/a%2Fb.zip')).toBe('package');
    expect(fileName('https://x/a/%E0%A4%A.zip')).toBe('package');
    expect(fileName('https://x/')).toBe('package');
  });

  it('keys a package by name, version and hash: a renewed URL keeps the key, any other change makes a new one', () => {
    const key = (changes: object) => readDesired({ model: { ...model, ...changes } }).target?.key;
    const base = key({});
    expect(key({ url: 'https://other.example/ssd-v2.zip?sig=renewed' })).toBe(base);
    expect(new Set([base, key({ name: 'ssd2' }), key({ version: '3' }), key({ sha256: 'b'.repeat(64) })]).size).toBe(4);
    // The parts are separated: moving a character between name and version is another package.
    expect(key({ name: 'ss', version: 'd2' })).not.toBe(key({ name: 'ssd', version: '2' }));
  });

  it('wins over seed fields next to it, and reads the policy', () => {
    const { target, policy } = readDesired({ model, FileName: 'other.zip', DownloadUrl: 'https://x/other.zip', policy: { keepVersions: 5, confirmTimeoutSeconds: 0 } });
    expect(target?.name).toBe('ssd');
    expect(policy).toMatchObject({ keepVersions: 5, confirmTimeoutSeconds: 0 });
  });
});

describe('readDesired: the seed form', () => {
  it('names the model after the file and the version after its MD5', () => {
    const { target } = readDesired({ FileName: 'ssd mobilenet.v1.zip', DownloadUrl: 'https://x/y.zip', ContentMD5: MD5 });
    expect(target).toEqual({ source: 'download', name: 'ssd_mobilenet.v1', version: 'md5-0123456789ab', url: 'https://x/y.zip', fileName: 'ssd mobilenet.v1.zip', md5: MD5, key: expect.any(String) as unknown });
  });

  it('calls a version without MD5 "seed" and keys it by the file name', () => {
    const { target } = readDesired({ FileName: 'a.zip', DownloadUrl: 'https://x/a.zip' });
    expect(target).toMatchObject({ name: 'a', version: 'seed' });
    expect(target).not.toHaveProperty('md5');
    expect(readDesired({ FileName: 'a.zip', DownloadUrl: 'https://x/renewed' }).target?.key).toBe(target?.key);
    expect(readDesired({ FileName: 'a.onnx', DownloadUrl: 'https://x/a.zip' }).target?.key).not.toBe(target?.key);
    expect(readDesired({ FileName: 'a.zip', DownloadUrl: 'https://x/a.zip', ContentMD5: MD5 }).target?.key).not.toBe(target?.key);
  });
});

describe('readDesired: nothing, or something invalid', () => {
  it('has no target when neither form is there', () => {
    expect(readDesired({}).target).toBeUndefined();
    expect(readDesired({ $version: 4, model: null }).target).toBeUndefined();
    expect(targetFromDesired({ kind: 'none', policy: { keepVersions: 2, confirmTimeoutSeconds: 300, confirmResendSeconds: 30, removeGraceSeconds: 3600 } })).toBeUndefined();
  });

  it('refuses invalid properties with a typed error', () => {
    for (const properties of [{ model: { name: 'ssd' } }, { FileName: 'a.zip', DownloadUrl: 'ftp://x/a.zip' }, { model: { name: '..', version: '1', url: 'https://x/a', sha256: SHA } }, { policy: { keepVersions: 0 } }]) {
      const error = (() => {
        try {
          readDesired(properties);
          return undefined;
        } catch (caught) {
          return caught;
        }
      })();
      expect(error, JSON.stringify(properties)).toBeInstanceOf(InvalidDesiredError);
      expect((error as InvalidDesiredError).code).toBe('LOADER_DESIRED_INVALID');
    }
  });

  it('names every offending field by its path, one after another', () => {
    expect(() => readDesired({ model: { name: 'ssd', version: '1', url: 'ftp://x/a.zip', sha256: 'nope' } })).toThrow(/model\.url: [^;]+; model\.sha256: /);
  });

  it('keeps the valid entries of the models map and names each invalid entry and key with its field, refusing only too many', () => {
    const good = { version: '1', url: 'https://h/a.zip', sha256: 'a'.repeat(64) };
    const desired = readDesired({ models: { ssd: good, bad: { version: '1', url: 'ftp://x/a.zip', sha256: 'zz' }, nover: { url: 'https://h/a.zip', sha256: 'a'.repeat(64) }, other: { ...good, name: 'x' }, 'a%2Fb': good } });
    expect([...desired.targets.keys()]).toEqual(['ssd']);
    expect(Object.keys(desired.invalid).sort()).toEqual(['bad', 'nover', 'other']);
    expect(desired.invalid.bad).toMatch(/^url: [^;]+; sha256: /);
    expect(desired.invalid.nover).toMatch(/^version: /);
    expect(desired.invalid.other).toMatch(/^name: must be the model its key names, "other"/);
    expect(Object.keys(desired.invalidKeys)).toEqual(['a%2Fb']);
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`m${index}`, index === 0 ? good : { version: '1' }]));
    expect(() => readDesired({ models: many })).toThrow(/at most 16 models/);
  });
});

describe('seedModelName', () => {
  it('drops the last extension and replaces characters a directory name cannot hold', () => {
    expect(seedModelName('ssd.tflite')).toBe('ssd');
    expect(seedModelName('ssd.v1.zip')).toBe('ssd.v1');
    expect(seedModelName('a b+c.zip')).toBe('a_b_c');
    expect(seedModelName('Model-1_x')).toBe('Model-1_x');
  });
  it('falls back to "model" when what is left is no valid name', () => {
    expect(seedModelName('.zip')).toBe('model');
    expect(seedModelName('...zip')).toBe('model');
  });
});

describe('installedTarget', () => {
  it('names an installed version with a key of its own, distinct from a download of the same version', () => {
    const target = installedTarget('ssd', '2', SHA);
    expect(target).toEqual({ source: 'installed', name: 'ssd', version: '2', modelSha256: SHA, key: expect.stringMatching(/^[0-9a-f]{24}$/) as unknown });
    expect(target.key).not.toBe(readDesired({ model: { name: 'ssd', version: '2', url: 'https://x/a.zip', sha256: SHA } }).target?.key);
    expect(installedTarget('ssd', '2', 'b'.repeat(64)).key).not.toBe(target.key);
  });
});

describe('readDesired: the models form', () => {
  const entry = (version: string) => ({ version, url: `https://blob.example/m-${version}.zip`, sha256: SHA });

  it('makes every entry a target named by its key, in name order, with the default the desired one names', () => {
    const desired = readDesired({ models: { yolox: entry('3'), ssd: entry('1') }, defaultModel: 'yolox', model: { name: 'x', ...entry('9') } });
    expect(desired.kind).toBe('models');
    expect([...desired.targets.keys()]).toEqual(['ssd', 'yolox']);
    expect(desired.targets.get('ssd')).toMatchObject({ source: 'download', name: 'ssd', version: '1', fileName: 'm-1.zip' });
    expect(desired.defaultModel).toBe('yolox');
    expect(desired.target).toMatchObject({ name: 'yolox', version: '3' });
  });

  it('names no default when the map names none (the default target is then the first by name), and none for an empty map', () => {
    const desired = readDesired({ models: { yolox: entry('3'), ssd: entry('1') } });
    expect(desired.defaultModel).toBeNull();
    expect(desired.target?.name).toBe('ssd');
    const empty = readDesired({ models: {} });
    expect(empty.targets.size).toBe(0);
    expect(empty.target).toBeUndefined();
    expect(empty.defaultModel).toBeNull();
  });

  it('gives each entry the key a single rich model of the same name and version gets', () => {
    expect(readDesired({ models: { ssd: entry('1') } }).targets.get('ssd')?.key).toBe(readDesired({ model: { name: 'ssd', ...entry('1') } }).target?.key);
  });

  it('makes the single forms one entry, and that entry the default', () => {
    expect(readDesired({ model: { name: 'ssd', ...entry('1') } })).toMatchObject({ kind: 'rich', defaultModel: 'ssd' });
    const seed = readDesired({ FileName: 'ssd.zip', DownloadUrl: 'https://x/ssd.zip' });
    expect([...seed.targets.keys()]).toEqual(['ssd']);
    expect(seed).toMatchObject({ kind: 'seed', defaultModel: 'ssd' });
    expect(readDesired({})).toMatchObject({ kind: 'none', defaultModel: null, target: undefined });
  });
});
