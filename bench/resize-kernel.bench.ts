/**
 * The resample alone, numbers printed: the 640x424 bench photo (and the other photos) onto the 416 letterbox with the
 * WebAssembly SIMD kernel against the JavaScript loops (resize-opencv-linear.ts), alternating within each round,
 * canvas allocation and pad fill included (as the pipeline does them); p50 and minimum of the rounds, and whether
 * the two give the same bytes.
 * Usage: node --conditions=source --import tsx bench/resize-kernel.bench.ts [--quick]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { resizeOpenCvLinear, type ResizeKernel } from '../modules/inference/src/image/resize-opencv-linear.js';
import { computeGeometry } from '../modules/inference/src/pipeline/preprocess.js';
import { YOLOX_INPUT } from './floor/floor.js';
import { fmt, median } from './stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 100 : 400;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function main() {
  console.log(`resize kernel benchmark: ${ROUNDS} alternating rounds, ms (canvas fill + resample onto the 416 letterbox)\n`);
  for (const name of ['darknet_person.jpg', 'cat_720p.jpg', 'coco_000000039769_cats.png']) {
    const { data, info } = await sharp(await readFile(path.join(root, 'testdata', 'images', name)), { ignoreIcc: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const geometry = computeGeometry(info.width, info.height, YOLOX_INPUT);
    const source = { data, width: info.width, height: info.height, channels: 3 };
    const once = (kernel: ResizeKernel): Uint8Array => {
      const canvas = new Uint8Array(416 * 416 * 3).fill(114);
      resizeOpenCvLinear(source, { canvas, canvasWidth: 416, left: geometry.padLeft, top: geometry.padTop, width: geometry.contentWidth, height: geometry.contentHeight }, kernel);
      return canvas;
    };
    const same = Buffer.from(once('simd')).equals(Buffer.from(once('javascript')));
    const samples: Record<ResizeKernel, number[]> = { simd: [], javascript: [] };
    for (let round = -20; round < ROUNDS; round += 1) {
      for (const kernel of round % 2 === 0 ? (['simd', 'javascript'] as const) : (['javascript', 'simd'] as const)) {
        const started = performance.now();
        once(kernel);
        if (round >= 0) samples[kernel].push(performance.now() - started);
      }
    }
    const line = (kernel: ResizeKernel) => `${kernel} p50 ${fmt(median(samples[kernel]), 3)} min ${fmt(Math.min(...samples[kernel]), 3)}`;
    console.log(`${name.padEnd(30)} ${info.width}x${info.height} -> ${geometry.contentWidth}x${geometry.contentHeight}: ${line('simd')} | ${line('javascript')} | same bytes: ${same}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
