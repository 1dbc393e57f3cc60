import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface InferenceMetrics {
  registry: Registry;
  stageSeconds: Histogram<'stage' | 'model' | 'version'>;
  requests: Counter<'route' | 'status' | 'model' | 'version'>;
  predictions: Counter<'model' | 'version' | 'label'>;
  predictionScore: Histogram<'model' | 'version'>;
  errors: Counter<'code'>;
  swaps: Counter<'outcome'>;
  activations: Counter<'outcome' | 'trigger'>;
  activeModel: Gauge<'name' | 'version' | 'family' | 'runtime'>;
  queueLength: Gauge;
}

/**
 * prom-client's defaults that are gauges named like counters (`_total`): `promtool check metrics` fails on them, and
 * tools that compute rate() on every *_total series misread them. Each is the sum of a default gauge that stays
 * (nodejs_active_handles{type}, nodejs_active_requests{type}, nodejs_active_resources{type}), so nothing is lost.
 */
const GAUGES_NAMED_AS_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A registry of its own per app instance, so tests and several apps in one process never share counters. */
export function createMetrics(queueLength: () => number): InferenceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);
  return {
    registry,
    stageSeconds: new Histogram({
      name: 'inference_stage_seconds',
      help: 'Latency of each request stage: decode, queue, preprocess, inference, postprocess, total (detection), render (drawing ?render= images)',
      labelNames: ['stage', 'model', 'version'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'inference_requests_total',
      help: 'HTTP requests by route and status, and the model that answered (empty when none did)',
      labelNames: ['route', 'status', 'model', 'version'],
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'inference_predictions_total',
      help: 'Detections (and classifications) returned, by model, version and label: what the model sees',
      labelNames: ['model', 'version', 'label'],
      registers: [registry],
    }),
    predictionScore: new Histogram({
      name: 'inference_prediction_score',
      help: 'Scores of the detections (and classifications) returned, by model and version',
      labelNames: ['model', 'version'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1],
      registers: [registry],
    }),
    errors: new Counter({ name: 'inference_errors_total', help: 'Failed requests by error code', labelNames: ['code'], registers: [registry] }),
    swaps: new Counter({ name: 'inference_model_swaps_total', help: 'Model activations by outcome', labelNames: ['outcome'], registers: [registry] }),
    activations: new Counter({
      name: 'inference_model_activations_total',
      help: 'Activation attempts by outcome (accepted, rejected) and trigger (message, pointer, startup), repeats answered from memory included',
      labelNames: ['outcome', 'trigger'],
      registers: [registry],
    }),
    activeModel: new Gauge({ name: 'inference_active_model_info', help: 'The model serving requests (value 1)', labelNames: ['name', 'version', 'family', 'runtime'], registers: [registry] }),
    queueLength: new Gauge({ name: 'inference_queue_length', help: 'Requests waiting for a worker', registers: [registry], collect() { this.set(queueLength()); } }),
  };
}

