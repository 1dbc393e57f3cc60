import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface InferenceMetrics {
  registry: Registry;
  stageSeconds: Histogram<'stage'>;
  requests: Counter<'route' | 'status'>;
  errors: Counter<'code'>;
  swaps: Counter<'outcome'>;
  activeModel: Gauge<'name' | 'version' | 'family' | 'runtime'>;
  queueLength: Gauge;
}

/** A registry of its own per app instance, so tests and several apps in one process never share counters. */
export function createMetrics(queueLength: () => number): InferenceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    stageSeconds: new Histogram({
      name: 'inference_stage_seconds',
      help: 'Latency of each request stage: decode, queue, preprocess, inference, postprocess, total',
      labelNames: ['stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    requests: new Counter({ name: 'inference_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    errors: new Counter({ name: 'inference_errors_total', help: 'Failed requests by error code', labelNames: ['code'], registers: [registry] }),
    swaps: new Counter({ name: 'inference_model_swaps_total', help: 'Model activations by outcome', labelNames: ['outcome'], registers: [registry] }),
    activeModel: new Gauge({ name: 'inference_active_model_info', help: 'The model serving requests (value 1)', labelNames: ['name', 'version', 'family', 'runtime'], registers: [registry] }),
    queueLength: new Gauge({ name: 'inference_queue_length', help: 'Requests waiting for a worker', registers: [registry], collect() { this.set(queueLength()); } }),
  };
}
