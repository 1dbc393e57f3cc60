import { readFile } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@edge-ml/edge-kit';
import { decodeToFrame } from '../src/image/decode-image.js';
import { spawnInferenceWorker } from '../src/worker/spawn-worker.js';
import { WorkerPool } from '../src/worker/worker-pool.js';
import { imageFile, modelFile } from './testdata.js';

describe('worker pool', () => {
  it('replaces a worker that dies and gives it back the models it held', async () => {
    const threads: Worker[] = [];
    const pool = new WorkerPool({
      size: 1,
      maxQueue: 4,
      logger: createLogger({ name: 'pool-test', level: 'silent' }),
      spawn: () => {
        const worker = spawnInferenceWorker();
        threads.push(worker);
        return worker;
      },
    });
    await pool.start();
    try {
      const info = await pool.loadEverywhere('yolox#1', { format: 'onnx', modelPath: modelFile('yolox_nano.onnx'), labelsText: await readFile(modelFile('coco_classes.txt'), 'utf8'), runtime: { executionProviders: ['cpu'], threads: 1 } });
      const frame = () => readFile(imageFile('darknet_person.jpg')).then((bytes) => decodeToFrame(bytes, info.spec.input, { limitPixels: 1e8 }));
      expect((await pool.infer('yolox#1', await frame())).detections.map((detection) => detection.label)).toContain('horse');

      await threads[0]!.terminate();
      const after = await pool.infer('yolox#1', await frame());
      expect(threads).toHaveLength(2);
      expect(after.detections.map((detection) => detection.label)).toContain('horse');
    } finally {
      await pool.close();
    }
  }, 60_000);
});
