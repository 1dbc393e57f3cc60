// The floor of our own stack, in a process of its own: WORKERS bare threads (bare-worker.mjs: onnxruntime-node and
// sharp, nothing else), each with YOLOX-nano loaded. Prints one JSON line: idle RSS after one request per thread,
// c=1 latency p50 (decode + inference on one thread) and c=8 throughput over all threads for DURATION_MS.
// Usage: node bench/floor/bare-floor.mjs MODEL PHOTO WORKERS THREADS SEQUENTIAL DURATION_MS
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

const [modelPath, photo, workers, threads, sequential, durationMs] = process.argv.slice(2);
const image = await readFile(photo);
const pool = await Promise.all(
  Array.from({ length: Number(workers) }, () => new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./bare-worker.mjs', import.meta.url), { workerData: { modelPath, threads: Number(threads) } });
    const pending = new Map();
    let next = 0;
    worker.on('message', (message) => {
      if (message.ready) return resolve({ worker, pending, busy: 0, run: (bytes) => new Promise((done) => { const id = next++; pending.set(id, done); worker.postMessage({ id, bytes }); }) });
      const done = pending.get(message.id);
      pending.delete(message.id);
      done(message);
    });
    worker.on('error', reject);
  })),
);
for (const thread of pool) await thread.run(image);
await new Promise((resolve) => setTimeout(resolve, 1000));
globalThis.gc?.();
const idleRss = process.memoryUsage().rss;

const latencies = [];
const decodes1 = [];
for (let index = -5; index < Number(sequential); index += 1) {
  const started = performance.now();
  const { decodeMs } = await pool[0].run(image);
  if (index >= 0) {
    latencies.push(performance.now() - started);
    decodes1.push(decodeMs);
  }
}
const decodes8 = [];
let completed = 0;
const deadline = performance.now() + Number(durationMs);
// Eight clients, each sent to the least busy thread, as the server's pool does.
await Promise.all(Array.from({ length: 8 }, async () => {
  while (performance.now() < deadline) {
    const thread = pool.reduce((a, b) => (b.busy < a.busy ? b : a));
    thread.busy += 1;
    const { decodeMs } = await thread.run(image);
    thread.busy -= 1;
    decodes8.push(decodeMs);
    completed += 1;
  }
}));
const sorted = (values) => [...values].sort((a, b) => a - b);
const p50 = (values) => sorted(values)[Math.floor(values.length / 2)];
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
console.log(JSON.stringify({ idleRss, latencyP50: p50(latencies), decodeMeanC1: mean(decodes1), decodeMeanC8: mean(decodes8), throughput: completed / (Number(durationMs) / 1000) }));
await Promise.all(pool.map(({ worker }) => worker.terminate()));
