import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeltaManifestV2 } from '@edge-ml/contracts';
import { buildZip as buildPackageZip, type ZipEntry } from '../src/package/build-zip.js';

export type { ZipEntry };

export const TESTDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../testdata');

/** Test packages are deflated unless an entry says otherwise, as publishers' zips usually are. */
export function buildZip(entries: ZipEntry[]): Promise<Buffer> {
  return buildPackageZip(entries.map((entry) => ({ ...entry, compress: entry.compress ?? true })));
}

/** yazl refuses hostile names, so they are written as harmless names of the same length and then patched in place. */
export function renameEntries(zip: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('names must have the same length');
  const patched = Buffer.from(zip);
  let index = patched.indexOf(from);
  while (index >= 0) {
    patched.write(to, index, 'latin1');
    index = patched.indexOf(from, index + 1);
  }
  return patched;
}

/** A real model package: the SSD model and its labelmap, optionally with a model.json. */
export async function ssdPackage(options: { descriptor?: object; folder?: string; extra?: ZipEntry[] } = {}): Promise<Buffer> {
  const prefix = options.folder ? `${options.folder}/` : '';
  const entries: ZipEntry[] = [
    { name: `${prefix}ssd_mobilenet_v1_coco_quant_detect.tflite`, data: await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite')) },
    { name: `${prefix}labelmap.txt`, data: await readFile(path.join(TESTDATA, 'models', 'labelmap.txt')) },
  ];
  if (options.descriptor) entries.push({ name: `${prefix}model.json`, data: Buffer.from(JSON.stringify(options.descriptor)) });
  for (const entry of options.extra ?? []) entries.push({ ...entry, name: `${prefix}${entry.name}` });
  return buildZip(entries);
}

/** `count` distinct packages of the SSD model (padded by 0, 1, 2, … bytes): each version its own bytes and sha256. */
export async function distinctSsdPackages(count: number): Promise<Buffer[]> {
  const model = await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite'));
  const labels = await readFile(path.join(TESTDATA, 'models', 'labelmap.txt'));
  return Promise.all(Array.from({ length: count }, (_, index) => buildZip([{ name: 'detect.tflite', data: Buffer.concat([model, Buffer.alloc(index)]) }, { name: 'labelmap.txt', data: labels }])));
}

export async function writeFixture(directory: string, name: string, data: Buffer): Promise<string> {
  const file = path.join(directory, name);
  await writeFile(file, data);
  return file;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * The schema-2 delta manifest the tests publish for an SSD package (`detect.tflite` and an unchanged `labelmap.txt`):
 * no patches and no chunk list unless given; `chunks.list` is the published list blob, of which the first
 * `listSizeBytes` bytes are the list (all of it when absent).
 */
export function ssdDeltaManifest(options: {
  version: string;
  pkg: Uint8Array;
  model: Uint8Array;
  labels: Uint8Array;
  modelSizeBytes?: number;
  patches?: DeltaManifestV2['patches'];
  chunks?: { list: Uint8Array; listSizeBytes?: number; listUrl: string; modelUrl: string };
}): DeltaManifestV2 {
  const { chunks } = options;
  const listSizeBytes = chunks?.listSizeBytes ?? chunks?.list.length ?? 0;
  return {
    schemaVersion: 2,
    name: 'ssd',
    version: options.version,
    package: { sha256: sha256(options.pkg), sizeBytes: options.pkg.length },
    model: { file: 'detect.tflite', format: 'tflite', sha256: sha256(options.model), sizeBytes: options.modelSizeBytes ?? options.model.length },
    files: { 'labelmap.txt': { sha256: sha256(options.labels), sizeBytes: options.labels.length } },
    patches: options.patches ?? [],
    ...(chunks ? { chunks: { listUrl: chunks.listUrl, listSha256: sha256(chunks.list.subarray(0, listSizeBytes)), listSizeBytes, modelUrl: chunks.modelUrl } } : {}),
  };
}
