import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@edge-ml/edge-kit';
import { decodeToFrame } from '../src/image/decode-image.js';
import { ModelPipeline } from '../src/pipeline/model-pipeline.js';
import { spawnInferenceWorker, WORKER_YOUNG_GENERATION_MB } from '../src/worker/spawn-worker.js';
import { WorkerTaskError } from '../src/worker/worker-errors.js';
import { WorkerPool, type WorkerPoolOptions } from '../src/worker/worker-pool.js';
import { imageFile, modelFile } from './testdata.js';

const yolox = async () => ({ format: 'onnx' as const, modelPath: modelFile('yolox_nano.onnx'), labelsText: await readFile(modelFile('coco_classes.txt'), 'utf8'), runtime: { executionProviders: ['cpu'], threads: 1 } });

/** A started pool with YOLOX-nano loaded as `yolox#1`; `run` gets it and the pool is closed afterwards. */
async function withPool(options: Partial<WorkerPoolOptions>, run: (pool: WorkerPool) => Promise<void>): Promise<void> {
  const pool = new WorkerPool({ size: 1, maxQueue: 4, logger: createLogger({ name: 'pool-test', level: 'silent' }), ...options });
  await pool.start();
  try {
    await pool.loadEverywhere('yolox#1', await yolox());
    await run(pool);
  } finally {
    await pool.close();
  }
}

describe('worker pool', () => {
  it('replaces a worker that dies and gives it back the models it held', async () => {
    const threads: Worker[] = [];
    const spawn = () => {
      const worker = spawnInferenceWorker();
      threads.push(worker);
      return worker;
    };
    await withPool({ spawn }, async (pool) => {
      const bytes = await readFile(imageFile('darknet_person.jpg'));
      expect((await pool.detect('yolox#1', bytes, { limitPixels: 1e8 })).detections.map((detection) => detection.label)).toContain('horse');

      await threads[0]!.terminate();
      const after = await pool.detect('yolox#1', bytes, { limitPixels: 1e8 });
      expect(threads).toHaveLength(2);
      expect(after.detections.map((detection) => detection.label)).toContain('horse');
    });
  }, 60_000);

  it('decodes in the worker: the same detections as a frame decoded and run on this thread, with the original size and the decode time', async () => {
    const { pipeline } = await ModelPipeline.load(await yolox());
    const bytes = await readFile(imageFile('darknet_person.jpg'));
    const fromFrame = await pipeline.infer(await decodeToFrame(bytes, pipeline.spec.input, { limitPixels: 1e8 }));
    await pipeline.dispose();
    await withPool({}, async (pool) => {
      const inWorker = await pool.detect('yolox#1', bytes, { limitPixels: 1e8 });
      expect(inWorker.detections).toEqual(fromFrame.detections);
      expect(inWorker.image).toEqual({ width: 640, height: 424 });
      expect(inWorker.decodeMs).toBeGreaterThan(0);
      // The caller's buffer is not handed over: it can be sent again.
      expect(bytes.byteLength).toBeGreaterThan(0);
      expect((await pool.detect('yolox#1', bytes, { limitPixels: 1e8 })).detections).toEqual(fromFrame.detections);
    });
  }, 60_000);

  it('starts workers with a small young generation, which limits given by the caller override', async () => {
    const capped = spawnInferenceWorker();
    const wider = spawnInferenceWorker({ maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 512 });
    try {
      await Promise.all([once(capped, 'online'), once(wider, 'online')]);
      expect(capped.resourceLimits?.maxYoungGenerationSizeMb).toBe(WORKER_YOUNG_GENERATION_MB);
      expect(wider.resourceLimits).toMatchObject({ maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 512 });
    } finally {
      await Promise.all([capped.terminate(), wider.terminate()]);
    }
  }, 60_000);

  it('carries a bad image out of the worker as a client error with its code and status', async () => {
    await withPool({}, async (pool) => {
      const notAnImage = pool.detect('yolox#1', Buffer.from('GIF89a, not one we read'), { limitPixels: 1e8 });
      await expect(notAnImage).rejects.toBeInstanceOf(WorkerTaskError);
      await expect(notAnImage).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE', statusCode: 400 });
      const tooLarge = pool.detect('yolox#1', await readFile(imageFile('darknet_person.jpg')), { limitPixels: 1000 });
      await expect(tooLarge).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', statusCode: 413, message: 'the image is 640x424 pixels; the limits are 1000 pixels and 16384 pixels a side' });
    });
  }, 60_000);

  it('spreads requests over the workers before giving any worker a second, and queues beyond two each', async () => {
    const sent = new Map<Worker, number>();
    const spawn = () => {
      const worker = spawnInferenceWorker();
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message: { type?: string }, transfer?: readonly ArrayBuffer[]) => {
        if (message.type === 'detect') sent.set(worker, (sent.get(worker) ?? 0) + 1);
        post(message, transfer as ArrayBuffer[]);
      };
      return worker;
    };
    await withPool({ size: 2, maxQueue: 8, spawn }, async (pool) => {
      const bytes = await readFile(imageFile('darknet_person.jpg'));
      const first = [pool.detect('yolox#1', bytes, { limitPixels: 1e8 }), pool.detect('yolox#1', bytes, { limitPixels: 1e8 })];
      await new Promise((resolve) => setImmediate(resolve));
      expect([...sent.values()]).toEqual([1, 1]);
      const rest = [1, 2, 3].map(() => pool.detect('yolox#1', bytes, { limitPixels: 1e8 }));
      await new Promise((resolve) => setImmediate(resolve));
      expect([...sent.values()]).toEqual([2, 2]);
      expect(pool.queueLength).toBe(1);
      const results = await Promise.all([...first, ...rest]);
      expect(results.every((result) => result.detections.some((detection) => detection.label === 'horse'))).toBe(true);
      expect([...sent.values()].reduce((a, b) => a + b, 0)).toBe(5);
    });
  }, 60_000);
});
