import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/** The browser modules of the console are plain JavaScript (no build step); these are the shapes the tests use. */
interface Bucket {
  le: number;
  count: number;
}
interface Summary {
  at: number;
  requests: number;
  errors: number;
  queue: number;
  buckets: Bucket[];
  latencyCount: number;
  latencySum: number;
}
interface PrometheusModule {
  parsePrometheus(text: string): { name: string; labels: Record<string, string>; value: number }[];
  summarizeMetrics(samples: ReturnType<PrometheusModule['parsePrometheus']>): Summary;
  diffSummaries(newer: Summary, older?: Summary): Omit<Summary, 'at' | 'queue'> & { seconds: number };
  histogramQuantile(quantile: number, buckets: Bucket[]): number | null;
}
interface ActivationEntry {
  name?: string;
  version?: string;
  at?: string;
  outcome: string;
  error?: { code?: string };
}
interface ActivationsModule {
  activationEntries(models: unknown): ActivationEntry[];
}

const consoleFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../console');
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(consoleFolder, file)).href)) as T;

describe('the console reading /metrics', () => {
  let prometheus: PrometheusModule;
  beforeAll(async () => {
    prometheus = await load<PrometheusModule>('prometheus.js');
  });

  const text = (requests: number, buckets: [string, number][]) =>
    [
      '# HELP inference_requests_total HTTP requests by route and status',
      '# TYPE inference_requests_total counter',
      `inference_requests_total{route="/v1/detect",status="200"} ${requests}`,
      'inference_requests_total{route="/v1/detect",status="415"} 2',
      'inference_requests_total{route="/metrics",status="200"} 40',
      'inference_requests_total{route="/score",status="200"} 1',
      ...buckets.map(([le, count]) => `inference_stage_seconds_bucket{le="${le}",stage="total",model="yolox",version="1"} ${count}`),
      'inference_stage_seconds_bucket{le="+Inf",stage="inference",model="yolox",version="1"} 999',
      `inference_stage_seconds_sum{stage="total",model="yolox",version="1"} 0.5`,
      `inference_stage_seconds_count{stage="total",model="yolox",version="1"} ${buckets.at(-1)?.[1] ?? 0}`,
      'inference_queue_length 3',
      'inference_active_model_info{name="a \\"quoted\\" name",version="1",family="yolox",runtime="onnxruntime"} 1',
    ].join('\n');

  it('counts detect requests (JSON, named-model and seed routes) and their failures, not its own polling', () => {
    const summary = prometheus.summarizeMetrics(prometheus.parsePrometheus(text(10, [['0.01', 4], ['0.025', 9], ['+Inf', 10]])));
    expect(summary).toMatchObject({ requests: 13, errors: 2, queue: 3, latencyCount: 10, latencySum: 0.5 });
    expect(summary.buckets).toEqual([{ le: 0.01, count: 4 }, { le: 0.025, count: 9 }, { le: Infinity, count: 10 }]);
    const named = prometheus.summarizeMetrics(prometheus.parsePrometheus(`${text(10, [['+Inf', 10]])}\ninference_requests_total{route="/v1/models/:name/detect",status="404"} 3`));
    expect(named).toMatchObject({ requests: 16, errors: 5 });
  });

  it('sums the series of every model and version, as after a swap', () => {
    const twoModels = [
      'inference_stage_seconds_bucket{le="0.01",stage="total",model="yolox",version="1"} 4',
      'inference_stage_seconds_bucket{le="+Inf",stage="total",model="yolox",version="1"} 5',
      'inference_stage_seconds_bucket{le="0.01",stage="total",model="ssd",version="2"} 1',
      'inference_stage_seconds_bucket{le="+Inf",stage="total",model="ssd",version="2"} 3',
      'inference_stage_seconds_count{stage="total",model="yolox",version="1"} 5',
      'inference_stage_seconds_count{stage="total",model="ssd",version="2"} 3',
      'inference_requests_total{route="/v1/detect",status="200",model="yolox",version="1"} 5',
      'inference_requests_total{route="/v1/detect",status="200",model="ssd",version="2"} 3',
      'inference_requests_total{route="/v1/detect",status="503",model="",version=""} 1',
    ].join('\n');
    const summary = prometheus.summarizeMetrics(prometheus.parsePrometheus(twoModels));
    expect(summary).toMatchObject({ requests: 9, errors: 1, latencyCount: 8, buckets: [{ le: 0.01, count: 5 }, { le: Infinity, count: 8 }] });
  });

  it('reads escaped label values', () => {
    const info = prometheus.parsePrometheus(text(0, [])).find((sample) => sample.name === 'inference_active_model_info');
    expect(info?.labels.name).toBe('a "quoted" name');
  });

  it('interpolates quantiles inside a bucket as histogram_quantile does', () => {
    const buckets = [{ le: 0.01, count: 4 }, { le: 0.02, count: 8 }, { le: Infinity, count: 8 }];
    expect(prometheus.histogramQuantile(0.5, buckets)).toBeCloseTo(0.01, 6);
    expect(prometheus.histogramQuantile(0.75, buckets)).toBeCloseTo(0.015, 6);
    expect(prometheus.histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeNull();
    expect(prometheus.histogramQuantile(0.99, [{ le: 0.01, count: 1 }, { le: Infinity, count: 5 }])).toBe(0.01);
  });

  it('gives the figures of a window as the difference of two polls, and starts over after a restart', () => {
    const older = { ...prometheus.summarizeMetrics(prometheus.parsePrometheus(text(10, [['0.01', 4], ['+Inf', 10]]))), at: 1000 };
    const newer = { ...prometheus.summarizeMetrics(prometheus.parsePrometheus(text(30, [['0.01', 20], ['+Inf', 30]]))), at: 11_000 };
    expect(prometheus.diffSummaries(newer, older)).toMatchObject({ seconds: 10, requests: 20, latencyCount: 20, buckets: [{ le: 0.01, count: 16 }, { le: Infinity, count: 20 }] });
    const restarted = { ...prometheus.summarizeMetrics(prometheus.parsePrometheus(text(1, [['0.01', 1], ['+Inf', 1]]))), at: 12_000 };
    expect(prometheus.diffSummaries(restarted, newer)).toMatchObject({ seconds: 0, requests: 4, latencyCount: 1 });
  });
});

describe('the console reading /v1/models activations', () => {
  let activations: ActivationsModule;
  beforeAll(async () => {
    activations = await load<ActivationsModule>('activations.js');
  });

  it('lists the history newest first, and the last error as a rejected entry', () => {
    const entries = activations.activationEntries({
      history: [
        { name: 'yolox', version: '2', activatedAt: '2026-11-30T10:00:00Z' },
        { name: 'yolox', version: '1', activatedAt: '2026-11-30T09:00:00Z' },
      ],
      lastError: { code: 'MODEL_LOAD_FAILED', message: 'bad', name: 'yolox', version: '3', at: '2026-11-30T11:00:00Z' },
    });
    expect(entries.map((entry) => [entry.version, entry.outcome, entry.error?.code])).toEqual([
      ['3', 'rejected', 'MODEL_LOAD_FAILED'],
      ['2', 'activated', undefined],
      ['1', 'activated', undefined],
    ]);
  });

  it('shows outcomes the module reports, without repeating the last error', () => {
    const entries = activations.activationEntries({
      activations: [
        { name: 'ssd', version: '4', at: '2026-11-30T12:00:00Z', outcome: 'rejected', error: { code: 'MODEL_ACCEPTANCE_FAILED' } },
        { name: 'ssd', version: '3', at: '2026-11-30T11:00:00Z', outcome: 'accepted' },
      ],
      lastError: { code: 'MODEL_ACCEPTANCE_FAILED', message: 'no person', name: 'ssd', version: '4', at: '2026-11-30T12:00:00Z' },
    });
    expect(entries.map((entry) => [entry.version, entry.outcome, entry.error?.code])).toEqual([
      ['4', 'rejected', 'MODEL_ACCEPTANCE_FAILED'],
      ['3', 'accepted', undefined],
    ]);
  });

  it('takes the attempts the module reports, folds in lastActivation, and keeps swaps no accepted attempt covers', () => {
    const entries = activations.activationEntries({
      activations: [{ name: 'ssd', version: '3', at: '2026-11-30T11:00:00Z', outcome: 'accepted', trigger: 'message', loadMs: 180 }],
      history: [
        { name: 'ssd', version: '3', activatedAt: '2026-11-30T11:00:00.100Z' },
        { name: 'yolox', version: '1', activatedAt: '2026-11-30T08:00:00Z' },
      ],
      lastActivation: { name: 'ssd', version: '5', at: '2026-11-30T13:00:00Z', outcome: 'rejected', error: { code: 'MODEL_LOAD_FAILED' } },
      lastError: { code: 'MODEL_LOAD_FAILED', message: 'bad', name: 'ssd', version: '5', at: '2026-11-30T13:00:00Z' },
    });
    expect(entries.map((entry) => `${entry.name} ${entry.version} ${entry.outcome}`)).toEqual(['ssd 5 rejected', 'ssd 3 accepted', 'yolox 1 activated']);
  });

  it('reads the reports of a module without history or errors (nulls where nothing applies)', () => {
    const entries = activations.activationEntries({ activations: [{ name: 'a', version: '1', at: '2026-11-30T11:00:00Z', outcome: 'accepted', error: null, loadMs: null }], lastActivation: null, lastError: null });
    expect(entries).toEqual([expect.objectContaining({ name: 'a', outcome: 'accepted', error: null })]);
  });
});
