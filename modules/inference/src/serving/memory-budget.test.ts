import { describe, expect, it } from 'vitest';
import { estimateRuntimeBytes, estimateVersionBytes, MemoryBudget, resolveBudgetBytes } from './memory-budget.js';

const MIB = 2 ** 20;

describe('the memory estimate', () => {
  it('counts a version once per worker, and the runtime once per process plus once per worker', () => {
    expect(estimateVersionBytes('onnx', 2 * MIB, 2)).toBe(22 * MIB);
    expect(estimateVersionBytes('tflite', 2 * MIB, 1)).toBe(28 * MIB);
    expect(estimateRuntimeBytes('onnx', 2)).toBe(52 * MIB);
    expect(estimateRuntimeBytes('tflite', 1)).toBe(130 * MIB);
  });
});

describe('resolveBudgetBytes', () => {
  it('takes a number as MiB, is off when told, and with auto takes 80% of the cgroup limit less the memory at start-up', () => {
    expect(resolveBudgetBytes(512, undefined, 0)).toBe(512 * MIB);
    expect(resolveBudgetBytes('off', 1024 * MIB, 0)).toBeUndefined();
    expect(resolveBudgetBytes('auto', undefined, 100 * MIB)).toBeUndefined();
    expect(resolveBudgetBytes('auto', 1000 * MIB, 100 * MIB)).toBe(700 * MIB);
    expect(resolveBudgetBytes('auto', 100 * MIB, 200 * MIB)).toBe(0);
  });
});

describe('MemoryBudget', () => {
  const onnx = (version: string) => ({ name: 'detector', version, format: 'onnx' as const });

  it('reserves the runtime with the first version of its format, counts both versions of a swap, and releases a version, never the runtime', () => {
    const budget = new MemoryBudget(undefined, 2);
    budget.reserve('detector@1#1', onnx('1'), 2 * MIB);
    expect(budget.reservedBytes).toBe((52 + 22) * MIB);
    budget.reserve('detector@2#2', onnx('2'), 2 * MIB);
    expect(budget.reservedBytesOf('detector')).toBe(44 * MIB);
    budget.release('detector@1#1');
    expect(budget.reservedBytes).toBe((52 + 22) * MIB);
  });

  it('refuses what would exceed the budget, with the figures, and reserves nothing then', () => {
    const budget = new MemoryBudget(100 * MIB, 2);
    budget.reserve('detector@1#1', onnx('1'), 2 * MIB);
    expect(() => budget.reserve('detector@2#2', onnx('2'), 4 * MIB)).toThrow(
      expect.objectContaining({ code: 'MODEL_MEMORY_BUDGET_EXCEEDED', message: 'detector@2 would take an estimated 44 MiB in all workers, and loaded models already take 74 MiB of the 100 MiB memory budget (INFERENCE_MEMORY_BUDGET_MB): not loaded' }),
    );
    expect(budget.reservedBytes).toBe(74 * MIB);
    budget.reserve('detector@2#3', onnx('2'), 1 * MIB);
    expect(budget.reservedBytes).toBe(85 * MIB);
  });
});
