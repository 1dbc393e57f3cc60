// Our server's idle RSS, in a process of its own like the bare floor's and, like it, plain JavaScript (the built
// dist/, no TypeScript loader thread): the inference service with WORKERS workers (HTTP server listening, the edge
// and the console off), YOLOX-nano activated, two requests answered per worker, then one second idle.
// Prints one JSON line { idleRss }. Needs `npm run build` (npm run bench bootstraps it).
// Usage: node --expose-gc bench/floor/ours-idle.mjs WORKERS
import '../../modules/inference/dist/uv-threadpool.js';
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@edge-ml/edge-kit';
import { createInferenceService, InferenceConfigSchema } from '@edge-ml/inference';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const workers = process.argv[2] ?? '2';
const threadEnv = Object.fromEntries(['INFERENCE_THREADS_PER_WORKER', 'INFERENCE_JOBS_PER_WORKER', 'INFERENCE_DECODE_THREADS'].flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])));
const storage = await mkdtemp(path.join(tmpdir(), 'bench-idle-'));
const directory = path.join('models', 'yolox', '1');
await mkdir(path.join(storage, directory), { recursive: true });
for (const file of ['yolox_nano.onnx', 'coco_classes.txt']) await copyFile(path.join(root, 'testdata', 'models', file), path.join(storage, directory, file));
const config = InferenceConfigSchema.parse({ STORAGE_ROOT: storage, EDGE_MODE: 'off', INFERENCE_WORKERS: workers, INFERENCE_CONSOLE: 'off', ...threadEnv });
const service = await createInferenceService({ config, logger: createLogger({ name: 'bench', level: 'warn' }), edgeClient: null });
await service.models.activate({ name: 'yolox', version: '1', format: 'onnx', modelPath: `${directory}/yolox_nano.onnx`, labelsPath: `${directory}/coco_classes.txt` });
await service.app.listen({ host: '127.0.0.1', port: 0 });
const image = await readFile(path.join(root, 'testdata', 'images', 'darknet_person.jpg'));
await Promise.all(Array.from({ length: Number(workers) * 2 }, () => service.models.detect(undefined, image)));
await new Promise((resolve) => setTimeout(resolve, 1000));
globalThis.gc?.();
console.log(JSON.stringify({ idleRss: process.memoryUsage().rss }));
await service.close();
