import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@edge-ml/testkit';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The build stage's COPY and RUN instructions, continuation lines joined. */
function buildStage(dockerfile: string): { copies: string[][]; runs: string[] } {
  const stage = dockerfile.split(/^FROM /m)[1] ?? '';
  const lines = stage.replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  return {
    copies: lines.filter((line) => line.startsWith('COPY ')).map((line) => line.slice(5).split(/\s+/)),
    runs: lines.filter((line) => line.startsWith('RUN ')).map((line) => line.slice(4)),
  };
}


/**
 * No Docker engine runs here, so the amd64 build stage is replayed on this (amd64) machine: only what its COPY lines
 * bring is in the context, its RUN lines run as written (but the global pnpm install), and the deployed module must
 * start from /out alone.
 */
describe.each(['inference', 'loader'])('the %s image build, replayed', (module) => {
  it('builds from the COPY-ed context alone and the result starts', async () => {
    const { copies, runs } = buildStage(await readFile(path.join(root, 'modules', module, 'Dockerfile.amd64'), 'utf8'));
    const work = await mkdtemp(path.join(tmpdir(), `image-${module}-`));
    const context = path.join(work, 'src');
    const out = path.join(work, 'out');
    await mkdir(context);
    for (const parts of copies) {
      const destination = parts[parts.length - 1] ?? './';
      for (const source of parts.slice(0, -1)) {
        const target = destination.endsWith('/') ? path.join(context, destination, path.basename(source)) : path.join(context, destination);
        await cp(path.join(root, source), target, { recursive: true, filter: (file) => !/\/(node_modules|dist)(\/|$)/.test(file) });
      }
    }
    for (const command of runs.filter((command) => !command.startsWith('npm install --global pnpm'))) {
      execFileSync('sh', ['-c', command.replaceAll('/out', out)], { cwd: context, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', CI: 'true' }, stdio: 'pipe' });
    }
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
