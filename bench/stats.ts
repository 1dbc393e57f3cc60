export function percentile(sortedValues: number[], fraction: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil(fraction * sortedValues.length) - 1));
  return sortedValues[index] ?? Number.NaN;
}

export const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 0.5);

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  mean: number;
}

export function summarize(samplesMs: number[]): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), mean: sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length) };
}

/** Runs `task` sequentially `count` times after `warmup` untimed runs and returns the latencies in ms. */
export async function timeSequential(count: number, warmup: number, task: () => Promise<unknown>): Promise<number[]> {
  for (let index = 0; index < warmup; index += 1) await task();
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    await task();
    samples.push(performance.now() - started);
  }
  return samples;
}

/** Runs `task` from `concurrency` loops for `durationMs` and returns completed operations per second. */
export async function throughput(concurrency: number, durationMs: number, task: () => Promise<unknown>): Promise<{ perSecond: number; failures: number }> {
  const deadline = performance.now() + durationMs;
  let completed = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          await task();
          completed += 1;
        } catch {
          failures += 1;
        }
      }
    }),
  );
  return { perSecond: (completed * 1000) / (performance.now() - started), failures };
}

export const mib = (bytes: number) => bytes / (1024 * 1024);
export const fmt = (value: number, digits = 1) => value.toFixed(digits);
