import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_MODEL_POINTER, CONFIRMED_MODEL_POINTER, MODEL_STATUS_OUTPUT, SERVING_INDEX, type ModelStatusMessage, type RichModelMessage } from '@edge-ml/contracts';
import type { InferenceService } from '../src/service.js';
import { RecordingEdgeClient } from './recording-edge-client.js';
import { startService } from './service.js';
import { announcementBody, CLASSIFIER_TFLITE, createStorage, SSD_TFLITE, stageModel, waitFor, writePointer, writeServingIndex } from './storage.js';

// The attack pass on #16 (hole 1): a deleted or damaged serving index made the module fall back to the legacy pointers,
// which name only the default entry, so every other entry went dark while both modules reported it active.

/** The poll is left to the test (check() by hand); the watch still runs, so the tests wait for states, not events. */
const NO_POLL = { INFERENCE_POINTER_POLL_MS: '600000' };

let service: InferenceService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

async function twoEntries(storage: string): Promise<{ ssd: RichModelMessage; classifier: RichModelMessage }> {
  const ssd = await announcementBody(storage, await stageModel(storage, { ...SSD_TFLITE, version: '1' }));
  const classifier = await announcementBody(storage, await stageModel(storage, { ...CLASSIFIER_TFLITE, version: '1' }));
  // The loader mirrors the default entry to the legacy pointers.
  await writePointer(storage, ANNOUNCED_MODEL_POINTER, ssd);
  await writePointer(storage, CONFIRMED_MODEL_POINTER, { ...ssd, confirmedAt: new Date().toISOString() });
  return { ssd, classifier };
}

const serving = (service: InferenceService) => service.models.servingNames();

describe('a serving index that goes missing or cannot be read', () => {
  it('changes nothing once a valid index was read: every entry keeps serving, the legacy pointers are not followed', async () => {
    const storage = await createStorage();
    const { ssd, classifier } = await twoEntries(storage);
    await writeServingIndex(storage, 'ssd', { ssd: { announced: ssd, confirmed: ssd }, classifier: { announced: classifier, confirmed: classifier } });
    service = await startService(storage, NO_POLL);
    expect(serving(service)).toEqual(['classifier', 'ssd']);

    await rm(path.join(storage, SERVING_INDEX));
    await service.reconciler.check();
    expect(serving(service)).toEqual(['classifier', 'ssd']);

    await writeFile(path.join(storage, SERVING_INDEX), '{"schemaVersion":1,"models":{garbage');
    await service.reconciler.check();
    expect(serving(service)).toEqual(['classifier', 'ssd']);
    const detect = await service.app.inject({ method: 'POST', url: '/v1/models/classifier/detect', payload: Buffer.alloc(10), headers: { 'content-type': 'image/jpeg' } });
    expect(detect.statusCode).not.toBe(404);

    // The loader's rewrite is followed again: here it removes the classifier.
    await writeServingIndex(storage, 'ssd', { ssd: { announced: ssd, confirmed: ssd } });
    await service.reconciler.check();
    expect(service.models.names()).toEqual(['ssd']);
  }, 60_000);

  it('at start-up, serves what the legacy pointers name, then every entry once the loader rewrites the index; reported properties drop what a previous run left', async () => {
    const storage = await createStorage();
    const { ssd, classifier } = await twoEntries(storage);
    await writeFile(path.join(storage, SERVING_INDEX), '{"schemaVersion":1,"models":{garbage');
    const edge = new RecordingEdgeClient();
    // What the previous run reported, as the hub keeps it (it merges patches).
    edge.reportedState = { models: { ssd: { activeModel: { name: 'ssd', version: '1' } }, classifier: { activeModel: { name: 'classifier', version: '1' } }, ghost: { activeModel: null }, 'old%2Ev2': { activeModel: null } } };
    service = await startService(storage, NO_POLL, edge);
    await edge.start();
    expect(serving(service)).toEqual(['ssd']);
    const reported = () => Object.keys((edge.reportedState.models ?? {}) as Record<string, unknown>).sort();
    await waitFor(() => (reported().join() === 'ssd' ? true : undefined), 'reported models to name only ssd');

    // Still unreadable: nothing changes, and the legacy pointers are not read again.
    await service.reconciler.check();
    expect(serving(service)).toEqual(['ssd']);

    await writeServingIndex(storage, 'ssd', { ssd: { announced: ssd, confirmed: ssd }, classifier: { announced: classifier, confirmed: classifier } });
    await service.reconciler.check();
    expect(serving(service)).toEqual(['classifier', 'ssd']);
    await waitFor(() => (reported().join() === 'classifier,ssd' ? true : undefined), 'reported models to name both');

    // And once an index existed, its loss is not a reason to go back to the legacy pointers.
    await rm(path.join(storage, SERVING_INDEX));
    await service.reconciler.check();
    expect(serving(service)).toEqual(['classifier', 'ssd']);
  }, 60_000);
});

describe('a DLModelInput message naming a model the serving index does not list', () => {
  it('is not served: it gets a rejected status MODEL_NOT_IN_INDEX; while the index is missing it is deferred (neither served nor rejected)', async () => {
    const storage = await createStorage();
    const { ssd } = await twoEntries(storage);
    const classifier = await announcementBody(storage, await stageModel(storage, { ...CLASSIFIER_TFLITE, version: '1' }));
    await writeServingIndex(storage, 'ssd', { ssd: { announced: ssd, confirmed: ssd } });
    const edge = new RecordingEdgeClient();
    service = await startService(storage, NO_POLL, edge);
    await edge.start();

    await edge.deliver('DLModelInput', classifier);
    expect(service.models.names()).toEqual(['ssd']);
    const statuses = edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).filter((status) => status.name === 'classifier');
    expect(statuses).toEqual([
      expect.objectContaining({ name: 'classifier', version: '1', sha256: classifier.sha256, trigger: 'message', outcome: 'rejected', error: { code: 'MODEL_NOT_IN_INDEX', message: expect.stringContaining('"classifier"') } }),
    ]);

    await rm(path.join(storage, SERVING_INDEX));
    await edge.deliver('DLModelInput', classifier);
    expect(service.models.names()).toEqual(['ssd']);
    expect(edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).filter((status) => status.name === 'classifier')).toHaveLength(1);
    // A name the last valid index listed is still served.
    await edge.deliver('DLModelInput', ssd);
    expect(edge.sent<ModelStatusMessage>(MODEL_STATUS_OUTPUT).filter((status) => status.name === 'ssd').at(-1)).toMatchObject({ outcome: 'accepted' });
  }, 60_000);
});
