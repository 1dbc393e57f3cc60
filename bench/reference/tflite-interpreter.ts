/**
 * The TensorFlow Lite interpreter compiled to WebAssembly (`@tensorflow/tfjs-tflite`), run in Node with the shims
 * its browser loader needs: a worker-like global (`self`, `location`, `importScripts`), `fetch` of local files, and
 * the single-threaded SIMD build (the threaded one needs Web Workers), copied under the file name the loader asks for.
 * An interpreter independent of the LiteRT.js runtime the server uses, for the reference check only.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import type * as TfCore from '@tensorflow/tfjs-core';
import type * as TfLite from '@tensorflow/tfjs-tflite';

const require = createRequire(import.meta.url);

export interface TfliteOutputs {
  [name: string]: Float32Array | Int32Array | Uint8Array;
}

export interface TfliteInterpreter {
  inputs: { name: string; shape: number[]; dtype: string }[];
  run(input: Uint8Array, shape: number[]): TfliteOutputs;
}

/** Loads a .tflite file into the WebAssembly TFLite interpreter (one thread). */
export async function loadTfliteInterpreter(modelPath: string): Promise<TfliteInterpreter> {
  const tf = require('@tensorflow/tfjs-core') as typeof TfCore;
  require('@tensorflow/tfjs-backend-cpu');
  const tflite = require('@tensorflow/tfjs-tflite') as typeof TfLite;
  const wasmDirectory = path.join(path.dirname(require.resolve('@tensorflow/tfjs-tflite/package.json')), 'wasm');
  const staged = mkdtempSync(path.join(tmpdir(), 'tflite-wasm-'));
  for (const name of ['tflite_web_api_cc_simd_threaded.js', 'tflite_web_api_cc_simd.js']) copyFileSync(path.join(wasmDirectory, 'tflite_web_api_cc_simd.js'), path.join(staged, name));
  copyFileSync(path.join(wasmDirectory, 'tflite_web_api_cc_simd.wasm'), path.join(staged, 'tflite_web_api_cc_simd.wasm'));

  const global = globalThis as Record<string, unknown>;
  const saved = { fetch: global.fetch, MessageChannel: global.MessageChannel };
  global.self = globalThis;
  global.location = { origin: '', href: `${staged}/` };
  global.importScripts = (file: string) => vm.runInThisContext(readFileSync(file, 'utf8'), { filename: file });
  const realFetch = globalThis.fetch;
  global.fetch = async (url: string | URL, init?: RequestInit) =>
    String(url).startsWith('/') ? new Response(readFileSync(String(url)), { headers: { 'content-type': 'application/wasm' } }) : realFetch(url, init);
  // The loader probes for threads by posting a SharedArrayBuffer; failing the probe keeps it single-threaded.
  global.MessageChannel = class {
    port1 = {
      postMessage() {
        throw new Error('single-threaded');
      },
    };
  };
  try {
    tflite.setWasmPath(`${staged}/`);
    const bytes = readFileSync(modelPath);
    const model = await tflite.loadTFLiteModel(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), { numThreads: 1 });
    return {
      inputs: model.inputs.map((info) => ({ name: info.name, shape: info.shape ?? [], dtype: info.dtype })),
      run(input, shape) {
        const tensor = tf.tensor(Int32Array.from(input), shape, 'int32');
        // tfjs has no uint8 tensors and warns each time it narrows int32 for a uint8 input.
        const warn = console.warn;
        console.warn = () => undefined;
        let result: Record<string, TfCore.Tensor>;
        try {
          result = model.predict(tensor) as Record<string, TfCore.Tensor>;
        } finally {
          console.warn = warn;
        }
        tensor.dispose();
        const outputs: TfliteOutputs = {};
        for (const [name, value] of Object.entries(result)) {
          outputs[name] = value.dataSync() as Float32Array;
          value.dispose();
        }
        return outputs;
      },
    };
  } finally {
    global.fetch = saved.fetch;
    global.MessageChannel = saved.MessageChannel;
    // The loader has read the script and the WebAssembly by now.
    rmSync(staged, { recursive: true, force: true });
  }
}
