/**
 * The decode floor alone (section 0 of bench/inference.bench.ts), several times in a row, numbers printed: decode +
 * letterbox of the 640x424 photo per stage against OpenCV's imdecode + resize, each run a new OpenCV process.
 * Usage: node --conditions=source --import tsx bench/floor/decode-floor.ts [runs (3)] [rounds (100)]
 */
import '../../modules/inference/src/uv-threadpool.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, median } from '../stats.js';
import { measureDecodeFloor } from './floor.js';

const runs = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 100);
const photo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../testdata/images/darknet_person.jpg');

async function main() {
  const ratios: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const { ours, opencv, missing } = await measureDecodeFloor(photo, rounds);
    const stages = `ours: decode ${fmt(ours.decode, 2)} + resize ${fmt(ours.resize, 2)} ms, decode+letterbox ${fmt(ours.total, 2)} ms`;
    if (!opencv) {
      console.log(`${stages} | ${missing}`);
      continue;
    }
    ratios.push(ours.total / opencv.total);
    console.log(`${stages} | OpenCV ${opencv.version}: imdecode ${fmt(opencv.decode, 2)} + resize ${fmt(opencv.resize, 2)} = ${fmt(opencv.total, 2)} ms | ${fmt(ours.total / opencv.total, 2)}x`);
  }
  if (ratios.length) console.log(`median ratio over ${ratios.length} runs: ${fmt(median(ratios), 2)}x`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
