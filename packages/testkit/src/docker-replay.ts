/**
 * Replays a module's Dockerfile build stage without Docker (none runs here): only what its COPY lines bring is in the
 * context, its RUN lines run as written (but the global pnpm install, which this machine has already), and the
 * result is the directory the final stage copies to /app. Used by bench/module-size.ts and the image build test.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The build stage's COPY and RUN instructions, continuation lines joined. */
export function buildStage(dockerfile: string): { copies: string[][]; runs: string[] } {
  const stage = dockerfile.split(/^FROM /m)[1] ?? '';
  const lines = stage.replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  return {
    copies: lines.filter((line) => line.startsWith('COPY ')).map((line) => line.slice(5).split(/\s+/)),
    runs: lines.filter((line) => line.startsWith('RUN ')).map((line) => line.slice(4)),
  };
}

/** Builds `dockerfile` (a path relative to `root`) as its build stage would; returns the directory that becomes /app. */
export async function replayBuildStage(root: string, dockerfile: string): Promise<string> {
  const { copies, runs } = buildStage(await readFile(path.join(root, dockerfile), 'utf8'));
  const work = await mkdtemp(path.join(tmpdir(), 'image-replay-'));
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
  return out;
}
