/**
 * The floor beside our figures, for bench/inference.bench.ts: OpenCV's decode + letterbox (bench/opencv_decode_floor.py,
 * Debian's python3-opencv) against ours on the same photo, per stage; our idle RSS against a bare onnxruntime-node +
 * sharp process with as many threads (bench/floor/bare-floor.mjs); each in a process of its own.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { decodeToFrame } from '@edge-ml/inference';
import { resizeOpenCvLinear } from '../../modules/inference/src/image/resize-opencv-linear.js';
import type { ResolvedInputSpec } from '../../modules/inference/src/pipeline/model-spec.js';
import { computeGeometry } from '../../modules/inference/src/pipeline/preprocess.js';
import { median } from '../stats.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

/** YOLOX-nano's input as its model.json resolves: 416x416 top-left letterbox, pad 114, cv2 INTER_LINEAR, int() sizes. */
export const YOLOX_INPUT: ResolvedInputSpec = {
  width: 416, height: 416, layout: 'nchw', colorOrder: 'bgr', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114, dtype: 'float32',
  scale: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'opencv-linear', letterboxRounding: 'floor',
};

export interface DecodeFloor {
  /** p50 ms: sharp's full-size decode, the resize onto the canvas (fill included), and decodeToFrame whole. */
  ours: { decode: number; resize: number; total: number };
  /** p50 ms: cv2.imdecode, cv2.resize + canvas, both; undefined with the reason when python3-opencv is missing. */
  opencv?: { decode: number; resize: number; total: number; version: string; threads: number };
  missing?: string;
}

type Stages = { decode: number[]; resize: number[]; total: number[] };

/** BLOCKS alternating blocks of each side: a busy spell of the shared machine then slows both sides alike. */
const BLOCKS = 4;

async function ourRounds(bytes: Buffer, rounds: number, warmup: number, samples: Stages): Promise<void> {
  for (let round = -warmup; round < rounds; round += 1) {
    let started = performance.now();
    const { data, info } = await sharp(bytes, { failOn: 'error', ignoreIcc: true }).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const decode = performance.now() - started;
    started = performance.now();
    const geometry = computeGeometry(info.width, info.height, YOLOX_INPUT);
    const canvas = new Uint8Array(416 * 416 * 3).fill(114);
    resizeOpenCvLinear({ data, width: info.width, height: info.height, channels: 3 }, { canvas, canvasWidth: 416, left: 0, top: 0, width: geometry.contentWidth, height: geometry.contentHeight });
    const resize = performance.now() - started;
    started = performance.now();
    await decodeToFrame(bytes, YOLOX_INPUT, { limitPixels: 40_000_000 });
    const total = performance.now() - started;
    if (round < 0) continue;
    samples.decode.push(decode);
    samples.resize.push(resize);
    samples.total.push(total);
  }
}

/**
 * Ours and OpenCV's (a new Python process per block, which warms up first), `rounds` each, in alternating blocks;
 * the p50 of each side's pooled samples.
 */
export async function measureDecodeFloor(photo: string, rounds: number): Promise<DecodeFloor> {
  const bytes = await (await import('node:fs/promises')).readFile(photo);
  let hasOpenCv = true;
  try {
    await run('/usr/bin/python3', ['-c', 'import cv2']);
  } catch {
    hasOpenCv = false;
  }
  const ours: Stages = { decode: [], resize: [], total: [] };
  const theirs: Stages = { decode: [], resize: [], total: [] };
  let version = '';
  let threads = 1;
  const perBlock = Math.max(1, Math.ceil(rounds / BLOCKS));
  for (let block = 0; block < BLOCKS; block += 1) {
    await ourRounds(bytes, perBlock, block === 0 ? 5 : 2, ours);
    if (!hasOpenCv) continue;
    const { stdout } = await run('/usr/bin/python3', [path.join(root, 'bench', 'opencv_decode_floor.py'), String(perBlock), '1', '416', photo], { maxBuffer: 16 * 1024 * 1024 });
    const parsed = JSON.parse(stdout) as { opencv: string; threads: number; photos: Record<string, { samples: Stages }> };
    const stages = parsed.photos[photo];
    if (!stages) throw new Error('opencv_decode_floor.py returned no figures');
    for (const stage of ['decode', 'resize', 'total'] as const) theirs[stage].push(...stages.samples[stage]);
    version = parsed.opencv;
    threads = parsed.threads;
  }
  const p50 = (stages: Stages) => ({ decode: median(stages.decode), resize: median(stages.resize), total: median(stages.total) });
  if (!hasOpenCv) return { ours: p50(ours), missing: "Debian's python3-opencv is not installed (apt-get install -y python3-opencv): no OpenCV floor" };
  return { ours: p50(ours), opencv: { ...p50(theirs), version, threads } };
}

export interface BareFloor {
  idleRss: number;
  latencyP50: number;
  decodeMeanC1: number;
  decodeMeanC8: number;
  throughput: number;
}

/** The bare onnxruntime-node + sharp process with `workers` threads (bare-floor.mjs). */
export async function measureBareFloor(workers: number, threads: number, sequential: number, durationMs: number): Promise<BareFloor> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', path.join(here, 'bare-floor.mjs'), path.join(root, 'testdata', 'models', 'yolox_nano.onnx'), path.join(root, 'testdata', 'images', 'darknet_person.jpg'), String(workers), String(threads), String(sequential), String(durationMs)],
    { cwd: path.join(root, 'bench'), env: process.env, maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as BareFloor;
}

/** Our server's idle RSS with `workers` workers, in a process of its own, from the built dist/ (ours-idle.mjs). */
export async function measureOurIdleRss(workers: number): Promise<number> {
  const { stdout } = await run(process.execPath, ['--expose-gc', path.join(here, 'ours-idle.mjs'), String(workers)], {
    cwd: path.join(root, 'bench'),
    env: process.env,
    maxBuffer: 1024 * 1024,
  });
  return (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { idleRss: number }).idleRss;
}
