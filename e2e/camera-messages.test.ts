import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@edge-ml/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult } from '@edge-ml/contracts';
import { AzureEdgeClient, createLogger } from '@edge-ml/edge-kit';
import { buildModelPackage, LocalSystem } from '@edge-ml/local-run';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = path.join(root, 'testdata', 'models');


/**
 * The message-driven path of the seeds' blog post: a camera module sends frames on its "images" output, edgeHub routes
 * them to the inference module's "images" input (deployment.template.json), and the detections go upstream.
 * The camera is a real SDK client with its own module identity, in this process.
 */
describe('a camera module sending images as edge messages', () => {
  let system: LocalSystem;
  let camera: AzureEdgeClient;

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'tools/local-run/dist/index.js'))) throw new Error('build the workspace first (npm test does)');
    system = new LocalSystem({ root, workDirectory: await mkdtemp(path.join(tmpdir(), 'camera-')), inferencePort: await freePort(), logLevel: 'warn' });
    await system.start();
    const built = await buildModelPackage([{ path: path.join(models, 'yolox_nano.onnx') }, { path: path.join(models, 'coco_classes.txt') }], { family: 'yolox' });
    await system.setDesired('loader', { model: await system.publish('yolox.zip', 'yolox', '1', built) });
    await system.waitFor(async () => ((await fetch(`${system.inferenceUrl}/health/ready`)).ok ? true : undefined), 60_000, 'a model serving');
    const environment = await system.control<{ $version: number }>('GET', '/status').then(async () =>
      JSON.parse(await readFile(path.join(system.emulatorStateDirectory, 'emulator.json'), 'utf8')) as { workloadUri: string; mqttPort: number; deviceId: string; hubHostName: string },
    );
    camera = new AzureEdgeClient({
      transport: 'mqtt',
      logger: createLogger({ name: 'camera', level: 'silent' }),
      createClient: async () => {
        const { ModuleClient } = (await import('azure-iot-device')).default;
        const { Mqtt } = await import('azure-iot-device-mqtt');
        const saved = { ...process.env };
        Object.assign(process.env, {
          IOTEDGE_WORKLOADURI: environment.workloadUri,
          IOTEDGE_DEVICEID: environment.deviceId,
          IOTEDGE_MODULEID: 'camera',
          IOTEDGE_IOTHUBHOSTNAME: environment.hubHostName,
          IOTEDGE_AUTHSCHEME: 'sasToken',
          IOTEDGE_MODULEGENERATIONID: 'gen-1',
          IOTEDGE_GATEWAYHOSTNAME: `localhost:${environment.mqttPort}`,
        });
        try {
          return await ModuleClient.fromEnvironment(Mqtt);
        } finally {
          process.env = saved;
        }
      },
    });
    await camera.start();
  }, 120_000);
  afterAll(async () => {
    await camera?.close();
    await system?.stop();
  });

  it('gets detections for a frame routed through edgeHub, upstream, with the frame\'s correlation id', async () => {
    await camera.sendOutput('images', { body: await readFile(path.join(root, 'testdata/images/darknet_dog.jpg')), properties: { camera: 'gate-3' }, messageId: 'frame-42', contentType: 'image/jpeg' });
    const upstream = await system.waitFor(async () => {
      const messages = await system.control<{ module: string; output: string; body: string; properties: Record<string, string>; correlationId?: string; contentType?: string }[]>('GET', '/upstream');
      return messages.find((message) => message.module === 'inference' && message.output === 'detections');
    }, 30_000, 'detections upstream');
    const result = JSON.parse(upstream.body) as DetectionResult;
    expect(result.model).toMatchObject({ name: 'yolox', version: '1' });
    expect(result.detections.map((detection) => detection.label)).toEqual(expect.arrayContaining(['dog', 'bicycle']));
    expect(upstream.properties).toMatchObject({ camera: 'gate-3', model: 'yolox@1' });
    expect(upstream).toMatchObject({ correlationId: 'frame-42', contentType: 'application/json' });
  }, 60_000);

  it('uses the model a frame names in its `model` property, and answers a name no one serves with an error message', async () => {
    const frame = await readFile(path.join(root, 'testdata/images/darknet_dog.jpg'));
    await camera.sendOutput('images', { body: frame, properties: { camera: 'gate-3', model: 'yolox' }, messageId: 'frame-43', contentType: 'image/jpeg' });
    await camera.sendOutput('images', { body: frame, properties: { camera: 'gate-3', model: 'nope' }, messageId: 'frame-44', contentType: 'image/jpeg' });
    const answers = await system.waitFor(async () => {
      const messages = await system.control<{ module: string; output: string; body: string; properties: Record<string, string>; correlationId?: string }[]>('GET', '/upstream');
      const named = messages.find((message) => message.module === 'inference' && message.correlationId === 'frame-43');
      const unknown = messages.find((message) => message.module === 'inference' && message.correlationId === 'frame-44');
      return named && unknown ? { named, unknown } : undefined;
    }, 30_000, 'both answers upstream');
    expect(JSON.parse(answers.named.body)).toMatchObject({ model: { name: 'yolox', version: '1' } });
    expect(answers.named.properties).toMatchObject({ camera: 'gate-3', model: 'yolox@1' });
    expect(answers.unknown.output).toBe('detections');
    expect(JSON.parse(answers.unknown.body)).toMatchObject({ error: 'MODEL_NOT_FOUND', statusCode: 404, message: expect.stringContaining('"nope"') });
    expect(answers.unknown.properties).toMatchObject({ camera: 'gate-3', model: 'nope', error: 'MODEL_NOT_FOUND' });
  }, 60_000);
});
