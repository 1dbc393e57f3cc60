import { parentPort } from 'node:worker_threads';
import { ModelPipeline } from '../pipeline/model-pipeline.js';
import { serializeError, type WorkerRequest, type WorkerResponse } from './protocol.js';

if (!parentPort) throw new Error('inference-worker must run in a worker thread');
const port = parentPort;
const models = new Map<string, ModelPipeline>();

const reply = (response: WorkerResponse) => port.postMessage(response);

async function handle(request: WorkerRequest): Promise<void> {
  try {
    switch (request.type) {
      case 'load': {
        const existing = models.get(request.modelId);
        if (existing) await existing.dispose();
        const { pipeline, loadMs, warmupMs } = await ModelPipeline.load(request.load);
        models.set(request.modelId, pipeline);
        reply({ type: 'loaded', requestId: request.requestId, info: { spec: pipeline.spec, signature: pipeline.signature, runtimeName: pipeline.runtimeName, loadMs, warmupMs } });
        return;
      }
      case 'infer': {
        const pipeline = models.get(request.modelId);
        if (!pipeline) throw Object.assign(new Error(`model ${request.modelId} is not loaded in this worker`), { code: 'MODEL_NOT_LOADED' });
        const result = await pipeline.infer(request.frame, request.scoreThreshold === undefined ? {} : { scoreThreshold: request.scoreThreshold });
        reply({ type: 'inferred', requestId: request.requestId, result });
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
