import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256OfFile } from '@edge-ml/edge-kit';
import { ModelDescriptorSchema, type AcceptanceSample, type ModelAnnouncement, type ModelDescriptor } from '@edge-ml/contracts';
import { AcceptanceFailedError, InvalidDescriptorError, ModelChecksumError, ModelFileError, PathOutsideStorageError } from './serving-errors.js';

/** Resolves a storage-relative path, following symlinks, and refuses anything that ends up outside the root. */
export async function resolveInsideStorage(storageRoot: string, relativePath: string): Promise<string> {
  const root = await realpath(storageRoot);
  const candidate = path.resolve(root, relativePath);
  if (candidate !== root && !candidate.startsWith(root + path.sep)) throw new PathOutsideStorageError(relativePath);
  let resolved: string;
  try {
    resolved = await realpath(candidate);
  } catch (error) {
    throw new ModelFileError(relativePath, 'no such file on shared storage', { cause: error });
  }
  if (!resolved.startsWith(root + path.sep)) throw new PathOutsideStorageError(relativePath);
  return resolved;
}

export interface ModelFiles {
  modelPath: string;
  labelsText: string;
  descriptor?: ModelDescriptor;
  sha256: string;
  sizeBytes: number;
}

/** Reads what an announcement points at and checks it: confined paths, a parseable descriptor, the announced sha256. */
export async function readModelFiles(storageRoot: string, announcement: ModelAnnouncement): Promise<ModelFiles> {
  const modelPath = await resolveInsideStorage(storageRoot, announcement.modelPath);
  const labelsPath = await resolveInsideStorage(storageRoot, announcement.labelsPath);
  let descriptor: ModelDescriptor | undefined;
  if (announcement.descriptorPath) {
    const descriptorPath = await resolveInsideStorage(storageRoot, announcement.descriptorPath);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(descriptorPath, 'utf8'));
    } catch (error) {
      throw new InvalidDescriptorError(announcement.descriptorPath, error instanceof Error ? error.message : String(error));
    }
    const result = ModelDescriptorSchema.safeParse(parsed);
    if (!result.success) {
      throw new InvalidDescriptorError(announcement.descriptorPath, result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    }
    descriptor = result.data;
  }
  const sha256 = await sha256OfFile(modelPath);
  if (announcement.sha256 && announcement.sha256 !== sha256) throw new ModelChecksumError(announcement.modelPath, announcement.sha256, sha256);
  const labelsText = await readFile(labelsPath, 'utf8');
  const { size: sizeBytes } = await stat(modelPath);
  return { modelPath, labelsText, sha256, sizeBytes, ...(descriptor ? { descriptor } : {}) };
}

/** An acceptance sample with its image read from the package. */
export interface LoadedSample extends AcceptanceSample {
  bytes: Buffer;
}

/** Reads the images named by model.json's acceptance section; they sit next to model.json, inside shared storage. */
export async function readAcceptanceSamples(storageRoot: string, announcement: ModelAnnouncement, descriptor: ModelDescriptor | undefined): Promise<LoadedSample[]> {
  const samples = descriptor?.acceptance?.samples ?? [];
  if (samples.length === 0 || !announcement.descriptorPath) return [];
  const packageDirectory = path.posix.dirname(announcement.descriptorPath);
  const loaded: LoadedSample[] = [];
  for (const sample of samples) {
    const relativePath = path.posix.join(packageDirectory, sample.image);
    try {
      loaded.push({ ...sample, bytes: await readFile(await resolveInsideStorage(storageRoot, relativePath)) });
    } catch (error) {
      if (error instanceof PathOutsideStorageError) throw error;
      throw new AcceptanceFailedError(sample.image, `it is not in the package (${relativePath} cannot be read)`);
    }
  }
  return loaded;
}
