import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelAnnouncement, ModelFormat } from '@edge-ml/contracts';
import { modelFile } from './testdata.js';

export interface StagedModel {
  name: string;
  version: string;
  model: string;
  labels: string;
  descriptor?: Record<string, unknown>;
}

/** A shared-storage directory like the loader leaves it: models/<name>/<version>/ holding the model and its labels. */
export async function createStorage(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'storage-'));
}

export async function stageModel(storageRoot: string, staged: StagedModel): Promise<ModelAnnouncement> {
  const directory = path.join('models', staged.name, staged.version);
  await mkdir(path.join(storageRoot, directory), { recursive: true });
  await copyFile(modelFile(staged.model), path.join(storageRoot, directory, staged.model));
  await copyFile(modelFile(staged.labels), path.join(storageRoot, directory, staged.labels));
  if (staged.descriptor) await writeFile(path.join(storageRoot, directory, 'model.json'), JSON.stringify(staged.descriptor));
  const format: ModelFormat = staged.model.endsWith('.onnx') ? 'onnx' : 'tflite';
  return {
    name: staged.name,
    version: staged.version,
    format,
    modelPath: `${directory}/${staged.model}`,
    labelsPath: `${directory}/${staged.labels}`,
    ...(staged.descriptor ? { descriptorPath: `${directory}/model.json` } : {}),
  };
}

export const YOLOX_ONNX = { name: 'yolox', model: 'yolox_nano.onnx', labels: 'coco_classes.txt' };
export const SSD_TFLITE = { name: 'ssd', model: 'ssd_mobilenet_v1_coco_quant_detect.tflite', labels: 'labelmap.txt' };
