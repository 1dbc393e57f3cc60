/**
 * Several models in one inference process (issue 16), for bench/inference.bench.ts:
 *  - throughput at c=8 over HTTP: one model (YOLOX-nano ONNX) against the same request mix split 4/4 across two names
 *    holding the same model (`yolox`, `yolox-b`: equal cost per request, so the totals are comparable), in many short
 *    alternating rounds; and, as a figure, YOLOX + SSD MobileNet v1 TFLite split 4/4, read as the share of each model's own c=8
 *    throughput that the pair reaches together (different models' req/s are not comparable, their shares add up);
 *  - RSS of the service holding both models against the sum of each model's own cost, each set in a process of its
 *    own (bench/several-models/models-rss.mjs), the bare service's RSS subtracted once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLogger } from '@edge-ml/edge-kit';
import { createInferenceService, InferenceConfigSchema } from '@edge-ml/inference';
import { estimateRuntimeBytes, estimateVersionBytes } from '../../modules/inference/src/serving/memory-budget.js';
import { SSD_TFLITE, stageModel, YOLOX_ONNX } from '../../modules/inference/test/storage.js';
import { modelFile } from '../../modules/inference/test/testdata.js';
import { createImagePoster } from '../http-client.js';
import { fmt, median, mib, throughput } from '../stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

export interface SeveralModelsOptions {
  workers: number;
  threadEnv: Record<string, string | undefined>;
  image: Buffer;
  rounds: number;
  durationMs: number;
  rssRounds: number;
  verdict: (name: string, ok: boolean, detail: string) => void;
}

const loadAverage = () =>
  loadavg()
    .map((value) => fmt(value, 2))
    .join(' ');

type Poster = ReturnType<typeof createImagePoster>;

async function postOk(poster: Poster, image: Buffer): Promise<void> {
  const response = await poster.post(image);
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${response.body.slice(0, 200)}`);
}

/** `concurrency` clients on one route for `durationMs`. */
async function single(poster: Poster, image: Buffer, concurrency: number, durationMs: number) {
  return throughput(concurrency, durationMs, () => postOk(poster, image));
}

/** Half of `concurrency` clients on each of two routes, for the same `durationMs`: req/s of each and their failures. */
async function split(a: Poster, b: Poster, image: Buffer, concurrency: number, durationMs: number) {
  const [first, second] = await Promise.all([single(a, image, concurrency / 2, durationMs), single(b, image, concurrency / 2, durationMs)]);
  return { a: first.perSecond, b: second.perSecond, total: first.perSecond + second.perSecond, failures: first.failures + second.failures };
}

