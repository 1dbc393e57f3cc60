#!/usr/bin/env node
// First: libuv's pool size is read once, when it first runs work.
import './uv-threadpool.js';
import { createLogger, loadConfigOrExit } from '@edge-ml/edge-kit';
import { InferenceConfigSchema } from './config.js';
import { createInferenceService } from './service.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit(InferenceConfigSchema);
  const logger = createLogger({ name: 'inference', level: config.LOG_LEVEL });
  const service = await createInferenceService({ config, logger });
  await service.app.listen({ host: config.INFERENCE_HOST, port: config.INFERENCE_PORT });
  if (service.edge) {
    service.edge.start().catch((error: unknown) => logger.error({ err: error }, 'edge.start.failed'));
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'inference.stopping');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'inference.stop.failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
