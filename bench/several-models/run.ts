/**
 * The several-models section of bench/inference.bench.ts alone.
 * Usage: node --expose-gc --conditions=source --import tsx bench/several-models/run.ts [--quick] (after npm run build)
 */
// First: sizes libuv's pool as the server's main.ts does, before anything uses it.
import '../../modules/inference/src/uv-threadpool.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchSeveralModels } from './several-models.js';

const quick = process.argv.includes('--quick');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const threadEnv = Object.fromEntries(['INFERENCE_THREADS_PER_WORKER', 'INFERENCE_JOBS_PER_WORKER', 'INFERENCE_DECODE_THREADS'].flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])));
const verdicts: string[] = [];
const results = await benchSeveralModels({
  workers: Number(process.env.INFERENCE_WORKERS ?? 2),
  threadEnv,
  image: await readFile(path.join(root, 'testdata', 'images', 'darknet_person.jpg')),
  rounds: quick ? 3 : 12,
  durationMs: quick ? 1_500 : 2_000,
  rssRounds: quick ? 1 : 3,
  verdict: (name, ok, detail) => verdicts.push(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`),
});
console.log('\n' + verdicts.join('\n'));
console.log('\n' + JSON.stringify(results));
