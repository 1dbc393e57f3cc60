// One bare serving thread: onnxruntime-node and sharp, nothing else. Loads YOLOX-nano as the server does (CPU, one
// intra-op thread, graph optimisation 'all'), then answers { decodeMs, inferMs } for each image it is sent:
// sharp decodes and resizes to 416x416 (fill), the bytes become an NCHW float tensor, the session runs.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

sharp.cache(false);
sharp.concurrency(1);
const session = await ort.InferenceSession.create(workerData.modelPath, {
  executionProviders: ['cpu'],
  intraOpNumThreads: workerData.threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const inputName = session.inputNames[0];
const size = 416;
const tensorData = new Float32Array(3 * size * size);

async function detect(bytes) {
  const started = performance.now();
  const { data } = await sharp(bytes).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const decodeMs = performance.now() - started;
  const plane = size * size;
  for (let i = 0; i < plane; i += 1) {
    tensorData[i] = data[i * 3 + 2];
    tensorData[plane + i] = data[i * 3 + 1];
    tensorData[2 * plane + i] = data[i * 3];
  }
  const inferStarted = performance.now();
  await session.run({ [inputName]: new ort.Tensor('float32', tensorData, [1, 3, size, size]) });
  return { decodeMs, inferMs: performance.now() - inferStarted };
}

parentPort.on('message', async ({ id, bytes }) => parentPort.postMessage({ id, ...(await detect(Buffer.from(bytes))) }));
parentPort.postMessage({ ready: true });
