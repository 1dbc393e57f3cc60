/**
 * The idle-RSS floor alone (the memory line of section 5 of bench/inference.bench.ts), several times in a row: our
 * server's idle RSS with WORKERS workers (ours-idle.mjs, from the built dist/) against the bare onnxruntime-node + sharp
 * process (bare-floor.mjs), the two alternating, each in a process of its own, as the bench measures them.
 * Usage: npm run build && node --conditions=source --import tsx bench/floor/idle-rss.ts [runs (3)]
 */
import '../../modules/inference/src/uv-threadpool.js';
import { fmt, median, mib } from '../stats.js';
import { measureBareFloor, measureOurIdleRss } from './floor.js';

const runs = Number(process.argv[2] ?? 3);
const WORKERS = Number(process.env.INFERENCE_WORKERS ?? 2);

async function main() {
  const ratios: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    // Only the bare process's idle RSS is read: it is taken before its latency and throughput rounds, kept short here.
    const bare = await measureBareFloor(WORKERS, 1, 1, 100);
    const ours = await measureOurIdleRss(WORKERS);
    ratios.push(ours / bare.idleRss);
    console.log(`memory idle   ours ${fmt(mib(ours))} MiB with ${WORKERS} workers | bare ${fmt(mib(bare.idleRss))} MiB | ${fmt(ours / bare.idleRss, 2)}x`);
  }
  console.log(`median ratio over ${runs} runs: ${fmt(median(ratios), 2)}x (target <= 1.3x)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
