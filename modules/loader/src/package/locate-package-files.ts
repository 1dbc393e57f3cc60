import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MODEL_DESCRIPTOR_FILE, ModelDescriptorSchema, modelFormatFromFileName, type ModelDescriptor, type ModelFormat } from '@edge-ml/contracts';
import { InvalidPackageError } from '../errors.js';

export interface PackageFiles {
  /** Relative to the package directory. */
  modelFile: string;
  labelsFile: string;
  descriptorFile?: string;
  descriptor?: ModelDescriptor;
  format: ModelFormat;
}

/**
 * Finds the model, its labels and the optional model.json among the extracted files. A package holds exactly one
 * model file; the labels are what model.json names, else the one .txt file. Everything model.json names (model,
 * labels, acceptance sample images) must be a file of the package.
 */
export async function locatePackageFiles(directory: string, files: string[]): Promise<PackageFiles> {
  const descriptorFile = files.find((file) => path.posix.basename(file) === MODEL_DESCRIPTOR_FILE);
  let descriptor: ModelDescriptor | undefined;
  if (descriptorFile) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(path.join(directory, descriptorFile), 'utf8'));
    } catch {
      throw new InvalidPackageError(`${descriptorFile} is not valid JSON`);
    }
    const parsed = ModelDescriptorSchema.safeParse(json);
    if (!parsed.success) throw new InvalidPackageError(`${descriptorFile}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    descriptor = parsed.data;
  }
  const base = descriptorFile ? path.posix.dirname(descriptorFile) : '';
  const named = (name: string | undefined) => {
    if (!name) return undefined;
    const file = base && base !== '.' ? `${base}/${name}` : name;
    if (!files.includes(file)) throw new InvalidPackageError(`${MODEL_DESCRIPTOR_FILE} names "${name}", which is not in the package`);
    return file;
  };
  const models = files.filter((file) => modelFormatFromFileName(file) !== undefined);
  const modelFile = named(descriptor?.model) ?? (models.length === 1 ? models[0] : undefined);
  if (!modelFile) {
    throw new InvalidPackageError(models.length === 0 ? 'it holds no .onnx or .tflite model' : `it holds ${models.length} model files (${models.join(', ')}); name one in ${MODEL_DESCRIPTOR_FILE}`);
  }
  const texts = files.filter((file) => file.toLowerCase().endsWith('.txt'));
  const labelsFile = named(descriptor?.labels) ?? (texts.length === 1 ? texts[0] : undefined);
  if (!labelsFile) {
    throw new InvalidPackageError(texts.length === 0 ? 'it holds no labels file (.txt)' : `it holds ${texts.length} .txt files; name the labels in ${MODEL_DESCRIPTOR_FILE}`);
  }
  // Acceptance samples are installed with the package (extraction keeps every file); they must be there to be run.
  for (const sample of descriptor?.acceptance?.samples ?? []) named(sample.image);
  const format = modelFormatFromFileName(modelFile);
  if (!format) throw new InvalidPackageError(`"${modelFile}" is not a .onnx or .tflite file`);
  return { modelFile, labelsFile, format, ...(descriptorFile ? { descriptorFile } : {}), ...(descriptor ? { descriptor } : {}) };
}
