#!/usr/bin/env node
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalSystem } from './local-system.js';
import { parseStartArguments, START_USAGE } from './start-arguments.js';
import { buildModelPackage } from '@edge-ml/model-cli';

interface DetectResponse {
  model: { name: string; version: string };
  detections: { label: string; score: number; boxPixels: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
  timings: { totalMs: number };
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const parsed = parseStartArguments(process.argv.slice(2), process.env);
if (parsed.kind !== 'run') {
  if (parsed.kind === 'invalid') console.error(`[start] ${parsed.message}\n`);
  (parsed.kind === 'help' ? process.stdout : process.stderr).write(START_USAGE);
  process.exit(parsed.kind === 'help' ? 0 : 2);
}
const values = parsed;
const port = parsed.port;
const say = (line: string) => console.log(`[start] ${line}`);
const quietEvents = /^(model\.update\.state|Server listening|incoming request|request completed|edge\.twin\.refreshed)/;

const system = new LocalSystem({
  root,
  workDirectory: path.join(root, '.local-run'),
  inferencePort: port,
  logLevel: process.env.LOG_LEVEL ?? 'info',
  log: (label, line) => {
    if (values.verbose || !quietEvents.test(line)) console.log(`[${label.padEnd(9)}] ${line}`);
  },
});

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping');
    await system.stop().catch((error: unknown) => say(`stop failed: ${String(error)}`));
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  // A fresh shared storage each run, so that what follows is the whole update path.
  await rm(path.join(root, '.local-run', 'storage'), { recursive: true, force: true });
  say('starting the edgeHub emulator, Azurite (Blob Storage), the loader and the inference module');
  await system.start();
  const environmentFile = path.relative(process.cwd(), system.localEnvironmentFile);
  say(`Azurite's connection string and the emulator's address: ${environmentFile} (npm run model reads it; in a shell: set -a; . ${environmentFile}; set +a)`);
  const models = path.join(root, 'testdata', 'models');
  const built = await buildModelPackage([{ path: path.join(models, 'yolox_nano.onnx') }, { path: path.join(models, 'coco_classes.txt') }], {
    name: 'yolox-nano',
    family: 'yolox',
    model: 'yolox_nano.onnx',
    labels: 'coco_classes.txt',
    scoreThreshold: 0.3,
  });
  const model = await system.publish('yolox-nano-1.0.0.zip', 'yolox-nano', '1.0.0', built);
  say(`published yolox-nano 1.0.0 to Blob Storage (${built.bytes.length} bytes, sha256 ${built.sha256.slice(0, 12)}…)`);
  const patchedAt = performance.now();
  await system.setDesired('loader', { model });
  say('set the loader\'s desired properties; waiting for the model to be downloaded, verified, staged and announced');
  await system.waitFor(
    async () => {
      const response = await fetch(`${system.inferenceUrl}/health/ready`);
      const body = (await response.json()) as { model?: string };
      return response.ok && body.model === 'yolox-nano@1.0.0' ? true : undefined;
    },
    180_000,
    'the inference module to serve yolox-nano 1.0.0',
  );
  say(`the inference module serves yolox-nano 1.0.0, ${((performance.now() - patchedAt) / 1000).toFixed(1)} s after the desired-property patch`);
  const photo = path.join(root, 'testdata', 'images', 'darknet_person.jpg');
  const response = await fetch(`${system.inferenceUrl}/v1/detect`, { method: 'POST', body: await readFile(photo), headers: { 'content-type': 'image/jpeg' } });
  const result = (await response.json()) as DetectResponse;
  if (!response.ok) throw new Error(`detect answered ${response.status}: ${JSON.stringify(result)}`);
  say(`detections in ${path.relative(root, photo)} (${result.model.name} ${result.model.version}, ${result.timings.totalMs.toFixed(1)} ms):`);
  for (const detection of result.detections) {
    const box = detection.boxPixels;
    say(`  ${detection.label.padEnd(10)} ${detection.score.toFixed(2)}  at x ${Math.round(box.xmin)}-${Math.round(box.xmax)}, y ${Math.round(box.ymin)}-${Math.round(box.ymax)}`);
  }
  say('try it yourself:');
  const photoArgument = path.relative(process.cwd(), photo) || photo;
  console.log(`\n  curl -s -X POST -H 'content-type: image/jpeg' --data-binary @${photoArgument} ${system.inferenceUrl}/v1/detect`);
  console.log(`  curl -s -X POST -H 'content-type: image/jpeg' --data-binary @${photoArgument} -o detections.jpg '${system.inferenceUrl}/v1/detect?render=jpeg'`);
  const consoleServed = await fetch(`${system.inferenceUrl}/`).then((page) => page.ok, () => false);
  console.log(
    consoleServed
      ? `  console: ${system.inferenceUrl}/ in a browser (drop an image, see the boxes, the model and its activations)\n`
      : '  console: off (INFERENCE_CONSOLE=off)\n',
  );
  say(`API docs ${system.inferenceUrl}/openapi.json | loader twin: npm run emulator -- twin loader | Ctrl-C stops everything`);
  if (values.once) await stop(0);
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
}
