import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type DesiredListener, type EdgeClient, type EdgeMessage, type InputHandler, type MethodHandler } from '@edge-ml/edge-kit';
import { InferenceConfigSchema } from '../src/config.js';
import { createInferenceService, type InferenceService } from '../src/service.js';
import { createStorage, SSD_TFLITE, stageModel } from './storage.js';

/** Records reported-properties patches: what would leave the device for the hub. */
class ReportRecorder implements EdgeClient {
  readonly patches: Record<string, unknown>[] = [];
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  onDesired(_listener: DesiredListener): void {}
  onInput(_inputName: string, _handler: InputHandler): void {}
  onMethod(_methodName: string, _handler: MethodHandler): void {}
  async patchReported(patch: Record<string, unknown>): Promise<void> {
    this.patches.push(structuredClone(patch));
  }
  async sendOutput(_outputName: string, _message: EdgeMessage): Promise<void> {}
}

describe('messages that leave the device carry no absolute storage path', () => {
  let storage: string;
  let service: InferenceService;
  const reports = new ReportRecorder();

  beforeAll(async () => {
    storage = await createStorage();
    const config = InferenceConfigSchema.parse({ STORAGE_ROOT: storage, EDGE_MODE: 'off', INFERENCE_WORKERS: '1' });
    service = await createInferenceService({ config, logger: createLogger({ name: 'inference-test', level: 'silent' }), edgeClient: reports });
  });
  afterAll(() => service.close());

  it('a corrupt model: the runtime names the file it opened, /v1/models and reported properties name it relative to storage', async () => {
    const announcement = await stageModel(storage, { ...SSD_TFLITE, version: 'corrupt' });
    await writeFile(path.join(storage, announcement.modelPath), Buffer.alloc(1000, 7));
    const outcome = await service.models.activate(announcement);
    // The manager keeps the full message for its logs; what goes out is rewritten.
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MODEL_LOAD_FAILED', message: expect.stringContaining(storage) } });

    const models = (await service.app.inject({ url: '/v1/models' })).json<{ lastError: { message: string } }>();
    expect(models.lastError.message).toContain(announcement.modelPath);
    expect(models.lastError.message).not.toContain(storage);

    const reported = JSON.stringify(reports.patches);
    expect(reported).toContain('MODEL_LOAD_FAILED');
    expect(reported).toContain(announcement.modelPath);
    expect(reported).not.toContain(storage);
  });

  it('a storage root reached through a symlink: the resolved path is rewritten as well', async () => {
    const link = `${storage}-link`;
    await symlink(storage, link);
    const config = InferenceConfigSchema.parse({ STORAGE_ROOT: link, EDGE_MODE: 'off', INFERENCE_WORKERS: '1' });
    const linked = new ReportRecorder();
    const other = await createInferenceService({ config, logger: createLogger({ name: 'inference-test', level: 'silent' }), edgeClient: linked });
    try {
      const announcement = await stageModel(storage, { ...SSD_TFLITE, version: 'corrupt-linked' });
      await writeFile(path.join(storage, announcement.modelPath), Buffer.alloc(1000, 7));
      const outcome = await other.models.activate(announcement);
      expect(outcome).toMatchObject({ status: 'failed', error: { message: expect.stringContaining(storage) } });
      const body = (await other.app.inject({ url: '/v1/models' })).body;
      expect(body).toContain(announcement.modelPath);
      expect(body).not.toContain(storage);
      expect(JSON.stringify(linked.patches)).not.toContain(storage);
    } finally {
      await other.close();
    }
  });
});
