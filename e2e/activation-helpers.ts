import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModelPackage, LocalSystem, type BuiltPackage } from '@edge-ml/local-run';
import { freePort } from '@edge-ml/testkit';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = path.join(root, 'testdata', 'models');
export const photo = path.join(root, 'testdata', 'images', 'darknet_person.jpg');

/** Good packages (SSD calls the horse in the photo a sheep, YOLOX a horse) and broken ones of several kinds. */
export const packages = {
  ssd: () => buildModelPackage([{ path: path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite') }, { path: path.join(models, 'labelmap.txt') }]),
  yolox: () => buildModelPackage([{ path: path.join(models, 'yolox_nano.onnx') }, { path: path.join(models, 'coco_classes.txt') }], { family: 'yolox' }),
  /** An ONNX file cut in half: the loader's checks pass (it starts like ONNX), the runtime cannot load it. */
  truncatedOnnx: async () => {
    const whole = await readFile(path.join(models, 'yolox_nano.onnx'));
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'truncated-')), 'yolox_nano.onnx');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    return buildModelPackage([{ path: file }, { path: path.join(models, 'coco_classes.txt') }], { family: 'yolox' });
  },
  /** A classification model declared as an SSD detector: it loads, but its outputs are not a detector's. */
  wrongFamily: () => buildModelPackage([{ path: path.join(models, 'mobilenet_v2_1.0_224_quant.tflite') }, { path: path.join(models, 'labelmap.txt') }], { family: 'ssd' }),
  /** A good model whose acceptance sample demands a label it does not find in the photo. */
  failingAcceptance: () =>
    buildModelPackage([{ path: path.join(models, 'yolox_nano.onnx') }, { path: path.join(models, 'coco_classes.txt') }, { path: photo, name: 'samples/person.jpg' }], {
      family: 'yolox',
      acceptance: { samples: [{ image: 'samples/person.jpg', labels: ['giraffe'] }] },
    }),
};

export interface LoaderReport {
  modelUpdate?: { state: string; name?: string; version?: string; error?: { code: string; message: string } | null };
  activeModel?: { name: string; version: string; sha256: string } | null;
  LatestAIModelFileName?: string;
}
interface InferenceReport {
  activeModel?: { name: string; version: string; sha256?: string } | null;
  lastActivation?: { version: string; outcome: string; error?: { code: string } | null } | null;
}
interface ModelsResponse {
  active: { name: string; version: string; sha256?: string } | null;
}

/** What each part of the device says is served: the loader's and the inference module's twins and the HTTP API. */
export async function observe(system: LocalSystem) {
  const loader = (await system.reported('loader')) as LoaderReport;
  const inference = (await system.reported('inference')) as InferenceReport;
  const response = await fetch(`${system.inferenceUrl}/v1/models`).catch(() => undefined);
  const models = response?.ok ? ((await response.json()) as ModelsResponse) : undefined;
  return { loader, inference, models };
}

const same = (a: { name: string; version: string; sha256?: string } | null | undefined, b: { name: string; version: string; sha256?: string } | null | undefined) =>
  a !== undefined && a !== null && b !== undefined && b !== null && a.name === b.name && a.version === b.version && (!a.sha256 || !b.sha256 || a.sha256 === b.sha256);

/**
 * Resolves once the device has settled on `version` of `name`: the loader reports it active and confirmed, the
 * inference module reports it served, and /v1/models serves it. `after` names the version the loader must have
 * rejected first, with a code from the inference module (not the loader's own timeout).
 */
export function converged(system: LocalSystem, name: string, version: string, rejected?: string) {
  return async () => {
    const { loader, inference, models } = await observe(system);
    if (!models?.active || models.active.name !== name || models.active.version !== version) return undefined;
    if (!same(loader.activeModel, models.active) || !same(inference.activeModel, models.active)) return undefined;
    const update = loader.modelUpdate;
    if (rejected === undefined ? update?.state !== 'active' || update.version !== version : update?.state !== 'rejected' || update.version !== rejected) return undefined;
    return { loader, inference, models };
  };
}

export async function detect(system: LocalSystem, image: Buffer): Promise<{ status: number; version?: string; labels?: string[] }> {
  const response = await fetch(`${system.inferenceUrl}/v1/detect`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
  if (!response.ok) return { status: response.status };
  const body = (await response.json()) as { model: { version: string }; detections: { label: string }[] };
  return { status: response.status, version: body.model.version, labels: body.detections.map((detection) => detection.label) };
}

/**
 * Builds the workspace when it has not been built, then starts the whole system (emulator, Azurite, both modules as
 * processes) in a fresh folder named after `prefix`; module log lines go to `logs`. The inference module polls its
 * pointers every `pollMs`.
 */
export async function startSystem(prefix: string, logs: string[], pollMs = 2000): Promise<LocalSystem> {
  if (!existsSync(path.join(root, 'tools/local-run/dist/index.js'))) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')]);
  const system = new LocalSystem({
    root,
    workDirectory: await mkdtemp(path.join(tmpdir(), prefix)),
    inferencePort: await freePort(),
    logLevel: 'info',
    log: (label, line) => logs.push(`[${label}] ${line}`),
    moduleEnvironment: { inference: { INFERENCE_POINTER_POLL_MS: String(pollMs) } },
  });
  await system.start();
  return system;
}

export type { BuiltPackage };
