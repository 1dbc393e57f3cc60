// The resident memory of our server holding a given set of models, in a process of its own and, like
// bench/floor/ours-idle.mjs, plain JavaScript from the built dist/ (no TypeScript loader thread): the inference service
// with WORKERS workers (HTTP server listening, edge and console off), each listed model activated under its own name and
// asked two requests per worker, then one second idle and a gc(). No model listed: the bare service, subtracted once.
// Prints one JSON line { rss } (bytes). Needs `npm run build` (npm run bench bootstraps it).
// With --no-requests the models are loaded (and warmed up by the activation) but asked nothing.
// Usage: node --expose-gc bench/several-models/models-rss.mjs [--no-requests] WORKERS [NAME=MODEL_FILE:LABELS_FILE ...]
import '../../modules/inference/dist/uv-threadpool.js';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@edge-ml/edge-kit';
import { createInferenceService, InferenceConfigSchema } from '@edge-ml/inference';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const noRequests = process.argv.includes('--no-requests');
const [workers = '2', ...specs] = process.argv.slice(2).filter((argument) => argument !== '--no-requests');
const threadEnv = Object.fromEntries(['INFERENCE_THREADS_PER_WORKER', 'INFERENCE_JOBS_PER_WORKER', 'INFERENCE_DECODE_THREADS'].flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])));
const storage = await mkdtemp(path.join(tmpdir(), 'bench-models-rss-'));
const config = InferenceConfigSchema.parse({ STORAGE_ROOT: storage, EDGE_MODE: 'off', INFERENCE_WORKERS: workers, INFERENCE_CONSOLE: 'off', INFERENCE_MEMORY_BUDGET_MB: 'off', ...threadEnv });
const service = await createInferenceService({ config, logger: createLogger({ name: 'bench', level: 'warn' }), edgeClient: null });
await service.app.listen({ host: '127.0.0.1', port: 0 });
const image = await readFile(path.join(root, 'testdata', 'images', 'darknet_person.jpg'));
for (const spec of specs) {
  const [name, files] = spec.split('=');
  const [model, labels] = files.split(':');
  const directory = path.join('models', name, '1');
  await mkdir(path.join(storage, directory), { recursive: true });
  for (const file of [model, labels]) await copyFile(path.join(root, 'testdata', 'models', file), path.join(storage, directory, file));
  const outcome = await service.models.activate({ name, version: '1', format: model.endsWith('.onnx') ? 'onnx' : 'tflite', modelPath: `${directory}/${model}`, labelsPath: `${directory}/${labels}` });
  if (outcome.status !== 'activated') throw new Error(`${name}: ${outcome.status}`);
  if (!noRequests) await Promise.all(Array.from({ length: Number(workers) * 2 }, () => service.models.detect(name, image)));
}
await new Promise((resolve) => setTimeout(resolve, 1000));
globalThis.gc?.();
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(JSON.stringify({ rss: process.memoryUsage().rss }));
await service.close();
await rm(storage, { recursive: true, force: true });
