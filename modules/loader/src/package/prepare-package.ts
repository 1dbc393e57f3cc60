import { copyFile, open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isSafePathSegment, modelFormatFromFileName, type ModelFormat } from '@edge-ml/contracts';
import { sha256OfFile } from '@edge-ml/edge-kit';
import { InvalidPackageError } from '../errors.js';
import { spaceLedger } from '../storage/space-ledger.js';
import { extractZip } from './extract-zip.js';
import { locatePackageFiles, type PackageFiles } from './locate-package-files.js';
import type { PackageLimits } from './package-limits.js';

export type PackageKind = 'zip' | ModelFormat;

async function readHead(filePath: string, length: number): Promise<Buffer> {
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** What the first bytes say the file is: a zip, a TFLite flatbuffer, an ONNX protobuf, or nothing we take. */
export async function sniffPackageKind(filePath: string): Promise<PackageKind | undefined> {
  const head = await readHead(filePath, 8);
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head.length >= 8 && head.subarray(4, 8).toString('latin1') === 'TFL3') return 'tflite';
  // ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
  if (head.length >= 2 && head[0] === 0x08 && (head[1] ?? 0) > 0 && (head[1] ?? 0) < 0x20) return 'onnx';
  return undefined;
}

export interface PreparedPackage extends PackageFiles {
  modelSha256: string;
}

/**
 * Turns a verified download into a package directory in staging: a zip is extracted safely, a raw model file is
 * copied under its own name with an empty labels file (its classes are then named class_<id>). The model file's
 * kind must match its extension.
 */
export async function preparePackage(downloadPath: string, fileName: string, stagingDirectory: string, limits: PackageLimits, signal?: AbortSignal): Promise<PreparedPackage> {
  const kind = await sniffPackageKind(downloadPath);
  let files: PackageFiles;
  if (kind === 'zip') {
    const extracted = await extractZip(downloadPath, stagingDirectory, limits, signal);
    files = await locatePackageFiles(stagingDirectory, extracted);
  } else if (kind === 'onnx' || kind === 'tflite') {
    const modelFile = modelFormatFromFileName(fileName) === kind && isSafePathSegment(path.basename(fileName)) ? path.basename(fileName) : `model.${kind}`;
    const room = await spaceLedger.reserve(stagingDirectory, (await stat(downloadPath)).size, stagingDirectory);
    try {
      await copyFile(downloadPath, path.join(stagingDirectory, modelFile));
    } finally {
      room.release();
    }
    await writeFile(path.join(stagingDirectory, 'labels.txt'), '');
    files = { modelFile, labelsFile: 'labels.txt', format: kind };
  } else {
    throw new InvalidPackageError('it is neither a zip archive nor an ONNX or TFLite model');
  }
  const modelPath = path.join(stagingDirectory, files.modelFile);
  const modelKind = await sniffPackageKind(modelPath);
  if (modelKind !== files.format) throw new InvalidPackageError(`"${files.modelFile}" does not look like a ${files.format} model`);
  return { ...files, modelSha256: await sha256OfFile(modelPath) };
}
