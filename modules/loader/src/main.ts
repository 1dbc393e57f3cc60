#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEdgeClient, createLogger, loadConfigOrExit } from '@edge-ml/edge-kit';
import { LoaderConfigSchema, stallRuleOf } from './config.js';
import { registerLoaderMethods } from './edge/loader-methods.js';
import { Loader } from './reconcile/loader.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit(LoaderConfigSchema);
  const logger = createLogger({ name: 'loader', level: config.LOG_LEVEL });
  const edge = createEdgeClient(config, logger);
  const loader = new Loader({
    storageRoot: config.STORAGE_ROOT,
    ...(edge ? { edge } : {}),
    logger,
    backoff: { initialDelayMs: config.LOADER_RETRY_INITIAL_MS, maxDelayMs: config.LOADER_RETRY_MAX_MS },
    idleTimeoutMs: config.LOADER_IDLE_TIMEOUT_MS,
    stallRule: stallRuleOf(config),
    ...(config.LOADER_MAX_BYTES_PER_SEC ? { maxBytesPerSecond: config.LOADER_MAX_BYTES_PER_SEC } : {}),
  });
  await loader.initialise();
  if (edge) {
    edge.onDesired((desired) => loader.applyDesired(desired));
    registerLoaderMethods(edge, loader);
    edge.start().catch((error: unknown) => logger.error({ err: error }, 'edge.start.failed'));
  }
  if (config.LOADER_DESIRED_JSON) {
    loader.applyDesired({ version: 0, full: true, properties: JSON.parse(config.LOADER_DESIRED_JSON) as Record<string, unknown> });
  }
  logger.info({ storageRoot: config.STORAGE_ROOT, edge: Boolean(edge) }, 'loader.started');
  // The container's HEALTHCHECK reads this file's age: an event loop that stops turning stops touching it.
  const heartbeat = path.join(config.STORAGE_ROOT, '.loader', 'heartbeat');
  const beat = () => void writeFile(heartbeat, new Date().toISOString()).catch((error: unknown) => logger.warn({ err: error }, 'loader.heartbeat.failed'));
  beat();
  setInterval(beat, 30_000).unref();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'loader.stopping');
    setTimeout(() => process.exit(1), 15_000).unref();
    void Promise.all([loader.close(), edge?.close()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Without edgeHub, a one-shot run (tools, tests) ends when the desired state is reached.
  if (!edge && process.env.LOADER_EXIT_WHEN_IDLE === '1') {
    await loader.whenIdle();
    await loader.close();
    process.exit(0);
  }
  if (!edge) setInterval(() => undefined, 1 << 30);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