async function measureThroughput(options: SeveralModelsOptions) {
  const { image, rounds, durationMs, verdict } = options;
  const storage = await mkdtemp(path.join(tmpdir(), 'bench-several-'));
  const config = InferenceConfigSchema.parse({ STORAGE_ROOT: storage, EDGE_MODE: 'off', INFERENCE_WORKERS: String(options.workers), INFERENCE_MAX_QUEUE: '64', INFERENCE_CONSOLE: 'off', ...options.threadEnv });
  const service = await createInferenceService({ config, logger: createLogger({ name: 'bench', level: 'warn' }), edgeClient: null });
  for (const staged of [YOLOX_ONNX, { ...YOLOX_ONNX, name: 'yolox-b' }, SSD_TFLITE]) {
    const outcome = await service.models.activate(await stageModel(storage, { ...staged, version: '1' }));
    if (outcome.status !== 'activated') throw new Error(`${staged.name}: ${outcome.status}`);
  }
  const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
  const posters = Object.fromEntries(['yolox', 'yolox-b', 'ssd'].map((name) => [name, createImagePoster(url, 8, `/v1/models/${name}/detect`)])) as Record<'yolox' | 'yolox-b' | 'ssd', Poster>;
  for (const poster of Object.values(posters)) for (let index = 0; index < 8; index += 1) await postOk(poster, image);

  const loadBefore = loadAverage();
  const samples = { one: [] as number[], pair: [] as number[], ratios: [] as number[], ssd: [] as number[], mixed: [] as number[], mixedYolox: [] as number[], mixedSsd: [] as number[], shares: [] as number[] };
  let failures = 0;
  let mixedFailures = 0;
  // Many short rounds, each side once per round and the order reversed every other round: a busy spell of the shared
  // machine (they last seconds) then lands on both sides of a round alike, and the verdict is the median of the
  // rounds' own ratios.
  for (let round = 0; round < rounds; round += 1) {
    const runOne = () => single(posters.yolox, image, 8, durationMs);
    const runPair = () => split(posters.yolox, posters['yolox-b'], image, 8, durationMs);
    const [one, pair] = round % 2 === 0 ? [await runOne(), await runPair()] : await runPair().then(async (first) => [await runOne(), first] as const);
    const ssd = await single(posters.ssd, image, 8, durationMs);
    const mixed = await split(posters.yolox, posters.ssd, image, 8, durationMs);
    samples.one.push(one.perSecond);
    samples.pair.push(pair.total);
    samples.ratios.push(pair.total / one.perSecond);
    samples.ssd.push(ssd.perSecond);
    samples.mixed.push(mixed.total);
    samples.mixedYolox.push(mixed.a);
    samples.mixedSsd.push(mixed.b);
    samples.shares.push(mixed.a / one.perSecond + mixed.b / ssd.perSecond);
    failures += one.failures + pair.failures;
    mixedFailures += ssd.failures + mixed.failures;
  }
  const loadAfter = loadAverage();
  for (const poster of Object.values(posters)) poster.close();
  await service.close();
  await rm(storage, { recursive: true, force: true });

  const one = median(samples.one);
  const pair = median(samples.pair);
  const ratio = median(samples.ratios);
  const list = (values: number[]) => values.map((value) => fmt(value)).join(', ');
  console.log(
    `several c=8   one model (yolox) ${fmt(one)} req/s | two names of the same model (yolox + yolox-b, 4/4) ${fmt(pair)} req/s (${failures} failed) | ratio ${fmt(ratio * 100)}% (median of ${rounds} rounds of ${durationMs / 1000} s each: ${list(samples.ratios.map((value) => value * 100))}%; load average ${loadBefore} -> ${loadAfter})`,
  );
  const shares = median(samples.shares);
  console.log(
    `several c=8   YOLOX + SSD TFLite (4/4): ${fmt(median(samples.mixedYolox))} + ${fmt(median(samples.mixedSsd))} = ${fmt(median(samples.mixed))} req/s (${mixedFailures} failed) | alone at c=8: yolox ${fmt(one)}, ssd ${fmt(median(samples.ssd))} req/s | shares of each alone add up to ${fmt(shares * 100)}% (median; rounds: ${list(samples.shares.map((value) => value * 100))})`,
  );
  verdict('two models at c=8 (4/4) >= 90% of one model at c=8', ratio >= 0.9 && failures === 0, `${fmt(ratio * 100)}%, ${failures} failed`);
  return {
    rounds,
    durationMs,
    loadAverage: { before: loadBefore, after: loadAfter },
    oneModel: { rounds: samples.one, median: one },
    twoNames: { rounds: samples.pair, median: pair, ratioRounds: samples.ratios, ratio, failures },
    yoloxAndSsd: { ssdAloneRounds: samples.ssd, mixedRounds: samples.mixed, yolox: median(samples.mixedYolox), ssd: median(samples.mixedSsd), total: median(samples.mixed), sharesOfAlone: shares, sharesRounds: samples.shares, failures: mixedFailures },
  };
}

/** RSS of our service holding `models` (NAME=MODEL:LABELS), asked two requests per worker each unless `requests` is false, in a process of its own. */
async function rssOf(workers: number, { models, requests }: { models: string[]; requests: boolean }): Promise<number> {
  const { stdout } = await run(process.execPath, ['--expose-gc', path.join(here, 'models-rss.mjs'), ...(requests ? [] : ['--no-requests']), String(workers), ...models], { cwd: path.resolve(here, '..'), env: process.env, maxBuffer: 1024 * 1024 });
  return (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { rss: number }).rss;
}

