/**
 * What a loaded model costs in resident memory, per worker: the figures behind the inference module's memory estimate
 * (modules/inference/src/serving/memory-budget.ts, docs/configuration.md). Each case runs in a process of its own: a
 * worker pool of 1 or 2 workers is started, RSS is read, the model is loaded (and warmed up) in every worker, RSS is
 * read again, then a second copy of the same model is loaded (a swap holds two versions) and RSS read a third time.
 * Usage: node --expose-gc --conditions=source --import tsx bench/model-memory.ts
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLogger } from '@edge-ml/edge-kit';
import { WorkerPool } from '@edge-ml/inference';
import { modelFormatFromFileName } from '@edge-ml/contracts';

const here = fileURLToPath(import.meta.url);
const models = path.resolve(path.dirname(here), '..', 'testdata', 'models');
const CASES: { model: string; labels: string }[] = [
  { model: 'yolox_nano.onnx', labels: 'coco_classes.txt' },
  { model: 'ssd_mobilenet_v1_coco_quant_detect.tflite', labels: 'labelmap.txt' },
  { model: 'mobilenet_v2_1.0_224_quant.tflite', labels: 'imagenet_labels.txt' },
  { model: 'yolox_nano_float16_quantize.tflite', labels: 'coco_classes.txt' },
];
const ROUNDS = 3;

async function rssMiB(): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** One case in this process: prints { baseline, first, second } RSS in MiB as JSON. */
async function runCase(model: string, labels: string, workers: number): Promise<void> {
  const pool = new WorkerPool({ size: workers, maxQueue: 8, logger: createLogger({ name: 'model-memory', level: 'silent' }) });
  await pool.start();
  const format = modelFormatFromFileName(model);
  if (!format) throw new Error(`unknown format of ${model}`);
  const request = { format, modelPath: path.join(models, model), labelsText: await readFile(path.join(models, labels), 'utf8'), runtime: { executionProviders: ['cpu'], threads: 1 } };
  const baseline = await rssMiB();
  await pool.loadEverywhere('a', request);
  const first = await rssMiB();
  await pool.loadEverywhere('b', request);
  const second = await rssMiB();
  await pool.close();
  console.log(JSON.stringify({ baseline, first, second }));
}

async function main(): Promise<void> {
  const caseArgument = process.argv.find((argument) => argument.startsWith('--case='));
  if (caseArgument) {
    const [model, labels, workers] = caseArgument.slice('--case='.length).split(':');
    return runCase(model!, labels!, Number(workers));
  }
  console.log('model | file MiB | workers | +RSS first copy MiB (per worker) | +RSS second copy MiB (per worker)');
  for (const { model, labels } of CASES) {
    const fileMiB = (await stat(path.join(models, model))).size / 2 ** 20;
    for (const workers of [1, 2]) {
      const firsts: number[] = [];
      const seconds: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, here, `--case=${model}:${labels}:${workers}`]);
        const { baseline, first, second } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { baseline: number; first: number; second: number };
        firsts.push(first - baseline);
        seconds.push(second - first);
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const a = median(firsts);
      const b = median(seconds);
      console.log(`${model} | ${fileMiB.toFixed(1)} | ${workers} | ${a.toFixed(1)} (${(a / workers).toFixed(1)}) | ${b.toFixed(1)} (${(b / workers).toFixed(1)})`);
    }
  }
}

await main();
