import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Whether Debian's python3-opencv is there: without it the bench prints no OpenCV floor, and says so. */
function hasOpenCv(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import cv2'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The benchmark's numbers are read by people (docs/benchmarks.md); this only keeps the script from rotting. The
 * module-size section replays the Docker build (a minute; tools/edge-manifest's docker-build-replay test covers that
 * replay), so it is left out here with --skip-size.
 */
describe('npm run bench -- --quick', () => {
  it('runs every section and prints a verdict and a figure for each target', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--conditions=source', '--import', 'tsx', 'bench/inference.bench.ts', '--quick', '--skip-size'], {
      cwd: root,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const verdicts = stdout.split('\n').filter((line) => /^(PASS|FAIL) {2}/.test(line));
    expect(verdicts.map((line) => line.replace(/^(PASS|FAIL) {2}/, '').replace(/:.*$/, ''))).toEqual([
      ...(hasOpenCv() ? ['decode+letterbox p50 <= 1.3x OpenCV imdecode + resize (640x424)'] : []),
      'idle RSS <= 1.3x the bare floor (2 workers)',
      'HTTP adds <= 10% to the in-process p50',
      'HTTP throughput at c=8 >= 90% of the in-process pool',
      'c=8 decode mean <= 1.5x its c=1 value',
      'peak during a swap <= old + new model + 10%',
      'no growth over 30 swaps',
      '>= 5x faster than the seed design (YOLOX-nano ONNX)',
      '>= 5x faster than the seed design (SSD MobileNet v1 TFLite)',
      ">= 5x faster than the seed design (the seed's Tiny YOLOv3 ONNX (35 MB, synthetic weights))",
      'two models at c=8 (4/4) >= 90% of one model at c=8',
      'RSS of YOLOX + SSD 0.8x-1.15x the sum of their own costs',
      'RSS of two YOLOX names <= 1.15x the sum of their own costs',
    ]);
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      latency: { inProcess: { p50: number }; overHttp: { p50: number } };
      throughput: { inProcess: number; overHttp: number; failures: number };
      memory: { gcBeforeSamples: boolean; rssEverySwapMiB: number[] };
      seedDesign: Record<string, { load: { p50: number }; speedup: number }>;
      decodeFloor: { ours: { total: number }; opencv?: { total: number }; missing?: string };
      bareFloor: { idleRssMiB: number; ourIdleRssMiB: number; throughput: number };
      decodeMean: { c1: number; c8: number };
      severalModels: {
        throughput: { oneModel: { median: number }; twoNames: { median: number; failures: number }; yoloxAndSsd: { yolox: number; ssd: number; sharesOfAlone: number; failures: number } };
        rss: { costMiB: { yolox: number; ssd: number }; yoloxSsd: { bothMiB: number; sumMiB: number }; yoloxTwice: { bothMiB: number; sumMiB: number } };
      };
    };
    if (!hasOpenCv()) expect(stdout).toMatch(/python3-opencv is not installed/);
    expect(results.decodeFloor.ours.total).toBeGreaterThan(0);
    expect(hasOpenCv() ? results.decodeFloor.opencv?.total : 1).toBeGreaterThan(0);
    expect(results.bareFloor.idleRssMiB).toBeGreaterThan(0);
    expect(results.bareFloor.ourIdleRssMiB).toBeGreaterThan(0);
    expect(results.bareFloor.throughput).toBeGreaterThan(0);
    expect(results.decodeMean.c1).toBeGreaterThan(0);
    expect(results.decodeMean.c8).toBeGreaterThan(0);
    // Figures, not targets: each must have been measured.
    expect(results.latency.inProcess.p50).toBeGreaterThan(0);
    expect(results.latency.overHttp.p50).toBeGreaterThan(0);
    expect(results.throughput.failures).toBe(0);
    expect(results.throughput.overHttp).toBeGreaterThan(0);
    expect(results.memory.gcBeforeSamples).toBe(true);
    expect(results.memory.rssEverySwapMiB).toHaveLength(40);
    // Several models: both routes answered every request, and every RSS figure was measured.
    const { throughput: several, rss } = results.severalModels;
    expect([several.twoNames.failures, several.yoloxAndSsd.failures]).toEqual([0, 0]);
    expect([several.oneModel.median, several.twoNames.median, several.yoloxAndSsd.yolox, several.yoloxAndSsd.ssd, several.yoloxAndSsd.sharesOfAlone].every((value) => value > 0)).toBe(true);
    expect([rss.costMiB.yolox, rss.costMiB.ssd, rss.yoloxSsd.bothMiB, rss.yoloxSsd.sumMiB, rss.yoloxTwice.bothMiB, rss.yoloxTwice.sumMiB].every((value) => value > 0)).toBe(true);
    expect(Object.values(results.seedDesign).map((entry) => entry.load.p50 > 0 && Number.isFinite(entry.speedup))).toEqual([true, true, true]);
  }, 260_000);
});
