import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxModelRuntime, fallbackList } from '../src/runtimes/onnx-runtime.js';
import { modelFile } from './testdata.js';

describe('ONNX Runtime execution providers as a fallback list', () => {
  it('keeps the configured order, drops duplicates and always ends on cpu', () => {
    expect(fallbackList(['cuda', 'cpu'])).toEqual(['cuda', 'cpu']);
    expect(fallbackList(['CUDA', ' tensorrt ', 'cuda'])).toEqual(['cuda', 'tensorrt', 'cpu']);
    expect(fallbackList(['cpu', 'cuda'])).toEqual(['cuda', 'cpu']);
    expect(fallbackList([])).toEqual(['cpu']);
  });

  it('skips a provider the device cannot use, says why, and loads the model on the next one', async () => {
    const runtime = await OnnxModelRuntime.load(modelFile('yolox_nano.onnx'), { executionProviders: ['cuda', 'cpu'], threads: 1 });
    try {
      // The CPU build ships without libonnxruntime_providers_shared/CUDA; on a CUDA device the first one is used.
      const cudaUsable = runtime.providers.used[0] === 'cuda';
      if (cudaUsable) expect(runtime.providers.skipped).toEqual([]);
      else {
        expect(runtime.providers.used).toEqual(['cpu']);
        expect(runtime.providers.skipped).toEqual([{ name: 'cuda', reason: expect.stringMatching(/cuda|shared librar/i) }]);
      }
      expect(runtime.signature.inputs[0]?.shape).toEqual([1, 3, 416, 416]);
    } finally {
      await runtime.dispose();
    }
  });

  it('blames the model, by file name only, when even cpu cannot load it', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'providers-'));
    const junk = path.join(directory, 'junk.onnx');
    await writeFile(junk, Buffer.from('not a model at all'));
    const failure = OnnxModelRuntime.load(junk, { executionProviders: ['cuda', 'cpu'], threads: 1 });
    await expect(failure).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringMatching(/^model could not be loaded: ONNX Runtime rejected junk\.onnx: /) });
    const message = await failure.catch((error: Error) => error.message);
    expect(message).not.toContain(directory);
    expect(existsSync(junk)).toBe(true);
  });
});
