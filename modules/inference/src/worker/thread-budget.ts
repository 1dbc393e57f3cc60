/**
 * How many threads serve, from the core count: inference workers, runtime threads per worker, jobs a worker holds at
 * once, and libuv's pool (where sharp decodes, one libvips thread per image). Sized so that decode and inference do
 * not oversubscribe the cores: one worker per core (at most 4 by default: each holds every loaded model), one runtime
 * thread each, one job per worker, so that a worker's next decode does not compete with its own inference, and one
 * decode thread per worker. Measured on 2 cores (docs/benchmarks.md): at c=8, the decode mean rose 3.7x with
 * 2 jobs per worker and libuv's default 4 threads, and throughput held with 1 job and 2 threads.
 */
export interface ThreadBudget {
  workers: number;
  threadsPerWorker: number;
  jobsPerWorker: number;
  /** libuv's thread pool size (UV_THREADPOOL_SIZE), shared by the process: sharp's decodes run on it. */
  decodeThreads: number;
}

export interface ThreadSettings {
  INFERENCE_WORKERS?: number | undefined;
  INFERENCE_THREADS_PER_WORKER?: number | undefined;
  INFERENCE_JOBS_PER_WORKER?: number | undefined;
  INFERENCE_DECODE_THREADS?: number | undefined;
}

export const MAX_DEFAULT_WORKERS = 4;

/** The budget for `cores` cores; every setting given wins over its default. Pure. */
export function planThreadBudget(cores: number, settings: ThreadSettings = {}): ThreadBudget {
  const available = Math.max(1, Math.floor(cores));
  const workers = settings.INFERENCE_WORKERS ?? Math.min(available, MAX_DEFAULT_WORKERS);
  const threadsPerWorker = settings.INFERENCE_THREADS_PER_WORKER ?? Math.max(1, Math.floor(available / workers));
  const jobsPerWorker = settings.INFERENCE_JOBS_PER_WORKER ?? 1;
  const decodeThreads = settings.INFERENCE_DECODE_THREADS ?? workers;
  return { workers, threadsPerWorker, jobsPerWorker, decodeThreads };
}

const positive = (value: string | undefined) => {
  const parsed = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(parsed) && parsed > 0 ? parsed : undefined;
};

/**
 * Sets UV_THREADPOOL_SIZE to the budget's decode threads unless it is set already. libuv reads it once, when its pool
 * first runs work, so this must run before any asynchronous file, crypto, zlib or sharp call: main.ts imports
 * `uv-threadpool.ts` first. Returns the size in effect.
 */
export function applyDecodeThreads(env: NodeJS.ProcessEnv, cores: number): number {
  const existing = positive(env.UV_THREADPOOL_SIZE);
  if (existing) return existing;
  const { decodeThreads } = planThreadBudget(cores, { INFERENCE_WORKERS: positive(env.INFERENCE_WORKERS), INFERENCE_DECODE_THREADS: positive(env.INFERENCE_DECODE_THREADS) });
  env.UV_THREADPOOL_SIZE = String(decodeThreads);
  return decodeThreads;
}
