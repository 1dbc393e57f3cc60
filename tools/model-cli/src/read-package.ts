import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';
import { modelFormatFromFileName, type ModelFormat } from '@edge-ml/contracts';
import { CliError } from './cli-error.js';

export interface PackageContents {
  modelFile: string;
  format: ModelFormat;
  model: Buffer;
  /** The other files, by name (labels, model.json). */
  files: Record<string, Buffer>;
}

function entries(bytes: Buffer): Promise<{ name: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(new CliError(`not a zip package: ${error?.message ?? 'unreadable'}`));
      const found: { name: string; data: Buffer }[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return reject(new CliError(`cannot read ${entry.fileName} in the package`));
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            found.push({ name: entry.fileName, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(found));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** The files of a package made by `edge-model package`: one model at the top level and its companions. */
export async function readPackage(file: string): Promise<{ bytes: Buffer; contents: PackageContents }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new CliError(`cannot read ${file}`);
  }
  const all = await entries(bytes);
  const models = all.filter((entry) => modelFormatFromFileName(entry.name));
  const [model] = models;
  if (models.length !== 1 || !model) throw new CliError(`${path.basename(file)} must hold exactly one .onnx or .tflite model (found ${models.length})`);
  if (all.some((entry) => entry.name.includes('/'))) throw new CliError(`${path.basename(file)} has folders; delta manifests need the flat packages edge-model package writes`);
  const format = modelFormatFromFileName(model.name) as ModelFormat;
  return { bytes, contents: { modelFile: model.name, format, model: model.data, files: Object.fromEntries(all.filter((entry) => entry !== model).map((entry) => [entry.name, entry.data])) } };
}
