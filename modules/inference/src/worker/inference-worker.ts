import { parentPort } from 'node:worker_threads';
import { configureImageDecoding, decodeToFrame } from '../image/decode-image.js';
import { ModelPipeline } from '../pipeline/model-pipeline.js';
import { serializeError, wallClockMs, type WorkerRequest, type WorkerResponse } from './protocol.js';

if (!parentPort) throw new Error('inference-worker must run in a worker thread');
const port = parentPort;
const models = new Map<string, ModelPipeline>();
configureImageDecoding();

function loadedModel(modelId: string): ModelPipeline {
  const pipeline = models.get(modelId);
  if (!pipeline) throw Object.assign(new Error(`model ${modelId} is not loaded in this worker`), { code: 'MODEL_NOT_LOADED' });
  return pipeline;
}

const reply = (response: WorkerResponse) => port.postMessage(response);

async function handle(request: WorkerRequest): Promise<void> {
  try {
    switch (request.type) {
      case 'load': {
        const existing = models.get(request.modelId);
        if (existing) await existing.dispose();
        const { pipeline, loadMs, warmupMs } = await ModelPipeline.load(request.load);
        models.set(request.modelId, pipeline);
        reply({ type: 'loaded', requestId: request.requestId, info: { spec: pipeline.spec, signature: pipeline.signature, runtimeName: pipeline.runtimeName, providers: pipeline.providers, loadMs, warmupMs } });
        return;
      }
      case 'detect': {
        const pipeline = loadedModel(request.modelId);
        const workerWaitMs = Math.max(0, wallClockMs() - request.sentAt);
        const started = performance.now();
        // sharp decodes on libuv's pool: while it does, this thread runs the other request in flight.
        const frame = await decodeToFrame(Buffer.from(request.image.buffer, request.image.byteOffset, request.image.byteLength), pipeline.spec.input, request.decode);
        const decodeMs = performance.now() - started;
        const result = await pipeline.infer(frame, request.scoreThreshold === undefined ? {} : { scoreThreshold: request.scoreThreshold });
        reply({ type: 'detected', requestId: request.requestId, result: { ...result, workerWaitMs, decodeMs, image: { width: frame.geometry.originalWidth, height: frame.geometry.originalHeight } } });
        return;
      }
      case 'infer-tensors': {
        const pipeline = loadedModel(request.modelId);
        const workerWaitMs = Math.max(0, wallClockMs() - request.sentAt);
        const started = performance.now();
        const outputs = await pipeline.runTensors(request.inputs);
        reply({ type: 'inferred', requestId: request.requestId, result: { outputs, workerWaitMs, inferenceMs: performance.now() - started } });
        return;
      }
      case 'unload': {
        const pipeline = models.get(request.modelId);
        models.delete(request.modelId);
        await pipeline?.dispose();
        reply({ type: 'unloaded', requestId: request.requestId });
        return;
      }
    }
  } catch (error) {
    reply({ type: 'failed', requestId: request.requestId, error: serializeError(error) });
  }
}

port.on('message', (request: WorkerRequest) => void handle(request));
reply({ type: 'ready' });
