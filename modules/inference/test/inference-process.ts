import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANNOUNCED_MODEL_POINTER } from '@edge-ml/contracts';
import { stageModel, type StagedModel } from './storage.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main.js');

/** The inference module as it runs on a device: `node dist/main.js` in a process of its own (build with `tsc -b` first). */
export interface InferenceProcess {
  child: ChildProcess;
  port: number;
  /** Resident memory of the process, worker threads included, from /proc. */
  rssBytes(): Promise<number>;
  /** The highest resident memory since start or since the last resetPeakRss(). */
  peakRssBytes(): Promise<number>;
  /** Resets the peak (Linux clear_refs 5); false when the kernel refuses. */
  resetPeakRss(): Promise<boolean>;
  stop(): Promise<void>;
}

async function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Stages the model on storage, writes the announced pointer the loader would, and starts the module on a free port. */
export async function startInferenceProcess(storageRoot: string, model: StagedModel, env: Record<string, string> = {}): Promise<InferenceProcess> {
  const announcement = await stageModel(storageRoot, model);
  await mkdir(path.join(storageRoot, 'models'), { recursive: true });
  await writeFile(path.join(storageRoot, ANNOUNCED_MODEL_POINTER), JSON.stringify({ local_model_path: announcement.modelPath, local_labelmap_path: announcement.labelsPath }));
  return spawnInferenceProcess(storageRoot, env);
}

/** Starts the module on a free port over storage as it is (a serving index the test wrote, or nothing). */
export async function spawnInferenceProcess(storageRoot: string, env: Record<string, string> = {}): Promise<InferenceProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, STORAGE_ROOT: storageRoot, EDGE_MODE: 'off', INFERENCE_HOST: '127.0.0.1', INFERENCE_PORT: '0', INFERENCE_WORKERS: '1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the inference process did not listen within 60 s:\n${output.slice(-4000)}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the inference process exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
  // Keep draining the logs so that a full pipe never blocks the process.
  child.stdout.resume();
  child.stderr.resume();
  const pid = child.pid!;
  return {
    child,
    port,
    rssBytes: () => procStatusBytes(pid, 'VmRSS'),
    peakRssBytes: () => procStatusBytes(pid, 'VmHWM'),
    resetPeakRss: () => writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
