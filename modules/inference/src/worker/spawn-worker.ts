import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * The young generation of a worker's V8 heap, in MiB. A worker's JavaScript allocates little per request (the image,
 * the tensors and the runtime's outputs live outside the heap), so V8's default, which grows to 8 MiB of semi-spaces
 * that stay resident when idle, only holds memory: 4 MiB took the idle RSS of two workers down ~10 MiB, for a few more
 * scavenges (14 against 13 over 50 requests) of ~1 ms each (docs/benchmarks.md).
 */
export const WORKER_YOUNG_GENERATION_MB = 4;

/**
 * Starts the inference worker; `limits` override the young generation above. From compiled output it is a plain .js
 * file; when running from TypeScript sources (tests, `tsx`), the worker registers tsx itself, since module hooks are
 * not inherited by worker threads.
 */
export function spawnInferenceWorker(limits?: ResourceLimits): Worker {
  const resourceLimits: ResourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, ...limits };
  const entry = new URL(`./inference-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { resourceLimits });
  const tsxDirectory = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxDirectory, 'dist/esm/api/index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, execArgv: ['--conditions=source'], resourceLimits });
}
