import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RESIZE_LINEAR_SIMD_WASM } from './resize-linear-simd.wasm.js';
import { simdAvailable } from './resize-linear-simd.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const hasWat2wasm = spawnSync('wat2wasm', ['--version']).status === 0;

describe('the WebAssembly resize kernel', () => {
  it('compiles and runs on this engine', () => {
    expect(Buffer.from(RESIZE_LINEAR_SIMD_WASM, 'base64').subarray(0, 4).toString('latin1')).toBe('\0asm');
    expect(simdAvailable()).toBe(true);
  });

  // The bytes the module loads are what the committed source assembles to (needs wabt: apt-get install -y wabt).
  it.skipIf(!hasWat2wasm)('is what resize-linear-simd.wat assembles to', () => {
    expect(() => execFileSync(process.execPath, [path.join(root, 'scripts', 'build-resize-wasm.mjs'), '--check'], { cwd: root, stdio: 'pipe' })).not.toThrow();
  });
  if (!hasWat2wasm) console.log('skipped the check of the resize kernel against its source: wat2wasm is not installed (Debian package wabt; .ci/run installs it)');
});
