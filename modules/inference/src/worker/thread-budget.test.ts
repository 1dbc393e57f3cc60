import { describe, expect, it } from 'vitest';
import { applyDecodeThreads, planThreadBudget } from './thread-budget.js';

describe('planThreadBudget sizes the threads from the core count', () => {
  it('gives one worker per core with one runtime thread, one job and one decode thread each', () => {
    expect(planThreadBudget(2)).toEqual({ workers: 2, threadsPerWorker: 1, jobsPerWorker: 1, decodeThreads: 2 });
    expect(planThreadBudget(1)).toEqual({ workers: 1, threadsPerWorker: 1, jobsPerWorker: 1, decodeThreads: 1 });
  });

  it('stops at 4 workers by default (each holds every model) and gives the other cores to the runtime threads', () => {
    expect(planThreadBudget(8)).toEqual({ workers: 4, threadsPerWorker: 2, jobsPerWorker: 1, decodeThreads: 4 });
    expect(planThreadBudget(6)).toEqual({ workers: 4, threadsPerWorker: 1, jobsPerWorker: 1, decodeThreads: 4 });
  });

  it('lets every setting win over its default, and derives the rest from the settings given', () => {
    expect(planThreadBudget(8, { INFERENCE_WORKERS: 2 })).toEqual({ workers: 2, threadsPerWorker: 4, jobsPerWorker: 1, decodeThreads: 2 });
    expect(planThreadBudget(2, { INFERENCE_WORKERS: 3, INFERENCE_THREADS_PER_WORKER: 2, INFERENCE_JOBS_PER_WORKER: 2, INFERENCE_DECODE_THREADS: 4 })).toEqual({
      workers: 3,
      threadsPerWorker: 2,
      jobsPerWorker: 2,
      decodeThreads: 4,
    });
  });

  it('treats a fractional or zero core count as at least one core', () => {
    expect(planThreadBudget(0).workers).toBe(1);
    expect(planThreadBudget(2.5).workers).toBe(2);
  });
});

describe('applyDecodeThreads sets UV_THREADPOOL_SIZE before libuv reads it', () => {
  it('sets it from the budget when unset', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(applyDecodeThreads(env, 2)).toBe(2);
    expect(env.UV_THREADPOOL_SIZE).toBe('2');
  });

  it('follows INFERENCE_DECODE_THREADS, then INFERENCE_WORKERS', () => {
    const decode: NodeJS.ProcessEnv = { INFERENCE_DECODE_THREADS: '3', INFERENCE_WORKERS: '1' };
    applyDecodeThreads(decode, 2);
    expect(decode.UV_THREADPOOL_SIZE).toBe('3');
    const workers: NodeJS.ProcessEnv = { INFERENCE_WORKERS: '1' };
    applyDecodeThreads(workers, 8);
    expect(workers.UV_THREADPOOL_SIZE).toBe('1');
  });

  it('leaves an explicit UV_THREADPOOL_SIZE alone, and ignores malformed settings', () => {
    const env: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: '6', INFERENCE_DECODE_THREADS: '2' };
    expect(applyDecodeThreads(env, 2)).toBe(6);
    expect(env.UV_THREADPOOL_SIZE).toBe('6');
    const malformed: NodeJS.ProcessEnv = { INFERENCE_DECODE_THREADS: 'many', INFERENCE_WORKERS: '-1' };
    expect(applyDecodeThreads(malformed, 2)).toBe(2);
  });
});
