/**
 * Resize benchmark, numbers printed: decode + resize onto a 416x416 YOLOX canvas and a 300x300 SSD canvas, per photo,
 * with each interpolation — `antialiased-linear` (sharp's linear kernel, shrink-on-load), `opencv-linear` (full-size
 * decode, then the cv2 INTER_LINEAR replica in JavaScript) and, for the record, libvips `affine` with its bilinear
 * interpolator and half-pixel offsets (the option not taken: ADR 0006) with how many bytes it gets wrong against cv2.
 * Variants alternate within each round so that a busy machine slows them alike; p50 of the rounds is printed.
 * Usage: node --conditions=source --import tsx bench/resize.bench.ts [--quick]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeToFrame } from '@edge-ml/inference';
import { resizeOpenCvLinear } from '../modules/inference/src/image/resize-opencv-linear.js';
import type { ResolvedInputSpec } from '../modules/inference/src/pipeline/model-spec.js';
import { computeGeometry } from '../modules/inference/src/pipeline/preprocess.js';
import { fmt, median } from './stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 15 : 60;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const yolox: ResolvedInputSpec = {
  width: 416, height: 416, layout: 'nchw', colorOrder: 'bgr', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114, dtype: 'float32',
  scale: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'opencv-linear', letterboxRounding: 'floor',
};
const ssd: ResolvedInputSpec = { ...yolox, width: 300, height: 300, layout: 'nhwc', colorOrder: 'rgb', resize: 'stretch', dtype: 'uint8', letterboxRounding: 'round' };

/** libvips affine with a bilinear interpolator and OpenCV's half-pixel centres: input = (output + 0.5) / scale - 0.5. */
async function affineCanvas(bytes: Buffer, input: ResolvedInputSpec): Promise<Uint8Array> {
  const metadata = await sharp(bytes).metadata();
  const geometry = computeGeometry(metadata.width ?? 0, metadata.height ?? 0, input);
  const scaleX = geometry.contentWidth / geometry.originalWidth;
  const scaleY = geometry.contentHeight / geometry.originalHeight;
  const { data, info } = await sharp(bytes, { ignoreIcc: true })
    .removeAlpha()
    .affine([[scaleX, 0], [0, scaleY]], { interpolator: sharp.interpolators.bilinear, idx: 0.5, idy: 0.5, odx: -0.5, ody: -0.5 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const canvas = new Uint8Array(input.width * input.height * 3).fill(input.padValue);
  for (let y = 0; y < Math.min(geometry.contentHeight, info.height); y += 1) {
    const row = data.subarray(y * info.width * 3, (y * info.width + Math.min(geometry.contentWidth, info.width)) * 3);
    canvas.set(row, ((y + geometry.padTop) * input.width + geometry.padLeft) * 3);
  }
  return canvas;
}

async function photos(): Promise<{ name: string; bytes: Buffer }[]> {
  const names = ['darknet_person.jpg', 'cat_720p.jpg', 'coco_000000039769_cats.png'];
  const list = await Promise.all(names.map(async (name) => ({ name, bytes: await readFile(path.join(root, 'testdata', 'images', name)) })));
  // Camera-sized frames: the 720p photo enlarged (synthetic detail, real JPEG decode cost).
  const source = await readFile(path.join(root, 'testdata', 'images', 'cat_720p.jpg'));
  list.push({ name: '1920x1080 (cat_720p enlarged)', bytes: await sharp(source).resize(1920, 1080).jpeg({ quality: 90 }).toBuffer() });
  list.push({ name: '4000x3000 (cat_720p enlarged)', bytes: await sharp(source).resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer() });
  return list;
}

async function main() {
  sharp.cache(false);
  sharp.concurrency(1);
  console.log(`resize benchmark: ${ROUNDS} rounds, p50 ms (decode + resize onto the canvas)\n`);
  console.log(`${'photo'.padEnd(32)} ${'canvas'.padEnd(8)} ${'antialiased'.padStart(12)} ${'opencv'.padStart(8)} ${'js part'.padStart(8)} ${'affine'.padStart(8)}  affine vs cv2`);
  for (const { name, bytes } of await photos()) {
    for (const [canvasName, input] of [['416 lb', yolox], ['300 st', ssd]] as const) {
      const samples = { antialiased: [] as number[], opencv: [] as number[], js: [] as number[], affine: [] as number[] };
      const antialiasedSpec = { ...input, interpolation: 'antialiased-linear' as const, letterboxRounding: 'round' as const };
      const full = await sharp(bytes, { ignoreIcc: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const geometry = computeGeometry(full.info.width, full.info.height, input);
      for (let round = 0; round < ROUNDS + 3; round += 1) {
        const keep = round >= 3;
        let started = performance.now();
        await decodeToFrame(bytes, antialiasedSpec, { limitPixels: 40_000_000 });
        if (keep) samples.antialiased.push(performance.now() - started);
        started = performance.now();
        await decodeToFrame(bytes, input, { limitPixels: 40_000_000 });
        if (keep) samples.opencv.push(performance.now() - started);
        started = performance.now();
        const canvas = new Uint8Array(input.width * input.height * 3).fill(input.padValue);
        resizeOpenCvLinear(
          { data: full.data, width: full.info.width, height: full.info.height, channels: 3 },
          { canvas, canvasWidth: input.width, left: geometry.padLeft, top: geometry.padTop, width: geometry.contentWidth, height: geometry.contentHeight },
        );
        if (keep) samples.js.push(performance.now() - started);
        started = performance.now();
        await affineCanvas(bytes, input);
        if (keep) samples.affine.push(performance.now() - started);
      }
      const exact = (await decodeToFrame(bytes, input, { limitPixels: 40_000_000 })).rgb;
      const affine = await affineCanvas(bytes, input);
      let differing = 0;
      let largest = 0;
      for (let index = 0; index < exact.length; index += 1) {
        const difference = Math.abs((exact[index] ?? 0) - (affine[index] ?? 0));
        if (difference) differing += 1;
        largest = Math.max(largest, difference);
      }
      console.log(
        `${name.padEnd(32)} ${canvasName.padEnd(8)} ${fmt(median(samples.antialiased)).padStart(12)} ${fmt(median(samples.opencv)).padStart(8)} ` +
          `${fmt(median(samples.js)).padStart(8)} ${fmt(median(samples.affine)).padStart(8)}  ${((100 * differing) / exact.length).toFixed(1)}% bytes differ, max ${largest}`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
