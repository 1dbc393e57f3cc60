import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidPackageError } from '../src/errors.js';
import { DEFAULT_PACKAGE_LIMITS } from '../src/package/package-limits.js';
import { preparePackage } from '../src/package/prepare-package.js';
import { buildZip, renameEntries, ssdPackage, TESTDATA, writeFixture } from './zip-fixtures.js';

let work: string;
let staging: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'package-'));
  staging = await mkdtemp(path.join(tmpdir(), 'staging-'));
});

async function prepare(zip: Buffer, limits = DEFAULT_PACKAGE_LIMITS) {
  return preparePackage(await writeFixture(work, 'package.zip', zip), 'package.zip', staging, limits);
}

async function expectRejected(zip: Buffer, pattern: RegExp, limits = DEFAULT_PACKAGE_LIMITS) {
  const error = await prepare(zip, limits).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(InvalidPackageError);
  expect((error as InvalidPackageError).code).toBe('LOADER_PACKAGE_INVALID');
  expect((error as Error).message).toMatch(pattern);
}

describe('preparePackage', () => {
  it('extracts a real zipped model with its labels and hashes the model file', async () => {
    const prepared = await prepare(await ssdPackage({ folder: 'ssd' }));
    expect(prepared).toMatchObject({ format: 'tflite', modelFile: 'ssd/ssd_mobilenet_v1_coco_quant_detect.tflite', labelsFile: 'ssd/labelmap.txt' });
    expect(prepared.modelSha256).toBe('e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13');
  });

  it('follows model.json when it names the files', async () => {
    const prepared = await prepare(await ssdPackage({ descriptor: { family: 'ssd', model: 'ssd_mobilenet_v1_coco_quant_detect.tflite', labels: 'labelmap.txt' } }));
    expect(prepared).toMatchObject({ descriptorFile: 'model.json', descriptor: { family: 'ssd' } });
  });

  it('keeps the acceptance sample images model.json names, and rejects a package that lacks one', async () => {
    const descriptor = { family: 'ssd', acceptance: { samples: [{ image: 'person.jpg', labels: ['person'] }] } };
    const zip = await ssdPackage({ descriptor, extra: [{ name: 'person.jpg', data: await readFile(path.join(TESTDATA, 'images', 'darknet_person.jpg')) }] });
    await prepare(zip);
    expect((await readdir(staging)).sort()).toEqual(['labelmap.txt', 'model.json', 'person.jpg', 'ssd_mobilenet_v1_coco_quant_detect.tflite']);
    staging = await mkdtemp(path.join(tmpdir(), 'staging-'));
    await expectRejected(await ssdPackage({ descriptor }), /names "person\.jpg", which is not in the package/);
  });

  it('accepts a raw model file', async () => {
    const prepared = await preparePackage(path.join(TESTDATA, 'models', 'yolox_nano.onnx'), 'yolox_nano.onnx', staging, DEFAULT_PACKAGE_LIMITS);
    expect(prepared).toMatchObject({ format: 'onnx', modelFile: 'yolox_nano.onnx', labelsFile: 'labels.txt' });
    expect((await readdir(staging)).sort()).toEqual(['labels.txt', 'yolox_nano.onnx']);
  });

  it('rejects a file that is no package', async () => {
    const error = await preparePackage(path.join(TESTDATA, 'models', 'labelmap.txt'), 'x.zip', staging, DEFAULT_PACKAGE_LIMITS).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidPackageError);
  });

  it('rejects zip slip with ".."', async () => {
    const zip = await buildZip([{ name: 'aa/evil.txt', data: Buffer.from('x') }]);
    await expectRejected(renameEntries(zip, 'aa/evil', '../evil'), /"\.\.\/evil\.txt"|\.\./);
    expect(await readdir(path.dirname(staging))).not.toContain('evil.txt');
  });

  it('rejects an absolute path', async () => {
    const zip = await buildZip([{ name: 'Aetc/passwd', data: Buffer.from('x') }]);
    await expectRejected(renameEntries(zip, 'Aetc/passwd', '/etc/passwd'), /absolute/);
  });

  it('rejects a symbolic link', async () => {
    await expectRejected(await buildZip([{ name: 'link', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]), /symbolic link/);
  });

  it('rejects a zip bomb by its compression ratio', async () => {
    await expectRejected(await buildZip([{ name: 'zeros.onnx', data: Buffer.alloc(64 * 1024 * 1024) }]), /compressed \d+:1/);
  });

  it('rejects an entry whose real size exceeds what its header claims', async () => {
    const zip = await buildZip([{ name: 'model.onnx', data: Buffer.alloc(4096, 7), compress: false }]);
    // Shrink the declared uncompressed size in both headers: the data keeps flowing past it.
    const patched = Buffer.from(zip);
    for (let index = patched.indexOf(Buffer.from([0x00, 0x10, 0x00, 0x00])); index >= 0; index = patched.indexOf(Buffer.from([0x00, 0x10, 0x00, 0x00]), index + 4)) patched.writeUInt32LE(16, index);
    const error = await prepare(patched).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidPackageError);
  });

  it('rejects too many entries', async () => {
    const entries = Array.from({ length: 70 }, (_, index) => ({ name: `f${index}.txt`, data: Buffer.from('x') }));
    await expectRejected(await buildZip(entries), /70 entries/);
  });

  it('rejects a package with two models and no model.json, or without labels', async () => {
    const model = await readFile(path.join(TESTDATA, 'models', 'yolox_nano.onnx'));
    await expectRejected(await buildZip([{ name: 'a.onnx', data: model }, { name: 'b.onnx', data: model }, { name: 'l.txt', data: Buffer.from('x') }]), /2 model files/);
    staging = await mkdtemp(path.join(tmpdir(), 'staging-'));
    await expectRejected(await buildZip([{ name: 'a.onnx', data: model }]), /no labels/);
  });

  it('rejects a model file whose bytes are not a model', async () => {
    await expectRejected(await buildZip([{ name: 'a.onnx', data: Buffer.from('<html>403</html>') }, { name: 'l.txt', data: Buffer.from('x') }]), /does not look like a onnx model/);
  });
});
