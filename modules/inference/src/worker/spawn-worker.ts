import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * Starts the inference worker. From compiled output it is a plain .js file; when running from TypeScript sources
 * (tests, `tsx`), the worker registers tsx itself, since module hooks are not inherited by worker threads.
 */
export function spawnInferenceWorker(resourceLimits?: ResourceLimits): Worker {
  const entry = new URL(`./inference-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { ...(resourceLimits ? { resourceLimits } : {}) });
  const tsxDirectory = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxDirectory, 'dist/esm/api/index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, execArgv: ['--conditions=source'], ...(resourceLimits ? { resourceLimits } : {}) });
}
