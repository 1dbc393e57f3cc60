import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The benchmark's numbers are read by people (docs/benchmarks.md); this only keeps the script from rotting. */
describe('npm run bench -- --quick', () => {
  it('runs every section and prints a verdict and a figure for each target', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--conditions=source', '--import', 'tsx', 'bench/inference.bench.ts', '--quick'], {
      cwd: root,
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const verdicts = stdout.split('\n').filter((line) => /^(PASS|FAIL) {2}/.test(line));
    expect(verdicts.map((line) => line.replace(/^(PASS|FAIL) {2}/, '').replace(/:.*$/, ''))).toEqual([
      'HTTP adds <= 10% to the in-process p50',
      'HTTP throughput at c=8 >= 90% of the in-process pool',
      'peak during a swap <= old + new model + 10%',
      'no growth over 30 swaps',
      '>= 5x faster than the seed design (YOLOX-nano ONNX)',
      '>= 5x faster than the seed design (SSD MobileNet v1 TFLite)',
      ">= 5x faster than the seed design (the seed's Tiny YOLOv3 ONNX (35 MB, synthetic weights))",
    ]);
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      latency: { inProcess: { p50: number }; overHttp: { p50: number } };
      throughput: { inProcess: number; overHttp: number; failures: number };
      memory: { gcBeforeSamples: boolean; rssEverySwapMiB: number[] };
      seedDesign: Record<string, { load: { p50: number }; speedup: number }>;
    };
    // Figures, not targets: each must have been measured.
    expect(results.latency.inProcess.p50).toBeGreaterThan(0);
    expect(results.latency.overHttp.p50).toBeGreaterThan(0);
    expect(results.throughput.failures).toBe(0);
    expect(results.throughput.overHttp).toBeGreaterThan(0);
    expect(results.memory.gcBeforeSamples).toBe(true);
    expect(results.memory.rssEverySwapMiB).toHaveLength(40);
    expect(Object.values(results.seedDesign).map((entry) => entry.load.p50 > 0 && Number.isFinite(entry.speedup))).toEqual([true, true, true]);
  }, 200_000);
});