async function measureRss(options: SeveralModelsOptions) {
  const { workers, rssRounds, verdict } = options;
  const yolox = `yolox=${YOLOX_ONNX.model}:${YOLOX_ONNX.labels}`;
  const yoloxB = `yolox-b=${YOLOX_ONNX.model}:${YOLOX_ONNX.labels}`;
  const ssd = `ssd=${SSD_TFLITE.model}:${SSD_TFLITE.labels}`;
  // The last two: loaded but asked nothing, what the memory budget estimates (requests' buffers are left to its headroom).
  const served = (...models: string[]) => ({ models, requests: true });
  const sets = {
    bare: served(),
    yolox: served(yolox),
    ssd: served(ssd),
    yoloxSsd: served(yolox, ssd),
    yoloxTwice: served(yolox, yoloxB),
    yoloxSsdIdle: { models: [yolox, ssd], requests: false },
    yoloxTwiceIdle: { models: [yolox, yoloxB], requests: false },
  };
  const samples = Object.fromEntries(Object.keys(sets).map((key) => [key, [] as number[]])) as Record<keyof typeof sets, number[]>;
  const loadBefore = loadAverage();
  // Each round runs every set once, so a busy spell of the machine lands on all of them alike.
  for (let round = 0; round < rssRounds; round += 1) {
    for (const [key, set] of Object.entries(sets) as [keyof typeof sets, (typeof sets)[keyof typeof sets]][]) samples[key].push(await rssOf(workers, set));
  }
  const loadAfter = loadAverage();
  const rss = Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, mib(median(values))])) as Record<keyof typeof sets, number>;
  const cost = { yolox: rss.yolox - rss.bare, ssd: rss.ssd - rss.bare, yoloxSsd: rss.yoloxSsd - rss.bare, yoloxTwice: rss.yoloxTwice - rss.bare };
  const mixedSum = cost.yolox + cost.ssd;
  const twiceSum = 2 * cost.yolox;
  const mixedRatio = cost.yoloxSsd / mixedSum;
  const twiceRatio = cost.yoloxTwice / twiceSum;
  console.log(
    `several RSS   bare service ${fmt(rss.bare)} MiB (${workers} workers); own cost, each in a process of its own: yolox +${fmt(cost.yolox)}, ssd +${fmt(cost.ssd)} MiB (medians of ${rssRounds}; load average ${loadBefore} -> ${loadAfter})`,
  );
  console.log(`several RSS   yolox + ssd loaded: +${fmt(cost.yoloxSsd)} MiB against the sum of their own costs ${fmt(mixedSum)} MiB: ${fmt(mixedRatio, 2)}x`);
  console.log(`several RSS   yolox + yolox-b (same model, two names): +${fmt(cost.yoloxTwice)} MiB against the sum ${fmt(twiceSum)} MiB: ${fmt(twiceRatio, 2)}x (one ONNX Runtime start-up is shared, so below 1)`);
  // Upper bound: a model beside another costs what it costs alone, within the ~+-10% one process's RSS swings. Lower
  // bound: each model's own cost includes what its process pays once whoever serves (the first requests' decode buffers
  // and the worker threads' allocator arenas, ~25 MiB measured with --no-requests), so both loaded come to ~0.9x.
  verdict('RSS of YOLOX + SSD 0.8x-1.15x the sum of their own costs', mixedRatio >= 0.8 && mixedRatio <= 1.15, `${fmt(mixedRatio, 2)}x (${fmt(cost.yoloxSsd)} against ${fmt(mixedSum)} MiB)`);
  // The memory budget's estimate (INFERENCE_MEMORY_BUDGET_MB) of the models loaded and idle: it should err high. The
  // requests' working set (decode buffers, allocator arenas) is not in it: the auto budget's 20% headroom is for that.
  const yoloxFileBytes = (await stat(modelFile(YOLOX_ONNX.model))).size;
  const ssdFileBytes = (await stat(modelFile(SSD_TFLITE.model))).size;
  const estimate = {
    yoloxSsd: mib(estimateRuntimeBytes('onnx', workers) + estimateVersionBytes('onnx', yoloxFileBytes, workers) + estimateRuntimeBytes('tflite', workers) + estimateVersionBytes('tflite', ssdFileBytes, workers)),
    yoloxTwice: mib(estimateRuntimeBytes('onnx', workers) + 2 * estimateVersionBytes('onnx', yoloxFileBytes, workers)),
  };
  const idle = { yoloxSsd: rss.yoloxSsdIdle - rss.bare, yoloxTwice: rss.yoloxTwiceIdle - rss.bare };
  console.log(
    `several RSS   the memory budget's estimate (models loaded, no requests): yolox + ssd ${fmt(estimate.yoloxSsd)} MiB against +${fmt(idle.yoloxSsd)} measured, yolox + yolox-b ${fmt(estimate.yoloxTwice)} against +${fmt(idle.yoloxTwice)} MiB`,
  );
  verdict('RSS of two YOLOX names <= 1.15x the sum of their own costs', twiceRatio <= 1.15, `${fmt(twiceRatio, 2)}x (${fmt(cost.yoloxTwice)} against ${fmt(twiceSum)} MiB)`);
  return {
    rounds: rssRounds,
    loadAverage: { before: loadBefore, after: loadAfter },
    rssMiB: rss,
    samplesMiB: Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, values.map((value) => Number(mib(value).toFixed(1)))])),
    costMiB: cost,
    yoloxSsd: { bothMiB: cost.yoloxSsd, sumMiB: mixedSum, ratio: mixedRatio },
    yoloxTwice: { bothMiB: cost.yoloxTwice, sumMiB: twiceSum, ratio: twiceRatio },
    budgetEstimateMiB: estimate,
    loadedIdleMiB: idle,
  };
}

/** Runs both parts, prints their lines and verdicts, and returns the figures for the bench's JSON. */
export async function benchSeveralModels(options: SeveralModelsOptions) {
  const throughputResults = await measureThroughput(options);
  const rss = await measureRss(options);
  return { throughput: throughputResults, rss };
}
