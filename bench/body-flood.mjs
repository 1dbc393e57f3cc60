// Usage: node bench/body-flood.mjs [connections=64] [MiB=20] [holdS=5] [afterS=60] [floods=1]
//   (build first: npx tsc -b tsconfig.build.json; environment variables such as MALLOC_ARENA_MAX, LD_PRELOAD or
//   INFERENCE_BODY_BUDGET_BYTES are passed on to the module)
// Body flood against the inference module: starts `node modules/inference/dist/main.js` (YOLOX from testdata, one
// worker) on a fresh storage directory, then opens N connections at once, each sending the headers of POST /v1/detect
// and all but the last byte of a body of the given size (a real JPEG padded with zeros), holds them for holdS, then
// sends the last bytes. Prints the statuses, the module's resident memory before, at its peak (VmHWM) and afterS after
// the flood, as JSON. Run it with and without a change to compare; the figures are in docs/security.md.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [connections = 64, mib = 20, holdS = 5, afterS = 60, floods = 1] = process.argv.slice(2).map(Number);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testdata = path.join(root, 'testdata');

const storage = mkdtempSync(path.join(tmpdir(), 'body-flood-'));
mkdirSync(path.join(storage, 'models/yolox/1'), { recursive: true });
copyFileSync(path.join(testdata, 'models/yolox_nano.onnx'), path.join(storage, 'models/yolox/1/yolox_nano.onnx'));
copyFileSync(path.join(testdata, 'models/coco_classes.txt'), path.join(storage, 'models/yolox/1/coco_classes.txt'));
writeFileSync(path.join(storage, 'models/announced.json'), JSON.stringify({ local_model_path: 'models/yolox/1/yolox_nano.onnx', local_labelmap_path: 'models/yolox/1/coco_classes.txt' }));

const child = spawn(process.execPath, [path.join(root, 'modules/inference/dist/main.js')], {
  env: { ...process.env, STORAGE_ROOT: storage, EDGE_MODE: 'off', INFERENCE_HOST: '127.0.0.1', INFERENCE_PORT: '0', INFERENCE_WORKERS: '1', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
const port = await new Promise((resolve, reject) => {
  const onData = (chunk) => {
    output += chunk;
    const match = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
    if (match) resolve(Number(match[1]));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.once('exit', (code) => reject(new Error(`the module exited with ${code}:\n${output.slice(-2000)}`)));
});
child.stdout.resume();
child.stderr.resume();

const status = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const resetPeak = () => writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One request on its own connection; `hold` resolves when the body may be finished. Resolves to the status or 'closed'. */
function upload(body, hold) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('connect', async () => {
      socket.write(`POST /v1/detect HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, body.length - 1));
      await hold;
      socket.write(body.subarray(body.length - 1));
    });
    socket.on('data', (chunk) => (got += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'closed'));
  });
}

const jpeg = readFileSync(path.join(testdata, 'images/darknet_person.jpg'));
const flood = Buffer.alloc(mib * 1024 * 1024);
jpeg.copy(flood);
// A normal request first, so that the decode and inference paths are warm and their memory is in the baseline.
const normal = await upload(jpeg, Promise.resolve());
console.error(`normal request: ${normal}`);
await sleep(2_000);
const result = { connections, bodyMiB: mib, holdS, env: Object.fromEntries(Object.entries(process.env).filter(([key]) => /^(MALLOC_|LD_PRELOAD|INFERENCE_)/.test(key))), normal, rssBeforeMiB: +status('VmRSS').toFixed(1), floods: [] };
for (let round = 0; round < floods; round += 1) {
  resetPeak();
  let release;
  const hold = new Promise((resolve) => (release = resolve));
  const started = performance.now();
  const outcomes = Array.from({ length: connections }, () => upload(flood, hold));
  let sampledPeak = 0;
  const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, status('VmRSS'))), 100);
  await sleep(holdS * 1_000);
  const rssHeldMiB = +status('VmRSS').toFixed(1);
  release();
  const counts = {};
  for (const outcome of await Promise.all(outcomes)) counts[outcome] = (counts[outcome] ?? 0) + 1;
  const floodS = +((performance.now() - started) / 1000).toFixed(1);
  console.error(`flood ${round + 1}: ${JSON.stringify(counts)} in ${floodS} s`);
  const rssEndMiB = +status('VmRSS').toFixed(1);
  // A normal request while the flood's memory is still counted: it must be served.
  const during = await upload(jpeg, Promise.resolve());
  await sleep(afterS * 1_000);
  clearInterval(sampler);
  // ArrayBuffer memory the main thread still holds, garbage not collected yet included (no GC runs while it is idle).
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text());
  const externalMiB = +(Number(/^nodejs_external_memory_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN) / 1024 / 1024).toFixed(1);
  result.floods.push({ statuses: counts, floodS, rssHeldMiB, rssEndMiB, peakMiB: +Math.max(status('VmHWM'), sampledPeak).toFixed(1), normalAfter: during, [`rss${afterS}sAfterMiB`]: +status('VmRSS').toFixed(1), [`mainThreadExternal${afterS}sAfterMiB`]: externalMiB });
}
console.log(JSON.stringify(result));
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
rmSync(storage, { recursive: true, force: true });
