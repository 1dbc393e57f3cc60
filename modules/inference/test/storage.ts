import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SERVING_INDEX, ServingIndexSchema, type ModelAnnouncement, type ModelFormat, type RichModelMessage } from '@edge-ml/contracts';
import { sha256OfFile, writeJsonAtomic } from '@edge-ml/edge-kit';
import { modelFile } from './testdata.js';

export interface StagedModel {
  name: string;
  version: string;
  model: string;
  labels: string;
  descriptor?: Record<string, unknown>;
  /** The model file's bytes instead of testdata's file of that name (a damaged model). */
  modelBytes?: Buffer;
  /** More files of the package, by name (acceptance sample images). */
  files?: Record<string, Buffer>;
}

/** A shared-storage directory like the loader leaves it: models/<name>/<version>/ holding the model and its labels. */
export async function createStorage(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'storage-'));
}

export async function stageModel(storageRoot: string, staged: StagedModel): Promise<ModelAnnouncement> {
  const directory = path.join('models', staged.name, staged.version);
  await mkdir(path.join(storageRoot, directory), { recursive: true });
  if (staged.modelBytes) await writeFile(path.join(storageRoot, directory, staged.model), staged.modelBytes);
  else await copyFile(modelFile(staged.model), path.join(storageRoot, directory, staged.model));
  for (const [name, bytes] of Object.entries(staged.files ?? {})) {
    await mkdir(path.dirname(path.join(storageRoot, directory, name)), { recursive: true });
    await writeFile(path.join(storageRoot, directory, name), bytes);
  }
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

/** The DLModelOutput body the loader would send (and write to a pointer) for a staged version, with its model's sha256. */
export async function announcementBody(storageRoot: string, announcement: ModelAnnouncement): Promise<RichModelMessage> {
  return {
    schemaVersion: 1,
    name: announcement.name,
    version: announcement.version,
    format: announcement.format,
    sha256: await sha256OfFile(path.join(storageRoot, announcement.modelPath)),
    local_model_path: announcement.modelPath,
    local_labelmap_path: announcement.labelsPath,
    ...(announcement.descriptorPath ? { descriptor_path: announcement.descriptorPath } : {}),
    announcedAt: new Date().toISOString(),
  };
}

/** Writes a pointer as the loader does: to a temporary file, then renamed over the old one. */
export async function writePointer(storageRoot: string, pointer: string, body: unknown): Promise<void> {
  await mkdir(path.dirname(path.join(storageRoot, pointer)), { recursive: true });
  await writeJsonAtomic(path.join(storageRoot, pointer), body);
}

/** Writes models/serving.json as the loader does (atomically), checked against the contract first; `confirmed` gets a confirmedAt. */
export async function writeServingIndex(storageRoot: string, defaultModel: string | null, models: Record<string, { announced: RichModelMessage; confirmed: RichModelMessage | null }>): Promise<void> {
  const at = new Date().toISOString();
  const entries = Object.fromEntries(Object.entries(models).map(([name, entry]) => [name, { announced: entry.announced, confirmed: entry.confirmed ? { ...entry.confirmed, confirmedAt: at } : null }]));
  await writePointer(storageRoot, SERVING_INDEX, ServingIndexSchema.parse({ schemaVersion: 1, defaultModel, models: entries, updatedAt: at }));
}

/** A classifier of testdata: MobileNet v2 (8-bit TFLite), ImageNet labels; it calls parrot.jpg a macaw. */
export const CLASSIFIER_TFLITE = { name: 'classifier', model: 'mobilenet_v2_1.0_224_quant.tflite', labels: 'imagenet_labels.txt' };

/** Resolves once `probe` returns something other than undefined, checking every 25 ms; fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
