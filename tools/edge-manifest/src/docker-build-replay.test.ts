import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, replayBuildStage } from '@edge-ml/testkit';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * No Docker engine runs here, so the amd64 build stage is replayed on this (amd64) machine: only what its COPY lines
 * bring is in the context, its RUN lines run as written (but the global pnpm install), and the deployed module must
 * start from /out alone.
 */
describe.each(['inference', 'loader'])('the %s image build, replayed', (module) => {
  it('builds from the COPY-ed context alone and the result starts', async () => {
    const out = await replayBuildStage(root, path.join('modules', module, 'Dockerfile.amd64'));
    const work = path.dirname(out);
    const storage = path.join(work, 'storage');
    await mkdir(storage);
    const port = await freePort();
    const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js'], {
      cwd: out,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', STORAGE_ROOT: storage, EDGE_MODE: 'off', INFERENCE_PORT: String(port), INFERENCE_HOST: '127.0.0.1', LOADER_DESIRED_JSON: '{}' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const started = module === 'inference' ? /Server listening/ : /loader\.started/;
      const deadline = Date.now() + 30_000;
      while (!started.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(output, output).toMatch(started);
      if (module === 'inference') {
        expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
        // The web console's static files are part of the deployed package.
        const page = await fetch(`http://127.0.0.1:${port}/`);
        expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
        expect(await page.text()).toContain('<script type="module" src="console.js">');
        expect((await fetch(`http://127.0.0.1:${port}/console.js`)).status).toBe(200);
      }
    } finally {
      child.kill('SIGTERM');
      await rm(work, { recursive: true, force: true });
    }
  }, 240_000);
});
