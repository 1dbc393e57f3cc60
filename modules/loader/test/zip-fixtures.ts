import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';

export const TESTDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../testdata');

export interface ZipEntry {
  name: string;
  data: Buffer;
  mode?: number;
  compress?: boolean;
}

export function buildZip(entries: ZipEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) zip.addBuffer(entry.data, entry.name, { compress: entry.compress ?? true, ...(entry.mode ? { mode: entry.mode } : {}) });
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
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
export async function ssdPackage(options: { descriptor?: object; folder?: string } = {}): Promise<Buffer> {
  const prefix = options.folder ? `${options.folder}/` : '';
  const entries: ZipEntry[] = [
    { name: `${prefix}ssd_mobilenet_v1_coco_quant_detect.tflite`, data: await readFile(path.join(TESTDATA, 'models', 'ssd_mobilenet_v1_coco_quant_detect.tflite')) },
    { name: `${prefix}labelmap.txt`, data: await readFile(path.join(TESTDATA, 'models', 'labelmap.txt')) },
  ];
  if (options.descriptor) entries.push({ name: `${prefix}model.json`, data: Buffer.from(JSON.stringify(options.descriptor)) });
  return buildZip(entries);
}

export async function writeFixture(directory: string, name: string, data: Buffer): Promise<string> {
  const file = path.join(directory, name);
  await writeFile(file, data);
  return file;
}
