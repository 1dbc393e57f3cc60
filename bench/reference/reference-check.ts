/**
 * Reference check: runs each family's reference pipeline, written from the official sources, on every photo in
 * testdata/images, writes the results as fixtures (bench/fixtures/reference/*.json, which
 * bench/reference-fidelity.test.ts compares the server's pipeline with) and prints the comparison.
 *  - YOLOX-nano ONNX: bench/reference/reference_pipelines.py (YOLOX's preproc, demo_postprocess and class-agnostic
 *    multiclass_nms, OpenCV DNN), needs Debian's python3-opencv: `apt-get install -y python3-opencv`.
 *  - SSD MobileNet v1 TFLite: the same script's cv2 INTER_LINEAR stretch, then the TFLite interpreter compiled to
 *    WebAssembly (@tensorflow/tfjs-tflite, bench/reference/tflite-interpreter.ts).
 * With --ablation it also runs our pipeline with each pre-#13 setting put back alone, to show what each one costs.
 * Usage: npm run bench:reference [-- --no-write] [-- --ablation]   (REFERENCE_PYTHON overrides /usr/bin/python3)
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelDescriptor } from '@edge-ml/contracts';
import { clampBox, compareDetections, summarizeComparisons, type FidelitySummary, type ImageComparison, type ReferenceDetection } from './compare-detections.js';
import { FIXTURE_DIRECTORY, listPhotos, REFERENCE_CASES, ROOT, runOurPipeline, type ReferenceFixture } from './run-ours.js';
import { loadTfliteInterpreter } from './tflite-interpreter.js';

const write = !process.argv.includes('--no-write');
const ablation = process.argv.includes('--ablation');

/** model.json settings that put back, alone or together, what the server did before it matched the references. */
const ABLATIONS: { name: string; families: string[]; descriptor: ModelDescriptor }[] = [
  {
    name: 'all previous settings (antialiased resize, rounded letterbox, per-class continuous NMS)',
    families: ['onnx', 'tflite'],
    descriptor: { schemaVersion: 1, input: { interpolation: 'antialiased-linear', letterboxRounding: 'round' }, nmsMode: 'per-class', nmsBoxArea: 'continuous' },
  },
  { name: 'antialiased resize alone', families: ['onnx'], descriptor: { schemaVersion: 1, input: { interpolation: 'antialiased-linear' } } },
  { name: 'rounded letterbox size alone', families: ['onnx'], descriptor: { schemaVersion: 1, input: { letterboxRounding: 'round' } } },
  { name: 'per-class NMS alone', families: ['onnx'], descriptor: { schemaVersion: 1, nmsMode: 'per-class' } },
  { name: 'continuous NMS box areas alone', families: ['onnx'], descriptor: { schemaVersion: 1, nmsBoxArea: 'continuous' } },
];
const python = process.env.REFERENCE_PYTHON ?? '/usr/bin/python3';
const SSD_THRESHOLD = 0.5;
/** SSD rows kept in the fixture: below the threshold too, so that a score flipping across it shows. */
const SSD_KEEP_ABOVE = 0.3;

