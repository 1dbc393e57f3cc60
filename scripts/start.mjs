#!/usr/bin/env node
// Starts the system locally and shows it detecting objects in a bundled photo.
// Until the local edgeHub emulator lands, this runs the inference module alone: the bundled model is staged on a
// local shared-storage directory exactly as the loader stages it (models/<name>/<version>/ plus the announced pointer).
// Flags: --once (exit after the demo detection), --port N (default 8080, or INFERENCE_PORT).
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const once = args.includes('--once');
const portIndex = args.indexOf('--port');
const port = Number(portIndex >= 0 ? args[portIndex + 1] : (process.env.INFERENCE_PORT ?? 8080));
const storage = path.join(root, '.local-run', 'storage');
const photo = path.join(root, 'testdata', 'images', 'darknet_person.jpg');
const say = (line) => console.log(`[start] ${line}`);

say('building the workspace');
execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

function stageBundledModel() {
  const name = 'yolox-nano';
  const version = '1.0.0';
  const relative = `models/${name}/${version}`;
  const directory = path.join(storage, relative);
  mkdirSync(directory, { recursive: true });
  for (const file of ['yolox_nano.onnx', 'coco_classes.txt']) copyFileSync(path.join(root, 'testdata', 'models', file), path.join(directory, file));
  const sha256 = createHash('sha256').update(readFileSync(path.join(directory, 'yolox_nano.onnx'))).digest('hex');
  const pointer = {
    schemaVersion: 1, name, version, format: 'onnx', sha256,
    local_model_path: `${relative}/yolox_nano.onnx`, local_labelmap_path: `${relative}/coco_classes.txt`,
    announcedAt: new Date().toISOString(),
  };
  const pointerPath = path.join(storage, 'models', 'announced.json');
  writeFileSync(`${pointerPath}.tmp`, JSON.stringify(pointer, null, 2));
  renameSync(`${pointerPath}.tmp`, pointerPath);
  say(`staged ${name} ${version} in ${directory}`);
}

function startProcess(label, script, env) {
  const child = spawn(process.execPath, [script], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => console.log(`[${label}] ${line}`));
  }
  return child;
}

async function waitReady(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`inference exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health/ready`);
      if (response.ok) return response.json();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`inference was not ready within ${timeoutMs} ms`);
}

stageBundledModel();
const url = `http://127.0.0.1:${port}`;
const inference = startProcess('inference', path.join(root, 'modules', 'inference', 'dist', 'main.js'), {
  STORAGE_ROOT: storage, INFERENCE_PORT: String(port), INFERENCE_HOST: '127.0.0.1', EDGE_MODE: 'off', LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
});

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  say('stopping');
  inference.once('exit', () => process.exit(code));
  inference.kill('SIGTERM');
  setTimeout(() => process.exit(code), 10_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
inference.on('exit', (code) => {
  if (!stopping) {
    say(`inference exited with code ${code}`);
    process.exit(code ?? 1);
  }
});

try {
  const ready = await waitReady(url, inference);
  say(`inference is serving ${ready.model}`);
  const response = await fetch(`${url}/v1/detect`, { method: 'POST', body: readFileSync(photo), headers: { 'content-type': 'image/jpeg' } });
  const result = await response.json();
  if (!response.ok) throw new Error(`detect answered ${response.status}: ${JSON.stringify(result)}`);
  say(`detections in ${path.relative(root, photo)} (${result.model.name} ${result.model.version}, ${result.timings.totalMs.toFixed(1)} ms):`);
  for (const detection of result.detections) {
    const box = detection.boxPixels;
    say(`  ${detection.label.padEnd(10)} ${detection.score.toFixed(2)}  at x ${Math.round(box.xmin)}-${Math.round(box.xmax)}, y ${Math.round(box.ymin)}-${Math.round(box.ymax)}`);
  }
  say('try it yourself:');
  console.log(`\n  curl -s -X POST -H 'content-type: image/jpeg' --data-binary @${path.relative(process.cwd(), photo) || photo} ${url}/v1/detect\n`);
  say(`API docs: ${url}/openapi.json   metrics: ${url}/metrics   Ctrl-C stops everything`);
  if (once) stop(0);
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  stop(1);
}
