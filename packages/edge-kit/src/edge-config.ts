import { z } from 'zod';
import type { Logger } from 'pino';
import { AzureEdgeClient } from './azure-edge-client.js';
import type { EdgeClient } from './edge-client.js';

/** The settings every module shares for edgeHub and logging; spread into a module's own schema with `.extend`. */
export const EdgeConfigSchema = z.object({
  /** auto: connect to edgeHub when the IoT Edge environment (or a connection string) is present. */
  EDGE_MODE: z.enum(['auto', 'on', 'off']).default('auto'),
  EDGE_TRANSPORT: z.enum(['mqtt', 'amqp', 'mqtt-ws', 'amqp-ws']).default('mqtt'),
  /** Twin requests that take longer are treated as lost (the SDK sets no timeout). */
  EDGE_TWIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** How often the full twin is fetched to check the connection is alive. */
  EDGE_LIVENESS_INTERVAL_MS: z.coerce.number().int().positive().default(300_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type EdgeConfig = z.output<typeof EdgeConfigSchema>;

export function edgeEnvironmentPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.IOTEDGE_WORKLOADURI || env.EdgeHubConnectionString || env.IotHubConnectionString);
}

/** The Azure edge client the settings ask for, or undefined when the module runs without edgeHub. */
export function createEdgeClient(config: EdgeConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): EdgeClient | undefined {
  const useEdge = config.EDGE_MODE === 'on' || (config.EDGE_MODE === 'auto' && edgeEnvironmentPresent(env));
  if (!useEdge) return undefined;
  return new AzureEdgeClient({
    transport: config.EDGE_TRANSPORT,
    twinTimeoutMs: config.EDGE_TWIN_TIMEOUT_MS,
    livenessIntervalMs: config.EDGE_LIVENESS_INTERVAL_MS,
    logger: logger.child({ component: 'edge' }),
  });
}