interface PythonYolox {
  runtime: string;
  reference: string;
  scoreThreshold: number;
  images: Record<string, { width: number; height: number; canvasSha256: string; detections: ReferenceDetection[] }>;
}
interface PythonSsd {
  input: { width: number; height: number };
  preprocess: string;
  images: Record<string, { width: number; height: number; canvasSha256: string }>;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

async function ssdFixture(model: string, work: string, prepared: PythonSsd): Promise<ReferenceFixture> {
  const interpreter = await loadTfliteInterpreter(path.join(ROOT, 'testdata', 'models', model));
  const images: ReferenceFixture['images'] = {};
  for (const [photo, info] of Object.entries(prepared.images)) {
    const input = new Uint8Array(await readFile(path.join(work, 'ssd', `${photo}.rgb`)));
    const outputs = Object.values(interpreter.run(input, [1, prepared.input.height, prepared.input.width, 3]));
    const [boxes, classes, scores, count] = outputs;
    if (!boxes || !classes || !scores || !count) throw new Error(`${model}: expected 4 outputs, got ${outputs.length}`);
    const detections: ReferenceDetection[] = [];
    for (let row = 0; row < Math.round(count[0] ?? 0); row += 1) {
      const score = scores[row] ?? 0;
      if (score < SSD_KEEP_ABOVE) continue;
      const [ymin = 0, xmin = 0, ymax = 0, xmax = 0] = boxes.subarray(row * 4, row * 4 + 4);
      const box = [xmin * info.width, ymin * info.height, xmax * info.width, ymax * info.height].map((v) => round(v, 3)) as ReferenceDetection['box'];
      detections.push({ classId: Math.round(classes[row] ?? 0), score: round(score, 6), box });
    }
    images[photo] = { width: info.width, height: info.height, canvasSha256: info.canvasSha256, detections };
  }
  return {
    generatedBy: 'bench/reference/reference-check.ts',
    model: `testdata/models/${model}`,
    reference: `${prepared.preprocess}; TFLite interpreter (TFLite_Detection_PostProcess in the graph); boxes scaled by the original size`,
    runtime: '@tensorflow/tfjs-tflite 0.0.1-alpha.10 (TFLite compiled to WebAssembly, SIMD, one thread)',
    scoreThreshold: SSD_THRESHOLD,
    images,
  };
}

function compareWith(fixture: ReferenceFixture, photo: string, ours: ReferenceDetection[]): ImageComparison {
  const reference = fixture.images[photo];
  if (!reference) throw new Error(`${photo} missing from the reference`);
  const clamped = reference.detections.map((d) => ({ ...d, box: clampBox(d.box, reference.width, reference.height) }));
  return compareDetections(clamped, ours, fixture.scoreThreshold);
}

function describeSummary(summary: FidelitySummary): string {
  return (
    `${summary.matched}/${summary.reference} matched, ${summary.missing} missing, ${summary.extra} extra, ` +
    `IoU mean ${summary.meanIou.toFixed(4)} min ${summary.minIou.toFixed(4)}, score Δ ≤ ${summary.maxScoreDifference.toFixed(4)}`
  );
}

function describeComparison(c: ImageComparison): string {
  const mean = c.ious.length ? c.ious.reduce((a, b) => a + b, 0) / c.ious.length : 1;
  const flips = [...c.missing.map((d) => `missing ${d.classId}@${d.score.toFixed(3)}`), ...c.extra.map((d) => `extra ${d.classId}@${d.score.toFixed(3)}`)];
  return `${String(c.matched).padStart(3)} matched  IoU mean ${mean.toFixed(4)} min ${(c.ious.length ? Math.min(...c.ious) : 1).toFixed(4)}  score Δ ≤ ${(c.scoreDifferences.length ? Math.max(...c.scoreDifferences) : 0).toFixed(4)}  ${flips.join(', ')}`;
}

async function main() {
  const work = await mkdtemp(path.join(tmpdir(), 'reference-check-'));
  try {
    const run = spawnSync(python, [path.join(ROOT, 'bench', 'reference', 'reference_pipelines.py'), work], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (run.status !== 0) throw new Error(`${python} bench/reference/reference_pipelines.py failed (status ${run.status}); is python3-opencv installed?`);
    const yolox = JSON.parse(await readFile(path.join(work, 'yolox.json'), 'utf8')) as PythonYolox;
    const ssd = JSON.parse(await readFile(path.join(work, 'ssd.json'), 'utf8')) as PythonSsd;
    const fixtures = new Map<string, ReferenceFixture>();
    fixtures.set('yolox-nano-onnx.json', {
      generatedBy: 'bench/reference/reference-check.ts',
      model: 'testdata/models/yolox_nano.onnx',
      reference: yolox.reference,
      runtime: yolox.runtime,
      scoreThreshold: yolox.scoreThreshold,
      images: yolox.images,
    });
    for (const testCase of REFERENCE_CASES.filter((c) => c.format === 'tflite')) fixtures.set(testCase.fixture, await ssdFixture(testCase.model, work, ssd));
    const photos = await listPhotos();
    for (const testCase of REFERENCE_CASES) {
      const fixture = fixtures.get(testCase.fixture);
      if (!fixture) continue;
      if (write) await writeFile(path.join(FIXTURE_DIRECTORY, testCase.fixture), `${JSON.stringify(fixture, null, 1)}\n`);
      const ours = await runOurPipeline(testCase, photos);
      console.log(`\n${testCase.model} against ${fixture.runtime}, threshold ${fixture.scoreThreshold} (ours: ${ours.scoreThreshold})`);
      const comparisons: ImageComparison[] = [];
      for (const photo of photos) {
        const reference = fixture.images[photo];
        const mine = ours.results[photo];
        if (!reference || !mine) throw new Error(`${photo} missing from the reference or our run`);
        const comparison = compareWith(fixture, photo, mine.detections);
        comparisons.push(comparison);
        const canvas = mine.canvasSha256 === reference.canvasSha256 ? 'canvas identical' : 'canvas DIFFERS';
        console.log(`  ${photo.padEnd(28)} ${canvas.padEnd(16)} ${describeComparison(comparison)}`);
      }
      console.log(`  total: ${describeSummary(summarizeComparisons(comparisons))}`);
      if (!ablation) continue;
      for (const variant of ABLATIONS.filter((a) => a.families.includes(testCase.format))) {
        const changed = await runOurPipeline(testCase, photos, variant.descriptor);
        const variantComparisons = photos.map((photo) => compareWith(fixture, photo, changed.results[photo]?.detections ?? []));
        console.log(`  with ${variant.name}: ${describeSummary(summarizeComparisons(variantComparisons))}`);
      }
    }
    if (write) console.log(`\nfixtures written to ${path.relative(ROOT, FIXTURE_DIRECTORY)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
