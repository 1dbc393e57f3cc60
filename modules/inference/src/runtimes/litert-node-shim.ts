import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import vm from 'node:vm';

let shimmed: string | undefined;

/**
 * LiteRT.js expects a browser or web worker: it loads its Emscripten glue with importScripts and reads `self`.
 * This gives it those in Node and returns the directory of its WebAssembly files. Relaxed SIMD is switched on
 * first, so LiteRT picks its fastest build. Log lines from the WebAssembly side go to `log` instead of stdout.
 */
export function installLiteRtNodeShim(log: (line: string) => void): string {
  if (shimmed) return shimmed;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  const require = createRequire(import.meta.url);
  const wasmDirectory = path.join(path.dirname(require.resolve('@litertjs/core/package.json')), 'wasm');
  const scope = globalThis as Record<string, unknown>;
  scope.self ??= globalThis;
  scope.navigator ??= { hardwareConcurrency: 1, userAgent: 'node' };
  scope.Module = { print: log, printErr: log };
  scope.importScripts = (url: string | URL) => {
    const file = url instanceof URL || String(url).startsWith('file:') ? new URL(String(url)).pathname : String(url);
    scope.require = require;
    scope.__filename = file;
    scope.__dirname = path.dirname(file);
    vm.runInThisContext(readFileSync(file, 'utf8'), { filename: file });
  };
  shimmed = `${wasmDirectory}/`;
  return shimmed;
}
