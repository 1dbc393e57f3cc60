import { readFile } from 'node:fs/promises';
import type { ModelFormat } from '@edge-ml/contracts';
import { MemoryBudgetExceededError } from './serving-errors.js';

const MIB = 2 ** 20;

/**
 * Resident memory, from `bench/model-memory.ts` (docs/configuration.md has the figures): a loaded version takes about
 * `perFileByte` times its file size in each worker, and the first model of a format also starts its runtime, once in
 * the process and once in each worker (kept for the life of the workers). Taken above every figure measured, so that
 * the estimate errs on the side of refusing: float16 TFLite models are unpacked to float32 (13x their file), 8-bit
 * ones take 1-3x.
 */
export const MEMORY_COST: Record<ModelFormat, { perFileByte: number; runtimeProcessBytes: number; runtimeWorkerBytes: number }> = {
  onnx: { perFileByte: 5.5, runtimeProcessBytes: 32 * MIB, runtimeWorkerBytes: 10 * MIB },
  tflite: { perFileByte: 14, runtimeProcessBytes: 80 * MIB, runtimeWorkerBytes: 50 * MIB },
};

/** What one version of a model is estimated to take in `workers` workers, without the runtime's own start-up. */
export function estimateVersionBytes(format: ModelFormat, fileBytes: number, workers: number): number {
  return Math.ceil(MEMORY_COST[format].perFileByte * fileBytes) * workers;
}

/** The runtime's start-up cost in `workers` workers, paid once per runtime (format). */
export function estimateRuntimeBytes(format: ModelFormat, workers: number): number {
  return MEMORY_COST[format].runtimeProcessBytes + MEMORY_COST[format].runtimeWorkerBytes * workers;
}

/** The budget setting: a number of MiB, `off`, or `auto` (from the cgroup's memory limit, when there is one). */
export type MemoryBudgetSetting = number | 'off' | 'auto';

/** Share of the container's memory limit that `auto` gives models, after what the process takes before any model. */
export const AUTO_BUDGET_SHARE = 0.8;

/**
 * The budget in bytes, or undefined when off: a number is taken as MiB; `auto` is 80% of the cgroup memory limit less
 * the resident memory at start-up (runtime, workers, no model yet), and off when no limit applies.
 */
export function resolveBudgetBytes(setting: MemoryBudgetSetting, cgroupLimitBytes: number | undefined, baselineRssBytes: number): number | undefined {
  if (setting === 'off') return undefined;
  if (typeof setting === 'number') return setting * MIB;
  if (cgroupLimitBytes === undefined) return undefined;
  return Math.max(0, Math.floor(cgroupLimitBytes * AUTO_BUDGET_SHARE - baselineRssBytes));
}

/** The cgroup (v2, else v1) memory limit of this process's container; undefined when none is set or readable. */
export async function readCgroupMemoryLimit(): Promise<number | undefined> {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const value = Number(text.trim());
    // "max" (v2) or a number near 2^63 (v1) mean no limit.
    return Number.isFinite(value) && value > 0 && value < 2 ** 60 ? value : undefined;
  }
  return undefined;
}

interface Reservation {
  name: string;
  bytes: number;
}

/**
 * What loaded models are estimated to take, against a budget. One instance for the module: every model name's
 * manager reserves before it loads, synchronously, so two loads at once cannot both fit into the same room. A version
 * keeps its reservation until it is unloaded; during a swap both versions of a name hold one.
 */
export class MemoryBudget {
  private readonly reservations = new Map<string, Reservation>();
  private readonly runtimesStarted = new Set<ModelFormat>();

  constructor(
    /** Undefined: no budget, estimates are only counted. */
    readonly budgetBytes: number | undefined,
    private readonly workers: number,
  ) {}

  get reservedBytes(): number {
    let total = 0;
    for (const { bytes } of this.reservations.values()) total += bytes;
    return total;
  }

  /** What the versions of one model name hold now. */
  reservedBytesOf(name: string): number {
    let total = 0;
    for (const reservation of this.reservations.values()) if (reservation.name === name) total += reservation.bytes;
    return total;
  }

  /**
   * Reserves what a version is estimated to take (plus its runtime's start-up, the first time), or throws
   * MemoryBudgetExceededError without reserving anything.
   */
  reserve(modelId: string, model: { name: string; version: string; format: ModelFormat }, fileBytes: number): void {
    const runtimeBytes = this.runtimesStarted.has(model.format) ? 0 : estimateRuntimeBytes(model.format, this.workers);
    const versionBytes = estimateVersionBytes(model.format, fileBytes, this.workers);
    const reserved = this.reservedBytes;
    if (this.budgetBytes !== undefined && reserved + runtimeBytes + versionBytes > this.budgetBytes) {
      throw new MemoryBudgetExceededError(`${model.name}@${model.version}`, runtimeBytes + versionBytes, reserved, this.budgetBytes);
    }
    if (runtimeBytes > 0) {
      // A runtime, once started in the workers, stays: its share is never released.
      this.runtimesStarted.add(model.format);
      this.reservations.set(`runtime:${model.format}`, { name: '', bytes: runtimeBytes });
    }
    this.reservations.set(modelId, { name: model.name, bytes: versionBytes });
  }

  release(modelId: string): void {
    this.reservations.delete(modelId);
  }
}
