import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@edge-ml/edge-kit';
import { ControlApi } from './control-api.js';
import { EdgeHubEmulator } from './edgehub-emulator.js';
import { initialDesiredFromDeployment, routesFromDeployment } from '@edge-ml/contracts';
import { WorkloadApi } from './workload-api.js';

export interface EmulatorState {
  controlUrl: string;
  mqttPort: number;
  workloadUri: string;
  deviceId: string;
  hubHostName: string;
  caCertificatePath: string;
  /** The IOTEDGE_* environment of each module named in the deployment. */
  modules: Record<string, Record<string, string>>;
}

export interface RunEmulatorOptions {
  deploymentPath: string;
  /** Directory for the state file, the CA certificate, per-module .env files and the workload socket. */
  stateDirectory: string;
  logger: Logger;
  mqttPort?: number;
  controlPort?: number;
  /** Serve the workload API on a unix socket in the state directory (as on a device) rather than on loopback HTTP. */
  workloadSocket?: boolean;
}

export interface RunningEmulator {
  emulator: EdgeHubEmulator;
  state: EmulatorState;
  stop(): Promise<void>;
}

export const STATE_FILE = 'emulator.json';

/** Starts the emulator from a deployment manifest and writes what modules and tools need to find it. */
export async function runEmulator(options: RunEmulatorOptions): Promise<RunningEmulator> {
  const deployment = JSON.parse(await readFile(options.deploymentPath, 'utf8')) as unknown;
  const routes = routesFromDeployment(deployment);
  const initialDesired = initialDesiredFromDeployment(deployment);
  // Routed messages wait for a module as long as the deployment's store-and-forward allows.
  const ttlSeconds = (deployment as { modulesContent?: { $edgeHub?: { 'properties.desired'?: { storeAndForwardConfiguration?: { timeToLiveSecs?: number } } } } })
    .modulesContent?.$edgeHub?.['properties.desired']?.storeAndForwardConfiguration?.timeToLiveSecs;
  const modules = Object.keys((deployment as { modulesContent: { $edgeAgent: { 'properties.desired': { modules: Record<string, unknown> } } } }).modulesContent.$edgeAgent['properties.desired'].modules);
  const emulator = new EdgeHubEmulator({ logger: options.logger, routes, initialDesired, ...(ttlSeconds ? { messageTtlMs: ttlSeconds * 1000 } : {}), ...(options.mqttPort ? { mqttPort: options.mqttPort } : {}) });
  await emulator.start();
  await mkdir(options.stateDirectory, { recursive: true });
  const workload = new WorkloadApi(emulator);
  const socketPath = path.join(options.stateDirectory, 'workload.sock');
  if (options.workloadSocket) await rm(socketPath, { force: true });
  const workloadUri = await workload.listen(options.workloadSocket ? socketPath : undefined);
  const control = new ControlApi(emulator);
  const controlPort = await control.listen(options.controlPort ?? 0);
  const caCertificatePath = path.join(options.stateDirectory, 'edge-ca.pem');
  await writeFile(caCertificatePath, emulator.tls.caCertificatePem);
  const state: EmulatorState = {
    controlUrl: `http://127.0.0.1:${controlPort}`,
    mqttPort: emulator.mqttPort,
    workloadUri,
    deviceId: emulator.deviceId,
    hubHostName: emulator.hubHostName,
    caCertificatePath,
    modules: Object.fromEntries(modules.map((module) => [module, emulator.moduleEnvironment(module, workloadUri)])),
  };
  await writeFile(path.join(options.stateDirectory, STATE_FILE), JSON.stringify(state, null, 2));
  for (const [module, environment] of Object.entries(state.modules)) {
    await writeFile(path.join(options.stateDirectory, `${module}.env`), Object.entries(environment).map(([key, value]) => `${key}=${value}`).join('\n') + '\nEDGE_MODE=on\n');
  }
  options.logger.info({ controlUrl: state.controlUrl, mqttPort: state.mqttPort, workloadUri, routes: routes.length, modules }, 'emulator.started');
  return {
    emulator,
    state,
    async stop() {
      await control.close();
      await workload.close();
      await emulator.stop();
    },
  };
}
