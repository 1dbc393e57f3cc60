import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureEdgeClient, createLogger, type DesiredDocument, type EdgeMessage } from '@edge-ml/edge-kit';
import { EdgeHubEmulator } from './edgehub-emulator.js';
import { parseRoute } from '@edge-ml/contracts';
import { WorkloadApi } from './workload-api.js';

const logger = createLogger({ name: 'emulator-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** ModuleClient.fromEnvironment reads process.env: set the module's variables while the SDK client is created. */
function clientFor(emulator: EdgeHubEmulator, workloadUri: string, module: string): AzureEdgeClient {
  return new AzureEdgeClient({
    transport: 'mqtt',
    logger: logger.child({ module }),
    twinTimeoutMs: 2_000,
    livenessIntervalMs: 1_000,
    openRetry: { initialDelayMs: 100, maxDelayMs: 500 },
    createClient: async (transport) => {
      const { ModuleClient } = (await import('azure-iot-device')).default;
      const { Mqtt } = await import('azure-iot-device-mqtt');
      if (transport !== 'mqtt') throw new Error('mqtt only');
      const saved = { ...process.env };
      Object.assign(process.env, emulator.moduleEnvironment(module, workloadUri));
      delete process.env.EdgeHubConnectionString;
      try {
        return await ModuleClient.fromEnvironment(Mqtt);
      } finally {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
        Object.assign(process.env, saved);
      }
    },
  });
}

const waitFor = async <T>(read: () => T | undefined, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('edgeHub emulator with the real azure-iot-device SDK over MQTT/TLS', () => {
  let emulator: EdgeHubEmulator;
  let workload: WorkloadApi;
  let workloadUri: string;
  let loader: AzureEdgeClient;
  let inference: AzureEdgeClient;
  const desired: DesiredDocument[] = [];
  const received: EdgeMessage[] = [];

  beforeAll(async () => {
    emulator = new EdgeHubEmulator({
      logger,
      routes: [
        parseRoute('model', 'FROM /messages/modules/loader/outputs/DLModelOutput INTO BrokeredEndpoint("/modules/inference/inputs/DLModelInput")'),
        parseRoute('up', 'FROM /messages/modules/inference/outputs/* INTO $upstream'),
      ],
      initialDesired: { loader: { FileName: 'first.zip' } },
    });
    await emulator.start();
    workload = new WorkloadApi(emulator);
    workloadUri = await workload.listen();
    loader = clientFor(emulator, workloadUri, 'loader');
    inference = clientFor(emulator, workloadUri, 'inference');
    loader.onDesired((document) => void desired.push(document));
    inference.onInput('DLModelInput', (message) => void received.push(message));
    inference.onMethod('ping', (payload) => ({ status: 200, payload: { pong: payload } }));
    await Promise.all([loader.start(), inference.start()]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([loader?.close(), inference?.close()]);
    await workload?.close();
    await emulator?.stop();
  });

  it('authenticates modules through the workload API and serves the full twin on connect', () => {
    expect(emulator.connectedModules()).toEqual(['inference', 'loader']);
    expect(desired[0]).toMatchObject({ full: true, version: 2, properties: { FileName: 'first.zip' } });
  });

  it('pushes desired patches with their $version and stores reported properties', async () => {
    emulator.setDesired('loader', { FileName: 'second.zip' });
    // The SDK also replays the current document when a listener registers; the patch is the one with the new version.
    const patch = await waitFor(() => desired.find((document) => !document.full && document.version === 3));
    expect(patch).toMatchObject({ version: 3, properties: { FileName: 'second.zip' } });
    await loader.patchReported({ LatestAIModelFileName: 'second.zip' });
    expect(emulator.twins.get('loader').reported).toMatchObject({ LatestAIModelFileName: 'second.zip', $version: 2 });
  });

  it('refuses a reported patch with a key the hub refuses, whole, with the hub\'s 400: the SDK\'s update fails', async () => {
    const before = structuredClone(emulator.twins.get('loader').reported);
    await expect(loader.patchReported({ modelUpdate: { state: 'active' }, models: { 'ssd.v1': { state: 'active' } } })).rejects.toThrow('the reported properties patch is refused: twin key "ssd.v1" at models must not contain "."');
    for (const key of ['$schema', 'a b', 'tab\there', 'x'.repeat(1025)]) await expect(loader.patchReported({ [key]: 1 })).rejects.toThrow(/is refused: twin key/);
    // Nothing of a refused patch is kept, modelUpdate included; the same report under the twin key (twinKeyOf) is accepted.
    expect(emulator.twins.get('loader').reported).toEqual(before);
    await loader.patchReported({ modelUpdate: { state: 'active' }, models: { 'ssd%2Ev1': { state: 'active', name: 'ssd.v1' } } });
    expect(emulator.twins.get('loader').reported).toMatchObject({ modelUpdate: { state: 'active' }, models: { 'ssd%2Ev1': { name: 'ssd.v1' } }, $version: before.$version + 1 });
  });

  it('refuses a desired patch with a key the hub refuses, through the control API as the service API does (400, errorCode 400004)', async () => {
    const { ControlApi } = await import('./control-api.js');
    const { TwinKeyRefusedError } = await import('./twin-store.js');
    const control = new ControlApi(emulator);
    const port = await control.listen();
    try {
      const version = emulator.twins.get('loader').desired.$version;
      const patch = (body: unknown) => fetch(`http://127.0.0.1:${port}/twins/loader/desired`, { method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      const refused = await patch({ models: { 'ssd.v1': { version: '1' } } });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ errorCode: 400004, message: 'the desired properties patch is refused: twin key "ssd.v1" at models must not contain "."' });
      expect(() => emulator.setDesired('loader', { 'a b': 1 })).toThrow(TwinKeyRefusedError);
      expect(emulator.twins.get('loader').desired.$version).toBe(version);
      // The hub's own top-level $version and $metadata are not the patch's and not refused; the twin key of ssd.v1 is accepted.
      const accepted = await patch({ $version: 1, $metadata: {}, models: { 'ssd%2Ev1': { version: '1' } } });
      expect(await accepted.json()).toEqual({ $version: version + 1 });
      expect(emulator.twins.get('loader').desired).toMatchObject({ models: { 'ssd%2Ev1': { version: '1' } }, $version: version + 1 });
      const cleared = await patch({ models: null });
      expect(cleared.status).toBe(200);
    } finally {
      await control.close();
    }
  });

  it('routes an output to an input, adding $.cdid and $.cmid, and inference outputs to $upstream', async () => {
    await loader.sendOutput('DLModelOutput', { body: Buffer.from('{"local_model_path":"a/b.onnx"}'), properties: { model: 'a@1' }, contentType: 'application/json' });
    const message = await waitFor(() => received[0]);
    expect(message.body.toString()).toBe('{"local_model_path":"a/b.onnx"}');
    expect(message.properties).toMatchObject({ model: 'a@1', '$.cdid': 'edge-device', '$.cmid': 'loader' });
    await inference.sendOutput('detections', { body: Buffer.from('{"n":1}'), properties: { camera: 'gate' } });
    expect(await waitFor(() => emulator.upstream[0])).toMatchObject({ module: 'inference', output: 'detections', body: '{"n":1}', properties: { camera: 'gate' } });
  });

  it('puts bytes sent through the control API into a module input, as the CLI\'s send does', async () => {
    const { ControlApi } = await import('./control-api.js');
    const control = new ControlApi(emulator);
    const port = await control.listen();
    try {
      const before = received.length;
      const body = '{"local_model_path":"models/ssd/1/detect.tflite","local_labelmap_path":"models/ssd/1/labelmap.txt"}';
      const response = await fetch(`http://127.0.0.1:${port}/inputs/inference/DLModelInput`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(response.status).toBe(202);
      const message = await waitFor(() => received[before]);
      expect(message.body.toString()).toBe(body);
      expect(message.properties).toMatchObject({ '$.cdid': 'edge-device' });
      expect(message.contentType).toBe('application/json');
      const tooBig = await fetch(`http://127.0.0.1:${port}/inputs/inference/images`, { method: 'POST', body: Buffer.alloc(256 * 1024 + 1) });
      expect(tooBig.status).toBe(400);
    } finally {
      await control.close();
    }
  });

  it('invokes direct methods', async () => {
    expect(await emulator.invokeMethod('inference', 'ping', { n: 1 })).toEqual({ status: 200, payload: { pong: { n: 1 } } });
    // The SDK does not answer a method nobody registered: the caller times out, as against a real hub.
    expect((await emulator.invokeMethod('inference', 'nope', {}, 500)).status).toBe(504);
  });

  it('refuses a token signed with the wrong key', async () => {
    const { Client } = (await import('azure-iot-device')).default;
    const { Mqtt } = await import('azure-iot-device-mqtt');
    const client = Client.fromConnectionString(`HostName=${emulator.hubHostName};DeviceId=edge-device;ModuleId=loader;SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')};GatewayHostName=localhost:${emulator.mqttPort}`, Mqtt);
    client.setOptions({ ca: emulator.tls.caCertificatePem });
    await expect(client.open()).rejects.toThrow();
    await client.close().catch(() => undefined);
    expect(emulator.connectedModules()).toEqual(['inference', 'loader']);
  });

  it('after a restart that lost sessions, applies a desired change made during the outage and keeps routing', async () => {
    const restarting = emulator.restart({ keepSessions: false, outageMs: 1_500 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    emulator.setDesired('loader', { FileName: 'during-outage.zip' });
    await restarting;
    const refreshed = await waitFor(() => desired.find((document) => document.properties.FileName === 'during-outage.zip'), 30_000);
    expect(refreshed.version).toBeGreaterThanOrEqual(4);
    await waitFor(() => (emulator.connectedModules().length === 2 ? true : undefined), 30_000);
    const before = received.length;
    // Inputs are subscribed again only by a new client: sending proves the inference module's session came back.
    await loader.sendOutput('DLModelOutput', { body: Buffer.from('{"after":"restart"}'), properties: {} });
    expect((await waitFor(() => received[before], 30_000)).body.toString()).toBe('{"after":"restart"}');
  }, 60_000);

  it('recreates the client when twin responses go missing, and carries on', async () => {
    const before = emulator.connectionCount;
    // The next twin GET (a liveness check, every second here) goes unanswered: the adapter must time out (2 s) and
    // make a new client, which connects again.
    emulator.faults.dropTwinResponses = 1;
    await waitFor(() => (emulator.faults.dropTwinResponses === 0 && emulator.connectionCount > before ? true : undefined), 30_000);
    emulator.setDesired('loader', { FileName: 'after-drop.zip' });
    await waitFor(() => desired.find((document) => document.properties.FileName === 'after-drop.zip'), 30_000);
    await loader.patchReported({ probe: 2 });
    expect(emulator.twins.get('loader').reported).toMatchObject({ probe: 2 });
  }, 60_000);
});

describe('the emulator CLI', () => {
  it('starts from a deployment, and sets desired properties, reads twins, lists upstream and injects faults', async () => {
    const { execFileSync, spawn } = await import('node:child_process');
    const { mkdtemp, readFile } = await import('node:fs/promises');
    const { existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    const cli = path.join(root, 'tools/edgehub-emulator/dist/cli.js');
    if (!existsSync(cli)) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')]);
    const stateDirectory = await mkdtemp(path.join(tmpdir(), 'emulator-cli-'));
    const server = spawn(process.execPath, [cli, 'start', '--deployment', path.join(root, 'deployment.template.json'), '--state-dir', stateDirectory], { env: { ...process.env, LOG_LEVEL: 'warn' } });
    try {
      await waitFor(() => (existsSync(path.join(stateDirectory, 'emulator.json')) ? true : undefined), 20_000);
      const run = (...args: string[]) => JSON.parse(execFileSync(process.execPath, [cli, ...args, '--state-dir', stateDirectory], { encoding: 'utf8' })) as Record<string, unknown>;
      expect(run('twin', 'loader')).toMatchObject({ desired: { policy: { keepVersions: 2 } } });
      expect(run('desired', 'loader', '{"model": null, "FileName": "x.zip"}')).toEqual({ $version: 3 });
      expect(run('twin', 'loader')).toMatchObject({ desired: { FileName: 'x.zip', $version: 3 } });
      expect(run('upstream')).toEqual([]);
      expect(run('fault', '--drop-twin-responses', '2')).toEqual({ dropTwinResponses: 2 });
      expect(run('status')).toMatchObject({ deviceId: 'edge-device', connected: [] });
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(stateDirectory, 'message.json'), '{"local_model_path":"a/b.onnx","local_labelmap_path":"a/labels.txt"}');
      expect(run('send', 'inference', 'DLModelInput', path.join(stateDirectory, 'message.json'))).toEqual({ queued: true, module: 'inference', input: 'DLModelInput' });
      expect(await readFile(path.join(stateDirectory, 'inference.env'), 'utf8')).toMatch(/^IOTEDGE_MODULEID=inference$/m);
      let failure = '';
      try {
        execFileSync(process.execPath, [cli, 'twin', 'loader', '--state-dir', path.join(stateDirectory, 'nowhere')], { encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        failure = (error as { stderr: string }).stderr;
      }
      expect(failure).toMatch(/^edgehub-emulator: no running emulator found/);
    } finally {
      server.kill('SIGTERM');
    }
  }, 60_000);
});
