import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@edge-ml/testkit';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');


describe("the README's start command", () => {
  it('builds, starts the inference module as a process, detects objects in the bundled photo and stops cleanly', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs'), '--once', '--port', String(port)], { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(output).toMatch(/\[start\]\s+person\s+0\.8\d/);
    expect(output).toMatch(/\[start\]\s+horse\s+0\.8\d/);
    expect(output).toMatch(/\[start\]\s+dog\s+0\.8\d/);
    expect(output).toContain(`curl -s -X POST -H 'content-type: image/jpeg' --data-binary @`);
    expect(output).toMatch(/\[start\] Azurite's connection string and the emulator's address: \.local-run\/local\.env/);
    expect(output).toContain(`console: http://127.0.0.1:${port}/ in a browser`);
    expect(code).toBe(0);
  }, 120_000);
});
